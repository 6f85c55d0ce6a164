"""Which model serves each audience: the best measured on its test set, the trained model only
once promoted, a pinned model where it can place the audience, the reference otherwise."""

import pandas as pd

from musicrec_core import metrics as m
from musicrec_core.data import schema as s
from musicrec_core.evaluation import (
    AUDIENCE,
    AUDIENCE_COLUMNS,
    AUDIENCES,
    PROMOTED,
    REASON,
    SUMMARY_COLUMNS,
    TEST_SET,
    ServedModel,
    audience_models,
    single_model_audiences,
)

HYBRID = "hybrid"
PROMOTED_HYBRID = ServedModel(HYBRID, "v7", 0.3, "2026-02-01T00:00:00+00:00")
# NDCG@10 per test set and model, as on real plays without demographics: the hybrid leads with
# plays, segment popularity leads for listeners known by nothing.
SCORES = {
    "warm": {"popularity": 0.10, "segment_popularity": 0.11, "ease": 0.28, HYBRID: 0.30},
    "cold_user": {"popularity": 0.230, "segment_popularity": 0.231, HYBRID: 0.217},
    "cold_user_given": {"popularity": 0.15, "ease": 0.21, HYBRID: 0.20},
    "cold_track": {"popularity": 0.05, "content_knn": 0.12, HYBRID: 0.14},
}


def _summary(scores: dict[str, dict[str, float]]) -> pd.DataFrame:
    """An evaluation summary with these NDCG@10 means, plus decoy rows (another k, another
    metric) that favour popularity everywhere."""
    rows = []
    for test_set, by_model in scores.items():
        for name, score in by_model.items():
            decoy = 0.99 if name == "popularity" else 0.0
            for metric, k, mean in ((m.NDCG, 10, score), (m.NDCG, 5, decoy), (m.RECALL, 10, decoy)):
                rows.append(
                    {s.MODEL_NAME: name, TEST_SET: test_set, m.METRIC: metric, m.K: k, m.MEAN: mean}
                )
    return pd.DataFrame(rows).reindex(columns=SUMMARY_COLUMNS)


def _chosen(frame: pd.DataFrame) -> dict[str, tuple[str, str | None]]:
    assert list(frame.columns) == AUDIENCE_COLUMNS
    assert frame[AUDIENCE].tolist() == list(AUDIENCES)
    return {
        row[AUDIENCE]: (
            row[s.MODEL_NAME],
            None if pd.isna(row[s.MODEL_VERSION]) else row[s.MODEL_VERSION],
        )
        for _, row in frame.iterrows()
    }


def _reason(frame: pd.DataFrame, audience: str) -> str:
    return frame.set_index(AUDIENCE).loc[audience, REASON]


def test_an_audience_whose_best_model_is_a_baseline_is_served_by_it():
    frame = audience_models(PROMOTED, PROMOTED_HYBRID, _summary(SCORES), HYBRID)
    chosen = _chosen(frame)
    assert chosen["cold_user"] == ("segment_popularity", None)
    assert chosen["cold_user_given"] == ("ease", None)
    assert _reason(frame, "cold_user") == (
        "best NDCG@10 on cold_user: segment_popularity 0.2310 > popularity 0.2300 > hybrid 0.2170"
    )


def test_the_hybrid_serves_only_where_it_measured_best_and_was_promoted():
    promoted = _chosen(audience_models(PROMOTED, PROMOTED_HYBRID, _summary(SCORES), HYBRID))
    assert promoted["warm"] == promoted["cold_track"] == (HYBRID, "v7")
    assert {name for name, _ in promoted.values()} == {HYBRID, "segment_popularity", "ease"}

    frame = audience_models(PROMOTED, None, _summary(SCORES), HYBRID)
    assert _chosen(frame) == {
        "warm": ("ease", None),
        "cold_user": ("segment_popularity", None),
        "cold_user_given": ("ease", None),
        "cold_track": ("content_knn", None),
    }
    assert _reason(frame, "warm") == (
        "best NDCG@10 on warm: ease 0.2800 > segment_popularity 0.1100 > popularity 0.1000; "
        "hybrid 0.3000 not promoted"
    )
    # A promoted record of another model does not promote the hybrid.
    other = ServedModel("ease", "v1", 0.3, "2026-02-01T00:00:00+00:00")
    assert HYBRID not in audience_models(PROMOTED, other, _summary(SCORES), HYBRID)[s.MODEL_NAME]


def test_ties_and_unmeasured_audiences_get_their_reference():
    scores = {
        "warm": {"popularity": 0.1, "ease": 0.2, "item_knn": 0.2},
        "cold_user": {"popularity": 0.23, "segment_popularity": 0.23},
    }
    frame = audience_models(PROMOTED, None, _summary(scores), HYBRID)
    assert _chosen(frame) == {
        "warm": ("popularity", None),
        "cold_user": ("segment_popularity", None),
        "cold_user_given": ("popularity", None),
        "cold_track": ("popularity", None),
    }
    assert _reason(frame, "warm").startswith("no single best NDCG@10 on warm (ease 0.2000 = ")
    assert (
        _reason(frame, "cold_track") == "nothing measured on cold_track: popularity, the reference"
    )


def test_a_pin_serves_the_listeners_with_plays_and_what_else_it_can_place():
    summary = _summary(SCORES)
    pinned = audience_models("item_knn", PROMOTED_HYBRID, summary, HYBRID)
    assert _chosen(pinned) == {
        "warm": ("item_knn", None),
        "cold_user": ("segment_popularity", None),  # item_knn cannot place them: measured
        "cold_user_given": ("item_knn", None),
        "cold_track": (HYBRID, "v7"),
    }
    assert _reason(pinned, "warm") == "pinned by configuration"

    hybrid = audience_models(HYBRID, None, summary, HYBRID, candidate_version="v9")
    assert set(_chosen(hybrid).values()) == {(HYBRID, "v9")}
    content = _chosen(audience_models("content_knn", None, summary, HYBRID))
    assert content["cold_track"] == content["warm"] == ("content_knn", None)
    assert content["cold_user"] == ("segment_popularity", None)


def test_one_model_for_every_audience_it_can_place():
    chosen = _chosen(single_model_audiences("ease", "bench", "benchmark"))
    assert chosen["warm"] == chosen["cold_track"] == ("ease", "bench")
    assert chosen["cold_user"] == ("segment_popularity", None)
