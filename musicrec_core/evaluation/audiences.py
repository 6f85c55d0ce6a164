"""Which model serves each audience: listeners with plays, new listeners known only by their
demographics or by a few plays, and new tracks.

Each audience is served by the model with the best NDCG@10 on its own test set, so that none
gets less than its popularity reference. The serving tables and the HTTP API read the same
choice, published as ``served_models``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.data.split import COLD_TRACK, COLD_USER
from musicrec_core.evaluation.held_out import COLD_USER_GIVEN, WARM
from musicrec_core.evaluation.promotion import GATE_K, PROMOTED, REASON, ServedModel, ndcg_on
from musicrec_core.models.popularity import Popularity, SegmentPopularity
from musicrec_core.models.registry import build_models

AUDIENCE = "audience"
WARM_USERS = WARM  # listeners with more than FEW_PLAYS distinct tracks
NEW_USERS = COLD_USER  # no plays: placed by demographics
NEW_USERS_GIVEN = COLD_USER_GIVEN  # 1 to FEW_PLAYS distinct tracks
NEW_TRACKS = COLD_TRACK  # tracks nobody has played
AUDIENCES = (WARM_USERS, NEW_USERS, NEW_USERS_GIVEN, NEW_TRACKS)
USER_AUDIENCES = (WARM_USERS, NEW_USERS_GIVEN, NEW_USERS)  # those the user lists serve
FEW_PLAYS = 5
FALLBACK = SegmentPopularity.name
# What serves an audience when no single model measured best on it.
REFERENCES = {
    WARM_USERS: Popularity.name,
    NEW_USERS: SegmentPopularity.name,
    NEW_USERS_GIVEN: Popularity.name,
    NEW_TRACKS: Popularity.name,
}
AUDIENCE_COLUMNS = [AUDIENCE, s.MODEL_NAME, s.MODEL_VERSION, REASON]
PINNED = "pinned by configuration"


def served_by(models: pd.DataFrame, audience: str) -> tuple[str, str | None]:
    """The model name and artifact version (None: fitted on the data served over) that
    ``models`` (``AUDIENCE_COLUMNS`` rows indexed by audience) name for an audience."""
    row = models.loc[audience]
    version = row[s.MODEL_VERSION]
    return str(row[s.MODEL_NAME]), None if pd.isna(version) else str(version)


def audiences_of(n_tracks: np.ndarray) -> np.ndarray:
    """The audience of each listener by their distinct tracks played: more than
    ``FEW_PLAYS`` warm, 1 to ``FEW_PLAYS`` cold_user_given, none cold_user."""
    n_tracks = np.asarray(n_tracks)
    return np.where(
        n_tracks > FEW_PLAYS, WARM_USERS, np.where(n_tracks > 0, NEW_USERS_GIVEN, NEW_USERS)
    )


def audience_models(
    setting: str,
    served: ServedModel | None,
    summary: pd.DataFrame,
    candidate: str,
    candidate_version: str | None = None,
) -> pd.DataFrame:
    """One row per audience (``AUDIENCE_COLUMNS``): the model serving it, its artifact version
    (NA: fitted on the data served over) and why.

    ``setting`` ``PROMOTED``: each audience gets the model with the best NDCG@10 on its test
    set in ``summary``; ``candidate`` (the trained model) counts only once promoted (``served``
    names it) and serves at the promoted version. No single best, or nothing measured: the
    audience's popularity reference (``REFERENCES``). A model name pins the listeners with
    plays, and the other audiences where the pinned model can place them (``candidate``
    pinned: at ``candidate_version``, the latest trained); the rest are chosen as above.

    ``summary`` measures the latest trained candidate: after a refused retraining, its scores
    stand in for the promoted version's.
    """
    promoted = served is not None and served.model_name == candidate
    left_out = None if promoted or setting == candidate else candidate
    version = served.version if promoted else candidate_version
    rows = []
    for audience in AUDIENCES:
        if setting != PROMOTED and _places(setting, audience):
            name, why = setting, PINNED
        else:
            name, why = best_measured(audience, summary, left_out)
        rows.append((audience, name, version if name == candidate else None, why))
    return _frame(rows)


def best_measured(
    audience: str, summary: pd.DataFrame, left_out: str | None = None
) -> tuple[str, str]:
    """(model, why): the model with the best NDCG@10 on the audience's test set, other than
    ``left_out``; the audience's reference when no single model is best."""
    scores = ndcg_on(summary, audience).dropna().sort_values(ascending=False, kind="stable")
    measured = scores.drop(left_out, errors="ignore") if left_out else scores
    reference = REFERENCES[audience]
    ranking = _ranking(measured)
    note = (
        f"; {left_out} {scores[left_out]:.4f} not promoted"
        if left_out and left_out in scores
        else ""
    )
    if measured.empty:
        return reference, f"nothing measured on {audience}: {reference}, the reference{note}"
    if (measured == measured.iloc[0]).sum() > 1:
        return reference, (
            f"no single best NDCG@{GATE_K} on {audience} ({ranking}): "
            f"{reference}, the reference{note}"
        )
    return str(measured.index[0]), f"best NDCG@{GATE_K} on {audience}: {ranking}{note}"


def _ranking(scores: pd.Series) -> str:
    """'a 0.3000 > b 0.2000 = c 0.2000': models in descending order of their scores."""
    parts = []
    for i, (name, score) in enumerate(scores.items()):
        if i:
            parts.append(" = " if score == scores.iloc[i - 1] else " > ")
        parts.append(f"{name} {score:.4f}")
    return "".join(parts)


def _places(name: str, audience: str) -> bool:
    """Whether a model serves an audience: every model takes listeners' plays; listeners with
    none and tracks nobody played only those that declare the test set."""
    if audience in (WARM_USERS, NEW_USERS_GIVEN):
        return True
    return audience in build_models([name])[name].test_sets


def single_model_audiences(name: str, version: str | None, why: str) -> pd.DataFrame:
    """``AUDIENCE_COLUMNS`` rows of one model serving every audience it can place; listeners
    it cannot place by demographics get segment popularity."""
    rows = []
    for audience in AUDIENCES:
        if audience == NEW_USERS and not _places(name, audience):
            rows.append((audience, FALLBACK, None, f"{name} cannot place listeners without plays"))
        else:
            rows.append((audience, name, version, why))
    return _frame(rows)


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """The rows as ``AUDIENCE_COLUMNS``, versions as strings (a table column of text)."""
    return pd.DataFrame(rows, columns=AUDIENCE_COLUMNS).astype({s.MODEL_VERSION: "string"})
