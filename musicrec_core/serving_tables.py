"""The tables and views of the serving database, built from pipeline outputs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from musicrec_core import schema as s
from musicrec_core.baselines import SegmentPopularity, segment_recommendations
from musicrec_core.recommender import Recommender, TrainingData, model_version

logger = logging.getLogger(__name__)

BATCH_USERS = 1024

SERVING_VIEWS = {
    "recommendations_named": f"""
        SELECT r.{s.USER_ID}, r.{s.RANK}, r.{s.TRACK_ID}, t.{s.TRACK_NAME}, t.{s.ARTIST_NAME},
               t.{s.GENRE}, t.{s.RELEASE_YEAR}, r.{s.SCORE}, r.{s.MODEL_NAME}, r.{s.MODEL_VERSION},
               r.{s.GENERATED_AT}
        FROM recommendations r JOIN tracks t USING ({s.TRACK_ID})""",
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

_TRACK_COLUMNS = [
    s.TRACK_ID,
    s.TRACK_NAME,
    s.ARTIST_NAME,
    s.FEATURED_ARTISTS,
    s.GENRE,
    s.RELEASE_YEAR,
    s.DURATION,
    *s.AUDIO_FEATURES,
    "n_listeners",
    "total_plays",
]
_USER_COLUMNS = [s.USER_ID, s.AGE, s.GENDER, s.AGE_GROUP, "n_tracks", "total_plays"]


@dataclass
class ServedRecommendations:
    """A recommendations table and the model that made it."""

    frame: pd.DataFrame
    model_name: str
    model_version: str


def recommend_all(model: Recommender, user_ids: np.ndarray, k: int, version: str) -> pd.DataFrame:
    """Top-k for every user, in batches so memory stays bounded on large catalogues."""
    parts = [
        model.recommend(user_ids[i : i + BATCH_USERS], k=k).to_frame(model.name, version)
        for i in range(0, len(user_ids), BATCH_USERS)
    ]
    if not parts:
        return pd.DataFrame(columns=s.RECOMMENDATION_COLUMNS)
    return pd.concat(parts, ignore_index=True)[s.RECOMMENDATION_COLUMNS]


def user_recommendations(
    interactions: pd.DataFrame, users: pd.DataFrame, tracks: pd.DataFrame, k: int
) -> ServedRecommendations:
    """Top-k for every known user from popularity in their demographic segment."""
    model = SegmentPopularity().fit(TrainingData(interactions, users, tracks))
    version = model_version()
    frame = recommend_all(model, users[s.USER_ID].to_numpy(dtype=object), k, version)
    return ServedRecommendations(frame, model.name, version)


def segment_top_k(
    interactions: pd.DataFrame, users: pd.DataFrame, tracks: pd.DataFrame, k: int
) -> pd.DataFrame:
    """Top-k per demographic segment, for new users known only by age and gender."""
    model = SegmentPopularity().fit(TrainingData(interactions, users, tracks))
    return segment_recommendations(model, users, k)


def serving_tables(
    recommendations: pd.DataFrame,
    cold_start: pd.DataFrame,
    users: pd.DataFrame,
    tracks: pd.DataFrame,
    source: str,
) -> dict[str, pd.DataFrame]:
    """The tables published for SQL users, with a one-row description of the publication."""
    about = pd.DataFrame(
        {
            "published_at": [pd.Timestamp.now(tz="UTC").tz_convert(None)],
            "source": [source],
            "model_name": [recommendations[s.MODEL_NAME].iloc[0] if len(recommendations) else None],
            "model_version": [
                recommendations[s.MODEL_VERSION].iloc[0] if len(recommendations) else None
            ],
            "users": [len(users)],
            "tracks": [len(tracks)],
        }
    )
    return {
        "recommendations": recommendations,
        "cold_start_recommendations": cold_start,
        "tracks": tracks[_TRACK_COLUMNS],
        "users": users[_USER_COLUMNS],
        "about": about,
    }
