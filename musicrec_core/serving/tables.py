"""The tables and views of the serving database, built from pipeline outputs."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.evaluation.audiences import AUDIENCE, WARM_USERS
from musicrec_core.models.diversity import DIVERSITY_CANDIDATES, mmr_rerank, personal_strength
from musicrec_core.models.hybrid.recommender import Hybrid
from musicrec_core.models.popularity import SegmentPopularity
from musicrec_core.models.recommender import (
    Recommendations,
    Recommender,
    TrainingData,
    model_version,
)

logger = logging.getLogger(__name__)

BATCH_USERS = 1024
# Score entries per batch (128 MB of float64) of a model that scores the whole catalogue.
BATCH_SCORES = 1 << 24
# Users per batch of the hybrid, which never holds full score rows: larger batches spread its
# per-batch work over the catalogue (the retrieval order) over more users.
HYBRID_BATCH_USERS = 4096

SERVING_VIEWS = {
    "recommendations_named": f"""
        SELECT r.{s.USER_ID}, r.{s.RANK}, r.{s.TRACK_ID}, t.{s.TRACK_NAME}, t.{s.ARTIST_NAME},
               t.{s.GENRE}, t.{s.RELEASE_YEAR}, r.{s.SCORE}, r.{s.MODEL_NAME}, r.{s.MODEL_VERSION},
               r.{s.GENERATED_AT}
        FROM recommendations r JOIN tracks t USING ({s.TRACK_ID})""",
    "new_track_recommendations_named": f"""
        SELECT n.{s.USER_ID}, n.{s.RANK}, n.{s.TRACK_ID}, t.{s.TRACK_NAME}, t.{s.ARTIST_NAME},
               t.{s.GENRE}, t.{s.RELEASE_YEAR}, n.{s.SCORE}, n.{s.MODEL_NAME}, n.{s.MODEL_VERSION},
               n.{s.GENERATED_AT}
        FROM new_track_recommendations n JOIN tracks t USING ({s.TRACK_ID})""",
    "cold_start_recommendations_named": f"""
        SELECT c.{s.AGE_GROUP}, c.{s.GENDER}, c.{s.RANK}, c.{s.TRACK_ID}, t.{s.TRACK_NAME},
               t.{s.ARTIST_NAME}, t.{s.GENRE}, c.{s.SCORE}
        FROM cold_start_recommendations c JOIN tracks t USING ({s.TRACK_ID})""",
}
EXAMPLE_QUERY = f"""SELECT {s.RANK}, {s.TRACK_NAME}, {s.ARTIST_NAME}, {s.GENRE},
       round({s.SCORE}, 4) AS score
