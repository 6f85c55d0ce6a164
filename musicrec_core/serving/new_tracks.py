"""Lists of new tracks: for each listener, the tracks nobody has played yet, ranked by the model
serving new tracks (``cold_track`` in ``served_models``), as that audience is measured: new
tracks ranked among themselves for a listener with plays."""

from __future__ import annotations

import numpy as np
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.data.interactions import InteractionMatrix, listeners_per_track
from musicrec_core.evaluation.audiences import NEW_USERS
from musicrec_core.models.recommender import Recommendations, Recommender, top_k
from musicrec_core.serving.tables import dense_batch_users, servable_users

NEW_TRACKS_K = 10  # new tracks listed per listener by default


def unplayed_columns(matrix: InteractionMatrix) -> np.ndarray:
    """Catalogue columns of the tracks that no listener in ``matrix`` has played."""
    return np.flatnonzero(listeners_per_track(matrix.matrix) == 0)


def new_track_recommendations(
    model: Recommender, version: str, users: pd.DataFrame, k: int
) -> pd.DataFrame:
    """Top-k tracks nobody has played for each of ``users`` the model can place, by its scores
    over every play it was given (``model.data``); ``RECOMMENDATION_COLUMNS``, empty when the
    catalogue holds no such track.

    A model that reads demographics also lists them for listeners without plays; scores are
    taken in batches of users whose full score rows stay within the serving batch.
    """
    matrix = model.data.matrix
    columns = unplayed_columns(matrix)
    user_ids = servable_users(
        users, model.data.interactions, demographics=NEW_USERS in model.test_sets
    )
    if not len(columns) or not len(user_ids):
        return pd.DataFrame(columns=s.RECOMMENDATION_COLUMNS)
    step = dense_batch_users(len(matrix.track_ids))
    parts = []
    for start in range(0, len(user_ids), step):
        batch = user_ids[start : start + step]
        scores = np.asarray(model.score_tracks(batch, columns), dtype=np.float64)
        index, top = top_k(scores, k)
        track_ids = np.where(np.isfinite(top), matrix.track_ids[columns[index]], None)
        parts.append(Recommendations(batch, track_ids, top).to_frame(model.name, version))
    return pd.concat(parts, ignore_index=True)[s.RECOMMENDATION_COLUMNS]
