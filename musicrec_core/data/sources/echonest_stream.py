"""The Echo Nest Taste Profile folder (layout in ``echonest``) read as it is published, as the
plays and tracks streams of the files source, with nothing converted on disk first."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from musicrec_core.data import schema as s
from musicrec_core.data.sources.echonest import (
    METADATA,
    METADATA_COLUMNS,
    TRIPLET_FIELDS,
    TRIPLETS,
    UNKNOWN_YEAR,
)
from musicrec_core.data.sources.raw_batches import SourceError, raw_batch
from musicrec_core.data.sources.readers import TableFile

logger = logging.getLogger(__name__)


def open_echonest(folder: Path) -> dict[str, list[TableFile]]:
    """The folder's tables: the triplets as plays, the song metadata as tracks, no users."""
    plays = EchoNestPlays(folder / TRIPLETS)
    return {"users": [], "tracks": [EchoNestTracks(folder / METADATA, plays)], "plays": [plays]}


class EchoNestPlays(TableFile):
    """The header-less triplets as plays, less the last user, whom the extract may cut off."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "plays", str(path), names=TRIPLET_FIELDS)

    def batches(self) -> Iterator[pa.RecordBatch]:
        user, rows = yield from self.complete_users()
        if rows:
            logger.info(
                "%s: dropped the last user %s (%d rows, possibly cut off)", self.label, user, rows
            )

    def complete_users(self) -> Generator[pa.RecordBatch, None, tuple[str | None, int]]:
        """Every row but the trailing ones of the last row's user; returns that user and the
        number of rows dropped. Rows are grouped by user, so those are all of its rows."""
        return without_last_user(super().batches())


class EchoNestTracks(TableFile):
    """The song metadata as tracks, year 0 as missing, then a row holding only the id of each
    played song the metadata lacks (sorted by id, provenance its first play), so that plays of
    those songs are kept, as ``prepare_echonest`` keeps them; finding them reads the triplets
    once more, a stream like the plays."""

    def __init__(self, path: Path, plays: EchoNestPlays) -> None:
        super().__init__(path, "tracks", str(path))
        self.plays = plays
        found = {self.header[i]: column for i, column in self.mapping.items()}
        if found != METADATA_COLUMNS:
            raise SourceError(
                f"{self.label}: line 1: expected the song metadata columns "
                f"{', '.join(METADATA_COLUMNS)}, found {', '.join(self.header)}"
            )

    def batches(self) -> Iterator[pa.RecordBatch]:
        known: set[str] = set()
        for batch in super().batches():
            known.update(v for v in batch.column(s.TRACK_ID).to_pylist() if v is not None)
            yield _unknown_year_missing(batch)
        ids, rows = _first_plays_of_unknown(self.plays.complete_users(), known)
        if ids:
            logger.info("%s: %d played songs have no metadata", self.label, len(ids))
            yield raw_batch(
                {s.TRACK_ID: pa.array(ids, pa.string())}, "tracks", self.plays.label, rows
            )


def without_last_user(
    batches: Iterable[pa.RecordBatch],
) -> Generator[pa.RecordBatch, None, tuple[str | None, int]]:
    """Raw plays batches less the trailing rows that share the last row's user id; returns that
    user and the number of rows held back."""
    held: list[pa.RecordBatch] = []
    held_user: str | None = None
    for batch in batches:
        if not batch.num_rows:
            continue
        users = batch.column(s.USER_ID)
        last = users[-1].as_py()
        same = pc.fill_null(pc.equal(users, pa.scalar(last, pa.string())), False)
        differs = np.flatnonzero(~same.to_numpy(zero_copy_only=False))
        start = int(differs[-1]) + 1 if len(differs) else 0
        if start or last != held_user:
            yield from held
            held = []
        if start:
            yield batch.slice(0, start)
        held.append(batch.slice(start))
        held_user = last
    return held_user, sum(b.num_rows for b in held)


def _unknown_year_missing(batch: pa.RecordBatch) -> pa.RecordBatch:
    year = batch.column(s.RELEASE_DATE)
    unknown = pc.fill_null(pc.equal(year, UNKNOWN_YEAR), False)
    arrays = [
        pc.if_else(unknown, pa.scalar(None, pa.string()), year) if name == s.RELEASE_DATE else col
        for name, col in zip(batch.schema.names, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def _first_plays_of_unknown(
    plays: Iterable[pa.RecordBatch], known: set[str]
) -> tuple[list[str], np.ndarray]:
    """The played track ids outside ``known``, sorted, and the source row of each one's first
    play."""
    known_ids = pa.array(sorted(known), pa.string())
    first: dict[str, int] = {}
    for batch in plays:
        ids = batch.column(s.TRACK_ID)
        unknown = pc.and_(pc.invert(pc.is_in(ids, value_set=known_ids)), pc.is_valid(ids))
        table = pa.table({"id": ids, "row": batch.column(s.SOURCE_ROW)}).filter(unknown)
        grouped = table.group_by("id").aggregate([("row", "min")])
        for track, row in zip(
            grouped["id"].to_pylist(), grouped["row_min"].to_pylist(), strict=True
        ):
            first.setdefault(track, row)
    ids = sorted(first)
    return ids, np.array([first[i] for i in ids], dtype=np.int64)
