import math

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from musicrec_core import metrics as m
from musicrec_core.data import schema as s
from musicrec_core.models import top_k

LOG2_3 = math.log2(3)


def test_binary_ndcg_precision_recall_f1_by_hand():
    ranked, relevant = ["a", "b", "c"], {"a", "c"}
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3)
    assert m.ndcg_at_k(ranked, relevant, 3) == pytest.approx(1.5 / (1 + 1 / LOG2_3))
    assert m.precision_at_k(ranked, relevant, 3) == pytest.approx(2 / 3)
    assert m.recall_at_k(ranked, relevant, 3) == 1.0
    assert m.f1_at_k(ranked, relevant, 3) == pytest.approx(0.8)  # 2 * (2/3) * 1 / (5/3)
    # at k=2 only "a" hits: DCG = 1, IDCG = 1 + 1/log2(3)
    assert m.ndcg_at_k(ranked, relevant, 2) == pytest.approx(1 / (1 + 1 / LOG2_3))
    assert m.precision_at_k(ranked, relevant, 2) == 0.5
    assert m.recall_at_k(ranked, relevant, 2) == 0.5
    assert m.f1_at_k(ranked, relevant, 2) == 0.5


def test_graded_ndcg_uses_gains_and_the_ideal_order():
    # DCG = 1/log2(2) + 3/log2(4) = 2.5; IDCG = 3/log2(2) + 1/log2(3)
    got = m.ndcg_at_k(["a", "b", "c"], {"a": 1.0, "c": 3.0}, 3)
    assert got == pytest.approx(2.5 / (3 + 1 / LOG2_3))
    # IDCG is truncated at k: only the best gain fits at k=1
    assert m.ndcg_at_k(["c"], {"a": 1.0, "c": 3.0}, 1) == 1.0


def test_users_without_relevant_items_are_nan_and_left_out_of_the_mean():
    for metric in (m.ndcg_at_k, m.precision_at_k, m.recall_at_k, m.f1_at_k):
        assert math.isnan(metric(["a"], set(), 5))
    per_user = pd.DataFrame({s.USER_ID: [0, 1], m.K: 5, m.NDCG: [1.0, np.nan]})
    row = m.summarise(per_user, metrics=[m.NDCG], n_boot=50).iloc[0]
    assert row[m.MEAN] == 1.0 and row[m.N_USERS] == 1


def test_fewer_candidates_than_k_keeps_k_as_the_precision_denominator():
    ranked, relevant = ["a", None], {"a", "b"}
    assert m.precision_at_k(ranked, relevant, 5) == pytest.approx(1 / 5)
    assert m.recall_at_k(ranked, relevant, 5) == 0.5
    assert m.ndcg_at_k(ranked, relevant, 5) == pytest.approx(1 / (1 + 1 / LOG2_3))


def test_batch_metrics_match_the_per_user_functions():
    recommended = np.array([[0, 1, 2], [3, -1, -1], [0, 1, 2]])
    relevant = [np.array([0, 2]), np.array([3, 4]), np.array([], dtype=np.int64)]
    gains = [np.array([1.0, 3.0]), np.array([2.0, 2.0]), np.array([])]
    frame = m.evaluate_lists(recommended, relevant, gains, ks=(2, 3))
    assert len(frame) == 6 and list(frame.columns) == [s.USER_ID, m.K, *m.PER_USER_METRICS]
    for (user, k), row in frame.set_index([s.USER_ID, m.K]).iterrows():
        ranked = [t if t >= 0 else None for t in recommended[user]]
        rel = set(relevant[user].tolist())
        graded = dict(zip(relevant[user].tolist(), gains[user].tolist(), strict=True))
        expected = {
            m.NDCG: m.ndcg_at_k(ranked, rel, k),
            m.NDCG_GRADED: m.ndcg_at_k(ranked, graded, k),
            m.PRECISION: m.precision_at_k(ranked, rel, k),
            m.RECALL: m.recall_at_k(ranked, rel, k),
            m.F1: m.f1_at_k(ranked, rel, k),
        }
        for name, value in expected.items():
            assert row[name] == pytest.approx(value, nan_ok=True), (user, k, name)
    # without gains, graded NDCG is binary NDCG
    plain = m.evaluate_lists(recommended, relevant, None, ks=(3,))
    np.testing.assert_array_equal(plain[m.NDCG_GRADED], plain[m.NDCG])


