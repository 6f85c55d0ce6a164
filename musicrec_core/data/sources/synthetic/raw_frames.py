"""The generated users, tracks and plays as raw text frames, as a CSV source would deliver them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from musicrec_core.data import schema
from musicrec_core.data.sources.synthetic.entities import Artists, Tracks, Users
from musicrec_core.data.sources.synthetic.genres import GENRE_NAMES
from musicrec_core.data.sources.synthetic.plays import Plays
from musicrec_core.data.sources.synthetic.truth import GroundTruth


# --- raw frames ------------------------------------------------------------------------------
def _as_text(values: np.ndarray, decimals: int | None = None) -> np.ndarray:
    """Numbers as a CSV reader would give them: ints without ".0", floats rounded."""
    if decimals is None:
        return values.astype(np.int64).astype(str).astype(object)
    return np.round(values, decimals).astype(str).astype(object)


def users_frame(users: Users) -> pd.DataFrame:
    columns = {
        schema.USER_ID: users.ids,
        schema.AGE: _as_text(users.age),
        schema.GENDER: users.gender,
    }
    return pd.DataFrame(columns, columns=schema.USER_COLUMNS)


_DECIMALS = {schema.DURATION: 2, schema.LOUDNESS: 3, schema.TEMPO: 3}


def tracks_frame(tracks: Tracks, artists: Artists) -> pd.DataFrame:
    columns = {
        schema.TRACK_ID: tracks.ids,
        schema.TRACK_NAME: tracks.names,
        schema.ARTIST_NAME: artists.names[tracks.artist],
        schema.FEATURED_ARTISTS: tracks.featured,
        schema.GENRE: np.asarray(GENRE_NAMES, dtype=object)[tracks.genre],
        schema.RELEASE_DATE: tracks.release_date,
    }
    for col in (*schema.AUDIO_FEATURES, schema.DURATION):
        columns[col] = _as_text(tracks.features[col], _DECIMALS.get(col, 4))
    for col in schema.INTEGER_RANGES:
        columns[col] = _as_text(tracks.features[col])
    return pd.DataFrame(columns, columns=schema.TRACK_COLUMNS)


def plays_frame(plays: Plays, truth: GroundTruth) -> pd.DataFrame:
    count_text = _as_text(np.arange(plays.plays.max() + 1))  # one string object per distinct count
    columns = {
        schema.USER_ID: truth.user_ids[plays.user],
        schema.TRACK_ID: truth.track_ids[plays.track],
        schema.PLAYS: count_text[plays.plays],
        schema.PLAYED_AT: _timestamp_text(plays.played_at),
    }
    return pd.DataFrame(columns, columns=schema.PLAY_COLUMNS)


def _timestamp_text(stamps: np.ndarray, batch: int = 1_000_000) -> np.ndarray:
    """ "YYYY-MM-DD HH:MM:SS" strings, a batch at a time to bound the temporary memory."""
    text = np.empty(len(stamps), dtype=object)
    for start in range(0, len(stamps), batch):
        iso = np.datetime_as_string(stamps[start : start + batch], unit="s")
        iso.view(np.uint32).reshape(len(iso), -1)[:, 10] = ord(" ")  # "T" -> " "
        text[start : start + batch] = iso
    return text


def add_provenance(frame: pd.DataFrame, table: str) -> None:
    frame[schema.SOURCE_FILE] = np.full(len(frame), f"synthetic:{table}", dtype=object)
    frame[schema.SOURCE_ROW] = np.arange(1, len(frame) + 1, dtype=np.int64)
    frame[schema.READ_ERROR] = None
