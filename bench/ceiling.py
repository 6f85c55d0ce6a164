"""How close the models come to the demo generator's own ranking, about the most any can reach.

The synthetic catalogue is drawn from known tastes (``GroundTruth``): ranking by the true
affinity is the ceiling of each test set, ranking by it without the latent taste factors
(which only co-plays reveal) shows how much of the ceiling those factors hold, and ranking by
the affinity expected from age and gender alone is about the ceiling for new users. The
baselines and the hybrid (trained as the hybrid_model asset trains it) are measured in the same
run, with each model's NDCG@10 as a share of the ceiling. Usage: .venv/bin/python bench/ceiling.py
[--models popularity,segment_popularity,content_knn,ease,hybrid]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys

import numpy as np
import pandas as pd
from common import machine, ndcg_at_10, train_hybrid

from musicrec_core import metrics as m
from musicrec_core.data import COLD_USER, fit_preprocessor, prepare, training_rows
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig, synthetic_config
from musicrec_core.data.sources.synthetic import GroundTruth, generate
from musicrec_core.evaluation import TEST_SET, TEST_SETS, evaluate_models, paired_differences
from musicrec_core.models import Recommender, TrainingData

CEILING = "generator"
WITHOUT_FACTORS = "generator_without_factors"
FROM_DEMOGRAPHICS = "generator_from_demographics"
USER_BLOCK = 1_000  # users per block of true affinities (GroundTruth caps one matrix's size)


class TrueAffinity(Recommender):
    """Scores every track by the generator's affinity, as the model ``name`` says: the true one
    (``CEILING``), less the latent factors' part (``WITHOUT_FACTORS``), or what the users' age
    and gender alone give (``FROM_DEMOGRAPHICS``); tracks the generator did not make are never
    recommended."""

    test_sets = TEST_SETS

    def __init__(self, truth: GroundTruth, name: str = CEILING) -> None:
        self.truth = truth
        self.name = name

    def _fit(self, data: TrainingData) -> None:
        self.tracks = pd.Index(self.truth.track_ids).get_indexer(data.matrix.track_ids)
        self.users = pd.Index(self.truth.user_ids)

    def score(self, user_ids: np.ndarray) -> np.ndarray:
        rows = self.users.get_indexer(user_ids)
        if (rows < 0).any():
            raise ValueError(f"users the generator did not make: {list(user_ids[rows < 0][:5])}")
        known = self.tracks >= 0
        out = np.full((len(rows), len(self.tracks)), -np.inf)
        for start in range(0, len(rows), USER_BLOCK):
            block = rows[start : start + USER_BLOCK]
            if self.name == FROM_DEMOGRAPHICS:
                affinity = self.truth.expected_affinity_from_demographics(block)
            else:
                affinity = self.truth.affinity_matrix(block)
            if self.name == WITHOUT_FACTORS:
                affinity -= self.truth.user_factors[block] @ self.truth.track_factors.T
            out[start : start + USER_BLOCK, known] = affinity[:, self.tracks[known]]
        return out


def ceiling_lines(summary: pd.DataFrame, names: list[str]) -> list[str]:
    """A markdown table: each model's NDCG@10 per test set and its share of the ceiling's."""
    ndcg = ndcg_at_10(summary)
    ceiling = ndcg[ndcg[s.MODEL_NAME] == CEILING].set_index(TEST_SET)[m.MEAN]
    lines = [
        "| model | test set | NDCG@10 | share of the ceiling |",
        "|---|---|---|---|",
    ]
    for name in names:
        for row in ndcg[ndcg[s.MODEL_NAME] == name].itertuples(index=False):
            test_set = getattr(row, TEST_SET)
            lines.append(
                f"| {name} | {test_set} | {row.mean:.4f} [{row.ci_low:.4f}, {row.ci_high:.4f}] "
                f"| {row.mean / ceiling[test_set]:.2f} |"
            )
    return lines


def new_user_lines(per_user: pd.DataFrame) -> list[str]:
    """The ranking from demographics minus every other model on new users, NDCG@10 paired over
    the same users: how far apart the test set can tell models whose difference is only what
    age and gender reveal."""
    paired = paired_differences(per_user, FROM_DEMOGRAPHICS)
    lines = [f"{FROM_DEMOGRAPHICS} minus each other model on new users, NDCG@10 paired:", ""]
    for row in paired[paired[TEST_SET] == COLD_USER].itertuples(index=False):
        lines.append(
            f"- {row.other_model}: {row.mean:+.4f} [{row.ci_low:+.4f}, {row.ci_high:+.4f}]"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="popularity,segment_popularity,content_knn,ease,hybrid")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    source = SourceConfig(kind="synthetic", size="demo")
    data = prepare(source)
    truth = generate(synthetic_config(source)).truth
    train = TrainingData(training_rows(data.split), data.users, data.tracks)
    references = (CEILING, WITHOUT_FACTORS, FROM_DEMOGRAPHICS)
    fitted: dict[str, Recommender] = {
        name: TrueAffinity(truth, name).fit(train) for name in references
    }
    names = [*references, *filter(None, args.models.split(","))]
    if "hybrid" in names:
        fitted["hybrid"] = train_hybrid(data)
    preprocessor, _, _ = fit_preprocessor(train.interactions, data.users, data.tracks)
    comparison = evaluate_models(
        data.split, data.users, data.tracks, names, preprocessor, ks=(10,), fitted=fitted
    )
    lines = [
        f"Ceiling on the demo catalogue ({source.describe()}), {dt.date.today()}, {machine()}",
        "",
        *ceiling_lines(comparison.result.summary, names),
        "",
        *new_user_lines(comparison.result.per_user),
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