def test_tied_scores_rank_deterministically():
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1]])
    first, _ = top_k(scores, 3)
    again, _ = top_k(scores.copy(), 3)
    np.testing.assert_array_equal(first, again)
    assert first[0].tolist() == [1, 0, 2]  # among equal scores the lower column, at the cut too
    frame = m.evaluate_lists(first, [np.array([1, 0])], ks=(3,))
    pd.testing.assert_frame_equal(frame, m.evaluate_lists(again, [np.array([1, 0])], ks=(3,)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_top_k_equals_a_stable_full_sort_whatever_the_ties(dtype):
    rng = np.random.default_rng(7)
    for distinct in (2, 5, 1000):
        scores = rng.integers(0, distinct, (40, 300)).astype(dtype)
        for k in (1, 7, 300):
            idx, values = top_k(scores, k)
            expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            np.testing.assert_array_equal(idx, expected)
            np.testing.assert_array_equal(values, np.take_along_axis(scores, expected, axis=1))


def test_top_k_ranks_nan_below_every_number():
    scores = np.array([[np.nan, 0.2, -np.inf, np.nan, 0.1]])
    idx, values = top_k(scores, 4)
    assert idx[0].tolist() == [1, 4, 2, 0]
    assert values[0, :3].tolist() == [0.2, 0.1, -np.inf] and np.isnan(values[0, 3])


def test_ils_same_and_different_genres():
    genre = {"a": "rock", "b": "rock", "c": "pop", "d": None}
    similarity = m.same_attribute(genre)
    assert m.ils_at_k(["a", "b"], similarity) == 1.0
    assert m.ils_at_k(["a", "c"], similarity) == 0.0
    assert m.ils_at_k(["a", "b", "c"], similarity) == pytest.approx(1 / 3)
    assert m.ils_at_k(["a", "b", "c"], similarity, k=2) == 1.0
    assert m.ils_at_k(["d", "d"], similarity) == 0.0  # a missing genre is similar to nothing
    assert math.isnan(m.ils_at_k(["a", None], similarity))

    track_codes = np.array([0, 0, 1, m.MISSING_CODE])  # a, b, c, d
    recommended = np.array([[0, 1, -1], [0, 2, -1], [0, 1, 2], [3, 3, 0], [0, -1, -1]])
    codes = m.slot_codes(recommended, track_codes)
    assert codes[0].tolist() == [0, 0, m.EMPTY_SLOT]
    np.testing.assert_allclose(m.ils_codes(codes), [1.0, 0.0, 1 / 3, 0.0, np.nan])
    assert m.distinct_count(codes).tolist() == [1, 2, 2, 1, 1]


def test_attribute_codes_treat_empty_and_unknown_as_missing():
    codes = m.attribute_codes(pd.Series(["Rock", " rock", "", None, "Unknown"]), ("", "Unknown"))
    assert codes[0] == codes[1] >= 0
    assert codes[2:].tolist() == [m.MISSING_CODE] * 3


def test_catalogue_coverage():
    assert m.catalogue_coverage(np.array([[0, 1], [1, -1]]), 10) == pytest.approx(0.2)
    ids = np.array([["a", "b"], ["b", None]], dtype=object)
    assert m.catalogue_coverage(ids, 4) == 0.5


def test_novelty_is_mean_self_information():
    # 4 users, one without plays: 3 training users; track 0 played by all 3, track 1 by one,
    # track 2 by nobody (p = 1 / (3 + 1))
    played = sparse.csr_matrix(np.array([[1, 1, 0], [2, 0, 0], [1, 0, 0], [0, 0, 0]]))
    p = m.play_probability(played)
    np.testing.assert_allclose(p, [1.0, 1 / 3, 1 / 4])
    got = m.novelty(np.array([[0, 1, 2], [2, -1, -1], [-1, -1, -1]]), p)
    np.testing.assert_allclose(got, [(0 + LOG2_3 + 2) / 3, 2.0, np.nan])


def test_pr_curve_by_hand():
    curve = m.pr_curve(np.array([[0, 1, 2], [5, 5, 5]]), [np.array([0, 2]), np.array([])], 3)
    np.testing.assert_allclose(curve[m.PRECISION], [1.0, 0.5, 2 / 3])
    np.testing.assert_allclose(curve[m.RECALL], [0.5, 0.5, 1.0])


def test_bootstrap_ci_contains_mean_is_seeded_and_narrows_with_more_users():
    rng = np.random.default_rng(1)
    few, many = rng.normal(size=30), rng.normal(size=3000)
    mean, low, high = m.bootstrap_ci(few, n_boot=500, seed=3)
    assert low <= mean <= high and mean == pytest.approx(few.mean())
    assert m.bootstrap_ci(few, n_boot=500, seed=3) == (mean, low, high)
    _, wide_low, wide_high = m.bootstrap_ci(many, n_boot=500, seed=3)
    assert wide_high - wide_low < high - low
    assert m.bootstrap_ci(np.array([1.0, np.nan, 3.0]), n_boot=20)[0] == 2.0
    assert all(math.isnan(v) for v in m.bootstrap_ci(np.array([np.nan])))


def test_summarise_is_a_long_table():
    per_user = m.evaluate_lists(
        np.array([[0, 1], [1, 0]]), [np.array([0]), np.array([0])], ks=(1, 2)
    )
    table = m.summarise(per_user, n_boot=20)
    assert list(table.columns) == m.SUMMARY_COLUMNS
    assert len(table) == 2 * len(m.PER_USER_METRICS)
    ndcg = table[(table[m.METRIC] == m.NDCG) & (table[m.K] == 1)].iloc[0]
    assert ndcg[m.MEAN] == 0.5 and ndcg[m.N_USERS] == 2


def test_ndcg_of_rows_matches_the_per_user_function():
    rng = np.random.default_rng(4)
    top = np.stack([rng.permutation(30)[:10] for _ in range(12)])
    dense = rng.random((12, 30)) < 0.15
    dense[3] = False  # a user with nothing relevant
    relevant = sparse.csr_matrix(dense)
    got = m.ndcg_of_rows(top, relevant)
    for row in range(12):
        wanted = set(relevant[row].indices)
        expected = m.ndcg_at_k(list(top[row]), wanted, 10) if wanted else float("nan")
        np.testing.assert_allclose(got[row], expected, equal_nan=True)
    assert np.isnan(got[3])
