"""Which model serves each audience: listeners with plays, new listeners known only by their
demographics or by a few plays, and new tracks.

The serving tables and the HTTP API read the same choice, published as ``served_models``.
"""

from __future__ import annotations

import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.evaluation.promotion import ServedModel, serving_choice
from musicrec_core.models.registry import build_models

AUDIENCE = "audience"
REASON = "reason"
WARM_USERS = "warm"  # listeners with more than FEW_PLAYS distinct tracks
NEW_USERS = "cold_user"  # no plays: placed by demographics
NEW_USERS_GIVEN = "cold_user_given"  # 1 to FEW_PLAYS distinct tracks
NEW_TRACKS = "cold_track"  # tracks nobody has played
AUDIENCES = (WARM_USERS, NEW_USERS, NEW_USERS_GIVEN, NEW_TRACKS)
FEW_PLAYS = 5
FALLBACK = "segment_popularity"
AUDIENCE_COLUMNS = [AUDIENCE, s.MODEL_NAME, s.MODEL_VERSION, REASON]


def audience_models(
    setting: str, served: ServedModel | None, summary: pd.DataFrame, candidate: str
) -> pd.DataFrame:
    """One row per audience (``AUDIENCE_COLUMNS``): the model serving it, its artifact version
    (None: fitted on the data served over) and why.

    The served model (``serving_choice``) serves every audience it can place.
    """
    return single_model_audiences(*serving_choice(setting, served, summary, candidate))


def single_model_audiences(name: str, version: str | None, why: str) -> pd.DataFrame:
    """``AUDIENCE_COLUMNS`` rows of one model serving every audience it can place; listeners
    it cannot place by demographics get segment popularity."""
    reads_demographics = NEW_USERS in build_models([name])[name].test_sets
    rows = []
    for audience in AUDIENCES:
        if audience == NEW_USERS and not reads_demographics:
            rows.append((audience, FALLBACK, None, f"{name} cannot place listeners without plays"))
        else:
            rows.append((audience, name, version, why))
    return pd.DataFrame(rows, columns=AUDIENCE_COLUMNS)
