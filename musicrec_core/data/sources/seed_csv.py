"""The seed project's one-file format (one row per user-track pair) split into users, tracks, plays.

Users and tracks repeat across rows; each keeps the first row it appears on as its provenance, and
later rows that disagree with that first one are reported by validation as duplicates.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from musicrec_core.data import schema
from musicrec_core.data.sources.raw_batches import SourceError, to_raw_frame
from musicrec_core.data.sources.readers import read_table_file

# Seed column -> schema column; the rest of the seed's columns keep their names.
SEED_RENAMES = {"music": schema.TRACK_NAME, "music_id": schema.TRACK_ID}
# Seed columns that are derived or redundant and are recomputed by the platform.
SEED_DERIVED = ("age_group", "release_year", "id_artists")


def load_seed_csv(path: Path) -> schema.RawTables:
    """Split a seed-format CSV into raw users, tracks and plays, keeping the file row of each."""
    label = str(path)
    plays = read_table_file(path, "plays", label).frame
    whole = _read_all_columns(path, label)
    users = to_raw_frame(whole, "users", label).frame
    tracks = to_raw_frame(whole, "tracks", label).frame
    return schema.RawTables(
        users=_first_per_key(users, schema.USER_ID),
        tracks=_first_per_key(tracks, schema.TRACK_ID),
        plays=plays,
    )


def _read_all_columns(path: Path, label: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = frame.rename(columns=SEED_RENAMES).drop(columns=list(SEED_DERIVED), errors="ignore")
    if schema.TRACK_ID not in frame.columns:
        raise SourceError(f"{label}: missing required column music_id (the seed format's track id)")
    return frame


def _first_per_key(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """One raw row per identical record; distinct records sharing a key stay for validation."""
    content = [c for c in frame.columns if c not in schema.PROVENANCE_COLUMNS]
    return frame.drop_duplicates(subset=content, keep="first").reset_index(drop=True)