FROM recommendations_named
WHERE {s.USER_ID} = (SELECT min({s.USER_ID}) FROM recommendations)
ORDER BY {s.RANK};"""

# Feature-table columns the serving database leaves out: where each row was read from.
_UNPUBLISHED = set(s.PROVENANCE_COLUMNS)
_PLAY_COLUMNS = [s.USER_ID, s.TRACK_ID, s.PLAYS]


def recommend_all(model: Recommender, user_ids: np.ndarray, k: int, version: str) -> pd.DataFrame:
    """Top-k for every user, in batches so memory stays bounded on large catalogues."""
    step = users_per_batch(model)
    parts = [
        model.recommend(user_ids[i : i + step], k=k).to_frame(model.name, version)
        for i in range(0, len(user_ids), step)
    ]
    if not parts:
        return pd.DataFrame(columns=s.RECOMMENDATION_COLUMNS)
    return pd.concat(parts, ignore_index=True)[s.RECOMMENDATION_COLUMNS]


def users_per_batch(model: Recommender) -> int:
    """Users recommended for at once: the hybrid's batch, or as many as keep a batch's full
    score rows within ``BATCH_SCORES`` (at most ``BATCH_USERS``)."""
    if isinstance(model, Hybrid):
        return HYBRID_BATCH_USERS
    return dense_batch_users(len(model.data.matrix.track_ids))


def dense_batch_users(n_tracks: int) -> int:
    """Users whose full score rows over ``n_tracks`` fit ``BATCH_SCORES`` (1 to
    ``BATCH_USERS``)."""
    return int(np.clip(BATCH_SCORES // max(n_tracks, 1), 1, BATCH_USERS))


def content_vectors(tracks: pd.DataFrame, preprocessor: MusicPreprocessor) -> np.ndarray:
    """Genre and audio content per track, for the diversity step's similarities.

    Model-independent, so lists are diversified the same way whichever model serves them.
    """
    blocks = []
    genre = preprocessor.text_features(tracks).get(s.GENRE)
    if genre is not None:
        blocks.append(genre.toarray())
    numeric = [c for c in preprocessor.numeric_columns if c in tracks.columns]
    if numeric:
        values = preprocessor.feature_matrix(tracks, columns=numeric)
        blocks.append(values / max(np.sqrt(len(numeric)), 1.0))
    if not blocks:
        return np.zeros((len(tracks), 1), dtype=np.float32)
    return np.hstack(blocks).astype(np.float32)


def served_recommendations(
    model: Recommender,
    version: str,
    fallback: Recommender,
    interactions: pd.DataFrame,
    users: pd.DataFrame,
    tracks: pd.DataFrame,
    item_vectors: np.ndarray,
    k: int,
    diversity: float,
    n_candidates: int = DIVERSITY_CANDIDATES,
) -> pd.DataFrame:
    """Top-k per user from the model over all their plays so far, diversified by MMR.

    The model scores each user from their current plays (new plays count without retraining)
    and, if it serves cold-start users, from demographics alone; other users get the fallback's
    list. ``diversity`` is the MMR strength for a listener with evenly spread tastes, scaled
    down for focused listeners; ``item_vectors`` (rows follow the model's catalogue) give the
    similarities.
    """
    served = servable_users(users, interactions, demographics="cold_user" in model.test_sets)
    parts = []
    step = users_per_batch(model)
    histories, bounds = plays_by_batch(interactions, served, step)
    genres = histories[[s.USER_ID, s.TRACK_ID]].merge(tracks[[s.TRACK_ID, s.GENRE]])
    played = tracks[s.TRACK_ID].isin(interactions[s.TRACK_ID].unique())
    n_genres = tracks.loc[played, s.GENRE].nunique()
    strengths = personal_strength(genres, diversity, served, s.USER_ID, s.GENRE, n_genres)
    catalogue = model.data.matrix.track_ids
    track_index = pd.Index(catalogue)
    for batch_number, start in enumerate(range(0, len(served), step)):
        batch = served[start : start + step]
        history = histories.iloc[bounds[batch_number] : bounds[batch_number + 1]]
        recs = model.recommend_with_history(batch, history, k=n_candidates)
        candidates = track_index.get_indexer(recs.track_ids.ravel()).reshape(recs.track_ids.shape)
        strength = strengths[start : start + step]
        picked, scores = mmr_rerank(candidates, recs.scores, item_vectors, k, strength)
        track_ids = np.where(picked >= 0, catalogue[np.maximum(picked, 0)], None)
        parts.append(Recommendations(batch, track_ids, scores).to_frame(model.name, version))
    user_ids = users[s.USER_ID].to_numpy(dtype=object)
    rest = user_ids[~users[s.USER_ID].isin(served).to_numpy()]
    if len(rest):
        parts.append(recommend_all(fallback, rest, k, model_version()))
    return pd.concat(parts, ignore_index=True)[s.RECOMMENDATION_COLUMNS]


def plays_by_batch(
    interactions: pd.DataFrame, user_ids: np.ndarray, step: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """The plays of ``user_ids`` in their order, and where the plays of each batch of ``step``
    users start (one more entry: the end), so that a batch takes its plays as a slice instead
    of searching every play again."""
    position = pd.Index(user_ids, dtype=object).get_indexer(interactions[s.USER_ID])
    order = np.argsort(position, kind="stable")
    order = order[position[order] >= 0]
    starts = np.append(np.arange(0, len(user_ids), step), len(user_ids))
    bounds = np.searchsorted(position[order], starts)
    return interactions[[s.USER_ID, s.TRACK_ID, s.PLAYS]].iloc[order], bounds


def servable_users(
    users: pd.DataFrame, interactions: pd.DataFrame, demographics: bool
) -> np.ndarray:
    """Users a model can place: those with plays and, if it reads demographics, those with a
    known age group or gender."""
    placed = users[s.USER_ID].isin(interactions[s.USER_ID])
    if demographics:
        placed |= (users[s.AGE_GROUP] != s.AGE_GROUP_UNKNOWN) | (
            users[s.GENDER] != s.GENDER_UNKNOWN
        )
    return users.loc[placed, s.USER_ID].to_numpy(dtype=object)


def segment_popularity(
    interactions: pd.DataFrame, users: pd.DataFrame, tracks: pd.DataFrame
) -> SegmentPopularity:
    """Popularity per demographic segment over every play so far: fallback and cold-start lists."""
    return SegmentPopularity().fit(TrainingData(interactions, users, tracks))


def serving_tables(
    recommendations: pd.DataFrame,
    new_tracks: pd.DataFrame,
    cold_start: pd.DataFrame,
    users: pd.DataFrame,
    tracks: pd.DataFrame,
    plays: pd.DataFrame,
    audiences: pd.DataFrame,
    source: str,
) -> dict[str, pd.DataFrame]:
    """The tables published for SQL users and for serving processes, with a one-row
    description of the publication.

    Besides the lists (each listener's, each listener's new tracks, each segment's for new
    listeners), the database holds what a serving process needs to answer new
    questions from the same snapshot: every play so far, the users and tracks with their
    features, and which model serves each audience (``served_models``); ``about`` names the
    model serving listeners with plays.
    """
    warm = audiences[audiences[AUDIENCE] == WARM_USERS].iloc[0]
    about = pd.DataFrame(
        {
            "published_at": [pd.Timestamp.now(tz="UTC").tz_convert(None)],
            "source": [source],
            "model_name": [warm[s.MODEL_NAME]],
            "model_version": pd.Series([warm[s.MODEL_VERSION]], dtype="string"),
            "users": [len(users)],
            "tracks": [len(tracks)],
        }
    )
    return {
        "recommendations": recommendations,
        "new_track_recommendations": new_tracks,
        "cold_start_recommendations": cold_start,
        "tracks": _published(tracks),
        "users": _published(users),
        "plays": plays[_PLAY_COLUMNS],
        "served_models": audiences.astype({s.MODEL_VERSION: "string"}),
        "about": about,
    }


def _published(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if c not in _UNPUBLISHED]]
