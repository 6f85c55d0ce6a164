"""The Echo Nest Taste Profile folder as published, and its conversion to plays.csv/tracks.csv.

``10000_head.txt`` holds tab-separated user, song, listen count triplets with no header, rows
grouped by user; ``song_metadata_derived.csv`` holds song_id, title, release, artist_name and
year (0 means unknown). The last user of a head-of-file extract may be cut off, so it is dropped.
The constants below are the one statement of that layout: the files source reads the folder
through them (``echonest_stream``) and ``prepare_echonest`` writes it out with them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from musicrec_core.data import schema as s

logger = logging.getLogger(__name__)

TRIPLETS = "10000_head.txt"
METADATA = "song_metadata_derived.csv"
# The triplets' fields in file order: user, song, listen count.
TRIPLET_FIELDS = [s.USER_ID, s.TRACK_ID, s.PLAYS]
# The metadata columns that are read, and the schema column each becomes; "release" is not used.
METADATA_COLUMNS = {
    "song_id": s.TRACK_ID,
    "title": s.TRACK_NAME,
    "artist_name": s.ARTIST_NAME,
    "year": s.RELEASE_DATE,
}
UNKNOWN_YEAR = "0"


def is_echonest_folder(folder: Path) -> bool:
    """True when the folder holds the Taste Profile triplets and their song metadata."""
    return (folder / TRIPLETS).is_file() and (folder / METADATA).is_file()


def prepare_echonest(source_dir: Path, out_dir: Path, drop_last_user: bool = True) -> Path:
    """Write plays.csv and tracks.csv under out_dir; returns out_dir. Every played song the
    metadata lacks gets a tracks row with its id alone, after the others, sorted by id."""
    plays = pd.read_csv(
        source_dir / TRIPLETS, sep="\t", header=None, names=TRIPLET_FIELDS, dtype=str
    )
    if drop_last_user and len(plays):
        last = plays[s.USER_ID].iloc[-1]
        plays = plays[plays[s.USER_ID] != last]
        logger.info("dropped the last user %s (possibly cut off)", last)
    songs = pd.read_csv(source_dir / METADATA, dtype=str)
    tracks = songs[list(METADATA_COLUMNS)].rename(columns=METADATA_COLUMNS)
    tracks[s.RELEASE_DATE] = tracks[s.RELEASE_DATE].where(tracks[s.RELEASE_DATE] != UNKNOWN_YEAR)
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
