"""Engineered user and track feature tables, and the frame the preprocessor is fitted on."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from musicrec_core.data import features
from musicrec_core.data import schema as s


def user_features(users: pd.DataFrame, interactions: pd.DataFrame) -> pd.DataFrame:
    """Validated users plus age group (Unknown where age was imputed) and listening activity."""
    out = features.add_user_features(users)
    age_imputed = out[s.IMPUTED_COLUMNS].str.contains(rf"(?:^|,){s.AGE}(?:,|$)")
    out.loc[age_imputed, s.AGE_GROUP] = s.AGE_GROUP_UNKNOWN
    activity = interactions.groupby(s.USER_ID).agg(
        n_tracks=(s.TRACK_ID, "size"), total_plays=(s.PLAYS, "sum")
    )
    out = out.join(activity, on=s.USER_ID)
    out[["n_tracks", "total_plays"]] = out[["n_tracks", "total_plays"]].fillna(0).astype("int64")
    return out


def track_features(
    tracks: pd.DataFrame, interactions: pd.DataFrame, reference_year: int | None = None
) -> pd.DataFrame:
    """Validated tracks plus music age, interaction features and listener counts."""
    year = reference_year or dt.datetime.now(dt.UTC).year
    out = features.add_track_features(tracks, year)
    listeners = interactions.groupby(s.TRACK_ID).agg(
        n_listeners=(s.USER_ID, "size"), total_plays=(s.PLAYS, "sum")
    )
    out = out.join(listeners, on=s.TRACK_ID)
    out[["n_listeners", "total_plays"]] = (
        out[["n_listeners", "total_plays"]].fillna(0).astype("int64")
    )
    return out


def merged_interactions(
    interactions: pd.DataFrame, users: pd.DataFrame, tracks: pd.DataFrame
) -> pd.DataFrame:
    """One row per user-track pair with the user's and the track's fields (the seed's layout)."""
    user_cols = [s.USER_ID, s.AGE, s.GENDER]
    track_cols = [c for c in s.TRACK_COLUMNS if c != s.TRACK_ID] + [s.RELEASE_YEAR]
    merged = interactions.merge(users[user_cols], on=s.USER_ID, how="left")
    return merged.merge(tracks[[s.TRACK_ID, *track_cols]], on=s.TRACK_ID, how="left")
