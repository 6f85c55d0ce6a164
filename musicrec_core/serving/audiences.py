"""Recommendations per audience: each listener is served by the model chosen for their audience
(``served_models``), which depends on how many distinct tracks they have played so far."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.evaluation.audiences import USER_AUDIENCES, audiences_of
from musicrec_core.models.diversity import DIVERSITY_CANDIDATES
from musicrec_core.models.recommender import Recommender
from musicrec_core.serving.tables import served_recommendations


def user_audiences(users: pd.DataFrame, interactions: pd.DataFrame) -> pd.Series:
    """Each user's audience, aligned with ``users``: more than ``FEW_PLAYS`` distinct tracks
    played is warm, 1 to ``FEW_PLAYS`` cold_user_given, none cold_user.

    ``interactions`` holds one row per user and track, so a user's rows count their tracks.
    """
    tracks = users[s.USER_ID].map(interactions[s.USER_ID].value_counts()).fillna(0).to_numpy()
    return pd.Series(audiences_of(tracks), index=users.index, name="audience")


def audience_recommendations(
    models: Mapping[str, tuple[Recommender, str]],
    audiences: pd.Series,
    fallback: Recommender,
    interactions: pd.DataFrame,
    users: pd.DataFrame,
    tracks: pd.DataFrame,
    item_vectors: np.ndarray,
    k: int,
    diversity: float,
    n_candidates: int = DIVERSITY_CANDIDATES,
) -> pd.DataFrame:
    """Top-k per user from the (model, version) of their audience (``models``, keyed by each of
    ``USER_AUDIENCES``; ``audiences`` from :func:`user_audiences`), each through
    :func:`served_recommendations`: diversified, and the fallback for users the model cannot
    place. Each row names the model that made it."""
    parts = []
    for audience in USER_AUDIENCES:
        members = users[(audiences == audience).to_numpy()]
        if members.empty:
            continue
        model, version = models[audience]
        parts.append(
            served_recommendations(
                model,
                version,
                fallback,
                interactions,
                members,
                tracks,
                item_vectors,
                k=k,
                diversity=diversity,
                n_candidates=n_candidates,
            )
        )
    if not parts:
        return pd.DataFrame(columns=s.RECOMMENDATION_COLUMNS)
    return pd.concat(parts, ignore_index=True)
