import logging

import numpy as np
import pandas as pd
import pytest

from musicrec_core import evaluation as ev
from musicrec_core import metrics as m
from musicrec_core.data import COLD_TRACK, COLD_USER, TEST, TRAIN, VALIDATION
from musicrec_core.data import schema as s
from musicrec_core.models import Popularity, Recommender, TrainingData

TRACKS = ["t1", "t2", "t3", "t4", "t5", "t6", "t7"]  # t6 is cold; t7 nobody played
ROWS = [
    ("u1", "t1", TRAIN),
    ("u1", "t2", TRAIN),
    ("u1", "t3", VALIDATION),
    ("u1", "t4", TEST),
    ("u1", "t6", COLD_TRACK),
    ("u2", "t1", TRAIN),
    ("u2", "t3", TRAIN),
    ("u2", "t2", TEST),
    ("u2", "t5", TEST),
    ("u3", "t2", TRAIN),
    ("u3", "t4", TRAIN),
    ("u3", "t1", TEST),
    ("u4", "t3", TRAIN),
    ("u4", "t4", TRAIN),
    ("u5", "t3", TRAIN),
    ("u5", "t4", TRAIN),
    ("c1", "t5", COLD_USER),
    ("c1", "t1", COLD_USER),
    ("c1", "t2", COLD_USER),
    ("c1", "t6", COLD_TRACK),
]


def _split(rows=ROWS) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[s.USER_ID, s.TRACK_ID, s.SPLIT])
    frame[s.PLAYS] = np.arange(1, len(frame) + 1)
    frame[s.PLAYED_AT] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame.index, unit="D")
    return frame


def _catalogues() -> tuple[pd.DataFrame, pd.DataFrame]:
    users = pd.DataFrame({s.USER_ID: ["u1", "u2", "u3", "u4", "u5", "c1"]})
    tracks = pd.DataFrame(
        {
            s.TRACK_ID: TRACKS,
            s.GENRE: ["rock", "rock", "pop", "Unknown", "pop", "jazz", "rock"],
            s.ARTIST_NAME: ["A", "A", "B", "", "C", "D", "E"],
        }
    )
    return users, tracks


def _data(split=None, given=0) -> ev.EvaluationData:
    users, tracks = _catalogues()
    return ev.EvaluationData.from_split(
        _split() if split is None else split, users, tracks, cold_user_given=given
    )


class Oracle(Recommender):
    """Scores held-out tracks by their plays and every other track 0 (it peeks at the split)."""

    name = "oracle"
    test_sets = (ev.WARM, COLD_USER, COLD_TRACK)

    def __init__(self, split: pd.DataFrame) -> None:
        held_out = split[~split[s.SPLIT].isin([TRAIN, VALIDATION])]
        self.held_out = {
            user: dict(zip(rows[s.TRACK_ID], rows[s.PLAYS], strict=True))
            for user, rows in held_out.groupby(s.USER_ID)
        }

    def _fit(self, data: TrainingData) -> None:
        self.track_ids = data.matrix.track_ids

    def score(self, user_ids: np.ndarray) -> np.ndarray:
        return np.array(
            [[float(self.held_out.get(u, {}).get(t, 0)) for t in self.track_ids] for u in user_ids]
        )


class OracleWithHistory(Oracle):
    """The oracle, also able to recommend from plays given at recommendation time."""

    def recommend_with_history(self, user_ids, histories, k):
        self.seen_histories = histories
        return self.recommend(user_ids, k)


def _candidates(test: ev.TestSet, user: str) -> set[str]:
    row = int(np.flatnonzero(test.user_ids == user)[0])
    mask = test.candidates(slice(row, row + 1))[0]
    return {TRACKS[i] for i in np.flatnonzero(mask)}


