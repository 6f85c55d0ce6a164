"""The published serving database read into memory: one consistent snapshot to answer from.

The database is replaced by an atomic rename on every publication, so a snapshot read from one
file is always complete; ``file_stamp`` tells a reader when a newer one has been published.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from musicrec_core.answers.errors import NoServingDatabase
from musicrec_core.data import schema as s

SNAPSHOT_TABLES = (
    "tracks",
    "users",
    "plays",
    "served_models",
    "recommendations",
    "new_track_recommendations",
    "cold_start_recommendations",
    "about",
)
Stamp = tuple[int, int, int]  # inode, modification time (ns), size of the database file


def file_stamp(path: Path) -> Stamp | None:
    """What identifies one publication of the database file; None while there is none."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@dataclass(frozen=True)
class Snapshot:
    """Every table a serving process needs, read from one publication."""

    path: Path
    stamp: Stamp
    tables: dict[str, pd.DataFrame]

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        """Read the database at ``path``; ``NoServingDatabase`` names what is missing."""
        stamp = file_stamp(path)
        if stamp is None:
            raise NoServingDatabase(
                f"no serving database at {path} yet: run `musicrec demo` (or materialise "
                "serving_database) first"
            )
        try:
            with duckdb.connect(str(path), read_only=True) as con:
                present = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
                missing = [name for name in SNAPSHOT_TABLES if name not in present]
                if missing:
                    raise NoServingDatabase(
                        f"{path} has no table {', '.join(missing)}: it was published by an "
                        "earlier version; materialise serving_database again"
                    )
                tables = {
                    name: con.execute(f'SELECT * FROM "{name}"').df() for name in SNAPSHOT_TABLES
                }
        except duckdb.Error as error:
            first_line = str(error).splitlines()[0]
            raise NoServingDatabase(f"{path} cannot be read: {first_line}") from error
        return cls(path, stamp, tables)

    @property
    def published_at(self) -> str:
        """When the pipeline published this snapshot (UTC)."""
        return str(self.tables["about"]["published_at"].iloc[0])


@dataclass(frozen=True)
class PublishedList:
    """One listener's published list: catalogue columns best first, their ranks and scores,
    and the model that ranked it."""

    tracks: np.ndarray
    ranks: np.ndarray
    scores: np.ndarray
    model_name: str
    model_version: str | None


class PublishedLists:
    """Each listener's published list as slices of arrays sorted once at load, so a lookup
    builds no frame."""

    def __init__(self, recommendations: pd.DataFrame, track_index: pd.Index) -> None:
        """``track_index``: the catalogue's track ids, whose positions the lists hold."""
        rows = recommendations.sort_values([s.USER_ID, s.RANK], kind="stable")
        users = rows[s.USER_ID].to_numpy(dtype=object)
        self.users, starts = np.unique(users, return_index=True)
        self.bounds = np.append(starts, len(users))
        self.tracks = track_index.get_indexer(rows[s.TRACK_ID])
        self.ranks = rows[s.RANK].to_numpy(dtype=np.int64)
        self.scores = rows[s.SCORE].to_numpy(dtype=float)
        self.names = rows[s.MODEL_NAME].to_numpy(dtype=object)
        self.versions = rows[s.MODEL_VERSION].to_numpy(dtype=object)

    def get(self, user_id: str) -> PublishedList | None:
        """The listener's list, or None when nothing was published for them."""
        at = int(np.searchsorted(self.users, user_id))
        if at == len(self.users) or self.users[at] != user_id:
            return None
        rows = slice(self.bounds[at], self.bounds[at + 1])
        known = self.tracks[rows] >= 0  # every published track is in the same snapshot
        return PublishedList(
            self.tracks[rows][known],
            self.ranks[rows][known],
            self.scores[rows][known],
            str(self.names[rows.start]),
            optional_text(self.versions[rows.start]),
        )


def optional_text(value: object) -> str | None:
    """A table cell as text, None where it is missing (None or NaN)."""
    return None if value is None or pd.isna(value) else str(value)
