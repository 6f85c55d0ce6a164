"""The seeded sample of test users: stable, shared by every model, reported, optional."""

import numpy as np
import pandas as pd
import pytest

from musicrec_core import evaluation as ev
from musicrec_core import metrics as m
from musicrec_core.data import COLD_TRACK, COLD_USER, TEST, TRAIN
from musicrec_core.data import schema as s
from musicrec_core.models import ItemKNN, Popularity

N_TRACKS = 40


def _split(n_users: int = 120, prefix: str = "u", seed: int = 1) -> pd.DataFrame:
    """Each user plays 8 tracks, 6 in training and 2 held out; a few cold users and tracks."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_users):
        user = f"{prefix}{i:04d}"
        tracks = rng.choice(N_TRACKS - 2, size=8, replace=False)
        labels = [COLD_USER] * 8 if i % 10 == 0 else [TRAIN] * 6 + [TEST] * 2
        rows += [(user, f"t{t:03d}", label) for t, label in zip(tracks, labels, strict=True)]
        if i % 7 == 0:
            rows.append((user, f"t{N_TRACKS - 1 - i % 2:03d}", COLD_TRACK))
    frame = pd.DataFrame(rows, columns=[s.USER_ID, s.TRACK_ID, s.SPLIT])
    frame[s.PLAYS] = rng.integers(1, 20, len(frame))
    return frame


def _catalogues(split: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    users = pd.DataFrame({s.USER_ID: np.sort(split[s.USER_ID].unique())})
    tracks = pd.DataFrame(
        {
            s.TRACK_ID: [f"t{t:03d}" for t in range(N_TRACKS)],
            s.GENRE: [("rock", "pop", "jazz")[t % 3] for t in range(N_TRACKS)],
            s.ARTIST_NAME: [f"a{t % 9}" for t in range(N_TRACKS)],
        }
    )
    return users, tracks


def _data(split: pd.DataFrame, **kwargs) -> ev.EvaluationData:
    return ev.EvaluationData.from_split(split, *_catalogues(split), **kwargs)


def _compare(split: pd.DataFrame, eval_users: int | None, **kwargs) -> ev.Comparison:
    return ev.evaluate_models(
        split,
        *_catalogues(split),
        ["popularity", "item_knn"],
        eval_users=eval_users,
        n_boot=200,
        **kwargs,
    )


def test_the_sample_is_seeded_and_the_same_on_every_run():
    warm = _data(_split()).test_sets[ev.WARM]
    first = ev.sample_test_set(warm, 30, seed=0)
    assert len(first.user_ids) == 30 and first.population == len(warm.user_ids) > 30
    assert set(first.user_ids) <= set(warm.user_ids)
    assert list(first.user_ids) == sorted(first.user_ids)
    again = ev.sample_test_set(_data(_split()).test_sets[ev.WARM], 30, seed=0)
    assert first.user_ids.tolist() == again.user_ids.tolist()
    other_seed = ev.sample_test_set(warm, 30, seed=1)
    assert first.user_ids.tolist() != other_seed.user_ids.tolist()


def test_a_sampled_user_keeps_their_own_relevant_tracks_and_exclusions():
    warm = _data(_split()).test_sets[ev.WARM]
    sample = ev.sample_test_set(warm, 25, seed=3)
    for row, user in enumerate(sample.user_ids):
        whole = int(np.flatnonzero(warm.user_ids == user)[0])
        np.testing.assert_array_equal(sample.relevant[row], warm.relevant[whole])
        np.testing.assert_array_equal(sample.gains[row], warm.gains[whole])
        np.testing.assert_array_equal(
            sample.candidates(slice(row, row + 1)), warm.candidates(slice(whole, whole + 1))
        )


def test_new_users_never_push_an_old_user_into_the_sample():
    old = _split(120)
    grown = pd.concat([old, _split(60, prefix="v", seed=2)], ignore_index=True)
    before = set(ev.sample_test_set(_data(old).test_sets[ev.WARM], 30).user_ids)
    after = ev.sample_test_set(_data(grown).test_sets[ev.WARM], 30).user_ids
    old_users_after = {u for u in after if u.startswith("u")}
    assert old_users_after <= before and len(old_users_after) < 30


def test_every_model_is_measured_on_the_same_sampled_users():
    comparison = _compare(_split(), eval_users=20)
    per_user = comparison.result.per_user
    for test_set, rows in per_user.groupby(ev.TEST_SET):
        users = rows.groupby(s.MODEL_NAME)[s.USER_ID].apply(frozenset)
        assert users.nunique() == 1, test_set
        assert len(users.iloc[0]) == comparison.users[test_set]["sample"]
    paired = ev.paired_differences(per_user, "item_knn", n_boot=100)
    assert (paired[m.N_USERS] <= 20).all() and len(paired)


def test_the_summary_and_the_comparison_report_sample_and_population_sizes():
    split = _split()
    data = _data(split, cold_user_given=3)
    comparison = _compare(split, eval_users=20, cold_user_given=3)
    summary = comparison.result.summary
    assert set(comparison.users) == set(ev.TEST_SETS)
    for name, test in data.test_sets.items():
        expected = {"sample": min(20, len(test.user_ids)), "population": len(test.user_ids)}
        assert comparison.users[name] == expected
        rows = summary[summary[ev.TEST_SET] == name]
        assert set(rows[ev.SAMPLE_USERS]) == {expected["sample"]}
        assert set(rows[ev.POPULATION_USERS]) == {expected["population"]}
        assert (rows[m.N_USERS] <= expected["sample"]).all()
    assert summary.loc[summary[ev.TEST_SET] == ev.WARM, ev.POPULATION_USERS].iloc[0] > 20


def test_the_intervals_are_the_sample_s_and_wider_than_the_population_s():
    split = _split(400)
    sampled = _compare(split, eval_users=40).result.summary
    whole = _compare(split, eval_users=None).result.summary

    def width(summary: pd.DataFrame) -> float:
        row = summary[
            (summary[s.MODEL_NAME] == "item_knn")
            & (summary[ev.TEST_SET] == ev.WARM)
            & (summary[m.METRIC] == m.NDCG)
            & (summary[m.K] == 10)
        ].iloc[0]
        return row[m.CI_HIGH] - row[m.CI_LOW]

    assert width(sampled) > 1.5 * width(whole)


@pytest.mark.parametrize("everyone", [None, 0, 10_000])
def test_the_whole_population_is_the_unsampled_protocol(everyone):
    split = _split()
    data = _data(split)
    models = {
        "popularity": Popularity().fit(data.train),
        "item_knn": ItemKNN().fit(data.train),
    }
    unsampled = ev.compare(models, data, n_boot=200).summary
    summary = _compare(split, eval_users=everyone).result.summary
    pd.testing.assert_frame_equal(summary, unsampled)
    assert (summary[ev.SAMPLE_USERS] == summary[ev.POPULATION_USERS]).all()


def test_a_negative_sample_size_is_refused():
    warm = _data(_split()).test_sets[ev.WARM]
    with pytest.raises(ValueError, match="eval_users"):
        ev.sample_test_set(warm, -5)


def test_the_promotion_gate_reads_a_sampled_summary():
    summary = _compare(_split(), eval_users=20).result.summary
    scores = ev.warm_ndcg(summary)
    assert set(scores.index) == {"popularity", "item_knn"}
    decision = ev.decide_promotion(summary, "item_knn", "v1", served=None)
    assert decision.promote == (scores["item_knn"] > scores["popularity"])
    assert decision.score == pytest.approx(scores["item_knn"])
