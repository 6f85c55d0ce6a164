"""The promotion gate: a candidate is served only when its warm NDCG@10 beats every baseline and
stays within the tolerance of the served model's recorded score."""

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from musicrec_core import metrics as m
from musicrec_core.data import COLD_USER
from musicrec_core.data import schema as s
from musicrec_core.evaluation import (
    CANDIDATE_SCORE,
    PASSED,
    REASON,
    SCORE,
    SUMMARY_COLUMNS,
    TEST_SET,
    VERSION,
    WARM,
    ServedModel,
    decide_promotion,
    read_served,
    warm_ndcg,
    write_served,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HYBRID = "hybrid"


def _summary(warm_scores: dict[str, float]) -> pd.DataFrame:
    """An evaluation summary with the given warm NDCG@10 per model, plus rows the gate must
    ignore: other test sets, other k and other metrics, each favouring the last model listed."""
    rows = []
    for i, (name, score) in enumerate(warm_scores.items()):
        decoy = 0.9 + i * 0.01
        for test_set, metric, k, mean in (
            (WARM, m.NDCG, 10, score),
            (WARM, m.NDCG, 5, decoy),
            (WARM, m.RECALL, 10, decoy),
            (COLD_USER, m.NDCG, 10, decoy),
        ):
            rows.append(
                {
                    s.MODEL_NAME: name,
                    TEST_SET: test_set,
                    m.METRIC: metric,
                    m.K: k,
                    m.MEAN: mean,
                    m.CI_LOW: mean - 0.01,
                    m.CI_HIGH: mean + 0.01,
                    m.N_USERS: 50,
                }
            )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _served(score: float, version: str = "v1", name: str = HYBRID) -> ServedModel:
    return ServedModel(name, version, score, "2026-02-01T00:00:00+00:00")


def test_warm_ndcg_reads_only_warm_ndcg_at_10():
    scores = warm_ndcg(_summary({"popularity": 0.10, HYBRID: 0.20}))
    assert scores.to_dict() == {"popularity": 0.10, HYBRID: 0.20}


def test_a_candidate_beating_every_baseline_with_nothing_served_is_promoted():
    decision = decide_promotion(
        _summary({"popularity": 0.10, "genre_popularity": 0.12, HYBRID: 0.15}), HYBRID, "v2", None
    )

    assert decision.promote
    assert decision.score == pytest.approx(0.15)
    assert decision.comparisons["requirement"].tolist() == [
        "beats popularity",
        "beats genre_popularity",
    ]
    assert decision.comparisons[PASSED].all()
    assert "passes every requirement" in decision.reason


def test_losing_to_one_baseline_is_refused_naming_it():
    decision = decide_promotion(
        _summary({"popularity": 0.10, "genre_popularity": 0.16, HYBRID: 0.15}), HYBRID, "v2", None
    )

    assert not decision.promote
    assert "beats genre_popularity: needs 0.1600" in decision.reason
    assert "beats popularity:" not in decision.reason
    assert "Still serving the best baseline" in decision.reason
    assert decision.comparisons[PASSED].tolist() == [True, False]


def test_a_tie_with_a_baseline_is_not_beating_it():
    decision = decide_promotion(_summary({"popularity": 0.15, HYBRID: 0.15}), HYBRID, "v2", None)
    assert not decision.promote


def test_falling_more_than_the_tolerance_below_the_served_model_is_refused():
    summary = _summary({"popularity": 0.10, HYBRID: 0.19})

    decision = decide_promotion(summary, HYBRID, "v2", _served(0.20, "v1"), tolerance=0.02)

    assert not decision.promote
    assert "served hybrid v1 (0.2000)" in decision.reason
    assert "Still serving hybrid v1" in decision.reason
    failed = decision.comparisons[~decision.comparisons[PASSED]]
    assert failed["required"].tolist() == [pytest.approx(0.196)]


def test_within_the_tolerance_of_the_served_model_is_promoted():
    summary = _summary({"popularity": 0.10, HYBRID: 0.197})

    decision = decide_promotion(summary, HYBRID, "v2", _served(0.20, "v1"), tolerance=0.02)

    assert decision.promote
    assert len(decision.comparisons) == 2


def test_the_served_version_itself_is_not_held_to_its_own_record():
    summary = _summary({"popularity": 0.10, HYBRID: 0.15})

    same = decide_promotion(summary, HYBRID, "v1", _served(0.20, "v1"))
    other_version = decide_promotion(summary, HYBRID, "v2", _served(0.20, "v1"))

    assert same.promote and len(same.comparisons) == 1
    assert not other_version.promote


def test_a_candidate_with_no_baseline_to_beat_is_refused():
    decision = decide_promotion(_summary({HYBRID: 0.5}), HYBRID, "v1", None)

    assert not decision.promote
    assert "none evaluated" in decision.reason


def test_a_candidate_missing_from_the_evaluation_is_an_error():
    summary = _summary({"popularity": 0.10})
    cold_only = summary.assign(**{s.MODEL_NAME: HYBRID, TEST_SET: COLD_USER})
    with pytest.raises(ValueError, match="no warm NDCG@10 for 'hybrid'"):
        decide_promotion(summary, HYBRID, "v1", None)
    with pytest.raises(ValueError, match="'hybrid'"):
        decide_promotion(pd.concat([summary, cold_only]), HYBRID, "v1", None)


def test_the_served_record_round_trips_and_is_written_atomically(tmp_path):
    path = tmp_path / "models" / "served.json"
    assert read_served(path) is None

    written = write_served(path, HYBRID, "v3", 0.1234, now=NOW)

    assert read_served(path) == written == ServedModel(HYBRID, "v3", 0.1234, NOW.isoformat())
    assert json.loads(path.read_text())["version"] == "v3"
    write_served(path, HYBRID, "v4", 0.2, now=NOW)
    assert read_served(path).version == "v4"
    assert [p.name for p in path.parent.iterdir()] == ["served.json"]


def test_the_report_keeps_each_row_s_candidate_score_beside_the_model_name():
    decision = decide_promotion(_summary({"popularity": 0.10, HYBRID: 0.20}), HYBRID, "v2", None)
    report = decision.report()
    assert report[CANDIDATE_SCORE].tolist() == [0.20]
    assert report[s.MODEL_NAME].tolist() == [HYBRID]
    assert report[VERSION].tolist() == ["v2"] and report[SCORE].tolist() == [0.20]
    assert report[REASON].tolist() == [decision.reason]
