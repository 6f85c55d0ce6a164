"""The promotion gate: a retrained model is served only if it is measurably good enough.

A candidate passes when its warm-user NDCG@10 beats every baseline's in the same evaluation
and does not fall more than ``tolerance`` (relative) below the score the served model had
when it was promoted. The served model is recorded in a small JSON file beside the artifacts.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from musicrec_core import metrics as m
from musicrec_core.data import schema as s
from musicrec_core.evaluation.held_out import TEST_SET, WARM

DEFAULT_TOLERANCE = 0.02
PROMOTED = "promoted"
GATE_K = 10
REQUIREMENT = "requirement"
REQUIRED = "required"
CANDIDATE_SCORE = "candidate"
PASSED = "passed"
# The report adds the candidate's name, version, overall score and the gate's reason to each row.
VERSION = "version"
SCORE = "score"
REASON = "reason"


@dataclass(frozen=True)
class ServedModel:
    """The model being served: its name, artifact version and score when it was promoted."""

    model_name: str
    version: str
    ndcg_at_10: float
    promoted_at: str


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the candidate is promoted, why, and each comparison made."""

    promote: bool
    candidate: str
    version: str
    score: float
    comparisons: pd.DataFrame  # requirement, required, candidate, passed
    reason: str

    def report(self) -> pd.DataFrame:
        """The comparisons with the candidate's model name, version, score and the reason."""
        return self.comparisons.assign(
            **{
                s.MODEL_NAME: self.candidate,
                VERSION: self.version,
                SCORE: self.score,
                REASON: self.reason,
            }
        )


def ndcg_on(summary: pd.DataFrame, test_set: str, k: int = GATE_K) -> pd.Series:
    """NDCG@k mean per model on one test set of an evaluation summary."""
    rows = summary[
        (summary[TEST_SET].astype(str) == test_set)
        & (summary[m.METRIC] == m.NDCG)
        & (summary[m.K] == k)
    ]
    return rows.set_index(s.MODEL_NAME)[m.MEAN].astype(float)


def warm_ndcg(summary: pd.DataFrame, k: int = GATE_K) -> pd.Series:
    """Warm-user NDCG@k mean per model in an evaluation summary."""
    return ndcg_on(summary, WARM, k)


def decide_promotion(
    summary: pd.DataFrame,
    candidate: str,
    version: str,
    served: ServedModel | None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> PromotionDecision:
    """Apply the gate to ``candidate`` (a model name in ``summary``) at artifact ``version``."""
    scores = warm_ndcg(summary)
    if candidate not in scores.index:
        raise ValueError(f"the evaluation has no warm NDCG@{GATE_K} for {candidate!r}")
    score = float(scores[candidate])
    baselines = scores.drop(candidate)
    rows = [
        {REQUIREMENT: f"beats {name}", REQUIRED: float(value), PASSED: score > value}
        for name, value in baselines.items()
    ]
    if baselines.empty:
        rows.append(
            {
                REQUIREMENT: "beats a baseline (none evaluated)",
                REQUIRED: float("nan"),
                PASSED: False,
            }
        )
    if served is not None and (served.model_name, served.version) != (candidate, version):
        bar = served.ndcg_at_10 * (1.0 - tolerance)
        rows.append(
            {
                REQUIREMENT: f"within {tolerance:.0%} of served {served.model_name} "
                f"{served.version} ({served.ndcg_at_10:.4f})",
                REQUIRED: bar,
                PASSED: score >= bar,
            }
        )
    comparisons = pd.DataFrame(rows, columns=[REQUIREMENT, REQUIRED, PASSED])
    comparisons.insert(2, CANDIDATE_SCORE, score)
    failed = comparisons[~comparisons[PASSED]]
    if failed.empty:
        reason = f"{candidate} {version} (warm NDCG@{GATE_K} {score:.4f}) passes every requirement"
    else:
        misses = "; ".join(
            f"{row[REQUIREMENT]}: needs {row[REQUIRED]:.4f}" for _, row in failed.iterrows()
        )
        kept = f"{served.model_name} {served.version}" if served else "the best baseline"
        reason = (
            f"{candidate} {version} (warm NDCG@{GATE_K} {score:.4f}) is not promoted: {misses}. "
            f"Still serving {kept}."
        )
    return PromotionDecision(failed.empty, candidate, version, score, comparisons, reason)


def read_served(path: Path) -> ServedModel | None:
    """The served-model record, or None when nothing has been promoted yet."""
    if not path.is_file():
        return None
    return ServedModel(**json.loads(path.read_text()))


def write_served(
    path: Path, model_name: str, version: str, score: float, now: datetime | None = None
) -> ServedModel:
    """Record a promoted model as the one being served (atomically)."""
    record = ServedModel(
        model_name, version, float(score), (now or datetime.now(UTC)).isoformat(timespec="seconds")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(asdict(record), indent=1))
    os.replace(tmp, path)
    return record
