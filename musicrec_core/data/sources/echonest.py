"""Turn the Echo Nest Taste Profile triplets into a folder the files source reads.

Input: ``10000_head.txt`` (tab-separated user, song, listen count; no header; rows grouped by
user) and ``song_metadata_derived.csv`` (song_id, title, release, artist_name, year; year 0 means
unknown). The last user of a head-of-file extract may be cut off, so it is dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from musicrec_core.data import schema as s

logger = logging.getLogger(__name__)

TRIPLETS = "10000_head.txt"
METADATA = "song_metadata_derived.csv"


def prepare_echonest(source_dir: Path, out_dir: Path, drop_last_user: bool = True) -> Path:
    """Write plays.csv and tracks.csv under out_dir; returns out_dir."""
    plays = pd.read_csv(
        source_dir / TRIPLETS,
        sep="\t",
        header=None,
        names=[s.USER_ID, s.TRACK_ID, s.PLAYS],
        dtype=str,
    )
    if drop_last_user and len(plays):
        last = plays[s.USER_ID].iloc[-1]
        plays = plays[plays[s.USER_ID] != last]
        logger.info("dropped the last user %s (possibly cut off)", last)
    songs = pd.read_csv(source_dir / METADATA, dtype=str)
    year = songs["year"].where(songs["year"] != "0")
    tracks = pd.DataFrame(
        {
            s.TRACK_ID: songs["song_id"],
            s.TRACK_NAME: songs["title"],
            s.ARTIST_NAME: songs["artist_name"],
            s.RELEASE_DATE: year,
        }
    )
    known = set(tracks[s.TRACK_ID])
    missing = sorted(set(plays[s.TRACK_ID]) - known)
    tracks = pd.concat([tracks, pd.DataFrame({s.TRACK_ID: missing})], ignore_index=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    plays.to_csv(out_dir / "plays.csv", index=False)
    tracks.to_csv(out_dir / "tracks.csv", index=False)
    logger.info(
        "echonest: %d plays, %d users, %d tracks (%d without metadata)",
        len(plays),
        plays[s.USER_ID].nunique(),
        len(tracks),
        len(missing),
    )
    return out_dir