def test_warm_candidates_exclude_training_validation_and_cold_tracks():
    data = _data()
    warm = data.test_sets[ev.WARM]
    assert warm.user_ids.tolist() == ["u1", "u2", "u3"]
    assert _candidates(warm, "u1") == {"t4", "t5", "t7"}
    assert _candidates(warm, "u2") == {"t2", "t4", "t5", "t7"}
    assert [[TRACKS[i] for i in r] for r in warm.relevant] == [["t4"], ["t2", "t5"], ["t1"]]
    np.testing.assert_allclose(warm.gains[0], [np.log1p(4)])


def test_cold_sets_rank_the_right_candidates():
    data = _data()
    cold_user = data.test_sets[COLD_USER]
    assert cold_user.user_ids.tolist() == ["c1"]
    assert _candidates(cold_user, "c1") == set(TRACKS) - {"t6"}
    cold_track = data.test_sets[COLD_TRACK]
    assert cold_track.user_ids.tolist() == ["c1", "u1"]
    assert _candidates(cold_track, "u1") == {"t6"} == _candidates(cold_track, "c1")


def test_cold_user_given_plays_are_history_not_targets():
    data = _data(given=1)
    given = data.test_sets[ev.COLD_USER_GIVEN]
    assert given.user_ids.tolist() == ["c1"]
    assert given.history[s.TRACK_ID].tolist() == ["t5"]  # earliest play
    assert {TRACKS[i] for i in given.relevant[0]} == {"t1", "t2"}
    assert "t5" not in _candidates(given, "c1")
    cold_user = data.test_sets[COLD_USER]  # the same users, with nothing given
    assert cold_user.history.empty
    assert {TRACKS[i] for i in cold_user.relevant[0]} == {"t1", "t2", "t5"}
    undated = _data(_split().drop(columns=[s.PLAYED_AT]), given=2)
    assert len(undated.test_sets[ev.COLD_USER_GIVEN].history) == 2
    assert len(_data().test_sets[ev.COLD_USER_GIVEN].user_ids) == 0  # nothing given: no set


def test_oracle_is_perfect_and_popularity_is_worse():
    data = _data()
    oracle = Oracle(_split()).fit(data.train)
    result = ev.compare(
        {"oracle": oracle, "popularity": Popularity().fit(data.train)}, data, n_boot=50
    )
    summary = result.summary.set_index([s.MODEL_NAME, ev.TEST_SET, m.METRIC, m.K])[m.MEAN]
    for test_set in (ev.WARM, COLD_USER, COLD_TRACK):
        assert summary["oracle", test_set, m.NDCG, 5] == pytest.approx(1.0)
        assert summary["oracle", test_set, m.NDCG_GRADED, 5] == pytest.approx(1.0)
        assert summary["oracle", test_set, m.RECALL, 5] == pytest.approx(1.0)
        ndcg = summary["popularity", test_set, m.NDCG, 5]
        assert ndcg <= summary["oracle", test_set, m.NDCG, 5]
    assert summary["popularity", ev.WARM, m.NDCG, 5] < 1.0
    assert list(result.summary.columns) == ev.SUMMARY_COLUMNS
    assert list(result.per_user.columns) == ev.PER_USER_COLUMNS
    assert list(result.pr_curve.columns) == ev.PR_CURVE_COLUMNS
    assert result.pr_curve[m.K].max() == 20
    samples = result.score_samples
    assert list(samples.columns) == ev.SCORE_SAMPLE_COLUMNS
    oracle_samples = samples[samples[s.MODEL_NAME] == "oracle"]
    assert (oracle_samples.loc[oracle_samples[ev.RELEVANT], s.SCORE] > 0).all()
    assert (oracle_samples.loc[~oracle_samples[ev.RELEVANT], s.SCORE] == 0).all()
    coverage = summary["oracle", COLD_TRACK, m.COVERAGE, 5]
    assert coverage == 1.0  # the one cold track


def test_results_are_identical_across_runs():
    data = _data()
    model = Popularity().fit(data.train)
    first = ev.evaluate(model, data, n_boot=100, batch_users=2)
    second = ev.evaluate(model, data, n_boot=100, batch_users=2)
    for name in ("summary", "per_user", "score_samples", "pr_curve"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))


