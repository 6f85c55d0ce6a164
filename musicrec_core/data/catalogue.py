"""The frame the preprocessor is fitted on: interactions with their user's and track's fields."""

from __future__ import annotations

import pandas as pd

from musicrec_core.data import schema as s


def merged_interactions(
    interactions: pd.DataFrame, users: pd.DataFrame, tracks: pd.DataFrame
) -> pd.DataFrame:
    """One row per user-track pair with the user's and the track's fields (the seed's layout)."""
    user_cols = [s.USER_ID, s.AGE, s.GENDER]
    track_cols = [c for c in s.TRACK_COLUMNS if c != s.TRACK_ID] + [s.RELEASE_YEAR]
    merged = interactions.merge(users[user_cols], on=s.USER_ID, how="left")
    return merged.merge(tracks[[s.TRACK_ID, *track_cols]], on=s.TRACK_ID, how="left")