def test_a_test_set_without_users_is_skipped(caplog):
    no_cold_users = _split([r for r in ROWS if r[2] != COLD_USER])
    data = _data(no_cold_users)
    with caplog.at_level(logging.INFO, logger="musicrec_core.evaluation.rankings"):
        result = ev.evaluate(Popularity().fit(data.train), data, n_boot=20)
    assert set(result.summary[ev.TEST_SET]) == {ev.WARM, COLD_TRACK}
    assert "skipping cold_user" in caplog.text


def test_given_plays_need_a_model_that_takes_history(caplog):
    data = _data(given=1)
    with caplog.at_level(logging.WARNING, logger="musicrec_core.evaluation.rankings"):
        result = ev.evaluate(Oracle(_split()).fit(data.train), data, n_boot=20)
    assert set(result.summary[ev.TEST_SET]) == {ev.WARM, COLD_USER, COLD_TRACK}
    assert "recommend_with_history" in caplog.text
    model = OracleWithHistory(_split()).fit(data.train)
    result = ev.evaluate(model, data, test_sets=[ev.COLD_USER_GIVEN], n_boot=20)
    summary = result.summary.set_index([m.METRIC, m.K])[m.MEAN]
    assert summary[m.NDCG, 5] == pytest.approx(1.0)
    assert model.seen_histories[s.TRACK_ID].tolist() == ["t5"]


def test_comparison_table_and_markdown():
    data = _data()
    models = {"oracle": Oracle(_split()).fit(data.train), "pop": Popularity().fit(data.train)}
    table = ev.comparison_table(ev.compare(models, data, n_boot=20).summary, k=5)
    assert list(table.columns) == [s.MODEL_NAME, ev.TEST_SET] + [
        f"{metric}@5" for metric in ev.TABLE_METRICS
    ]
    assert len(table) == 6 and table[s.MODEL_NAME].tolist()[:3] == ["oracle"] * 3
    assert table.loc[0, "ndcg@5"] == "1.000 [1.000, 1.000]"
    assert table.loc[0, "coverage@5"].count("[") == 0
    text = ev.to_markdown(table)
    lines = text.splitlines()
    assert lines[0].startswith("| model_name | test_set | ndcg@5")
    assert lines[1].startswith("|---|") and len(lines) == 8
    assert "| oracle | warm | 1.000 [1.000, 1.000] |" in text


def test_a_model_is_only_measured_on_the_test_sets_it_serves():
    class WarmOnly(Popularity):
        name = "warm_only"
        test_sets = (ev.WARM,)

    data = _data()
    model = WarmOnly().fit(data.train)
    result = ev.evaluate(model, data, n_boot=20)
    assert set(result.summary[ev.TEST_SET]) == {ev.WARM}


def test_paired_differences_pair_users_and_skip_sets_a_model_lacks():
    per_user = pd.DataFrame(
        {
            s.MODEL_NAME: ["a", "a", "a", "b", "b", "b", "a"],
            ev.TEST_SET: ["warm", "warm", "warm", "warm", "warm", "warm", "cold_user"],
            s.USER_ID: ["u1", "u2", "u3", "u1", "u2", "u3", "u9"],
            m.K: 10,
            m.NDCG: [0.5, 0.2, 0.9, 0.4, 0.1, 0.8, 0.3],
        }
    )
    out = ev.paired_differences(per_user, "a", n_boot=200)
    assert out[ev.TEST_SET].tolist() == ["warm"]  # b never served cold_user
    row = out.iloc[0]
    assert row["other_model"] == "b" and row[m.N_USERS] == 3
    # every user gains exactly 0.1, so every resample does: the interval is the point
    assert row[m.MEAN] == pytest.approx(0.1) and row[m.CI_LOW] == pytest.approx(0.1)
    assert row[m.CI_HIGH] == pytest.approx(0.1)
