"""The raw layout of a table: every field as text, known column names, provenance.

Header names are matched case-insensitively and through a few common aliases (``song_id``,
``listen_count``, ...); columns the schema does not know are dropped and reported. Text is
stripped and the usual "no value" spellings become null, the same for every source.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from musicrec_core.data import schema

logger = logging.getLogger(__name__)

COLUMN_ALIASES = {
    "userid": schema.USER_ID,
    "user": schema.USER_ID,
    "song_id": schema.TRACK_ID,
    "songid": schema.TRACK_ID,
    "music_id": schema.TRACK_ID,
    "trackid": schema.TRACK_ID,
    "item_id": schema.TRACK_ID,
    "listen_count": schema.PLAYS,
    "play_count": schema.PLAYS,
    "playcount": schema.PLAYS,
    "count": schema.PLAYS,
    "timestamp": schema.PLAYED_AT,
    "title": schema.TRACK_NAME,
    "music": schema.TRACK_NAME,
    "name": schema.TRACK_NAME,
    "artist": schema.ARTIST_NAME,
    "track_artist": schema.ARTIST_NAME,
    "year": schema.RELEASE_DATE,
    "sex": schema.GENDER,
}
# Strings that mean "no value" in the files people export.
NA_STRINGS = {"", "na", "n/a", "nan", "null", "none", "<na>", "nat"}
BATCH_ROWS = 1 << 18
_NA_VALUES = pa.array(sorted(NA_STRINGS), type=pa.string())


class SourceError(ValueError):
    """A source file that cannot be read at all; the message names the file and the problem."""


@dataclass
class ReadResult:
    """One file read into a raw frame, with the header names it ignored."""

    frame: pd.DataFrame
    ignored_columns: list[str] = field(default_factory=list)


def canonical_column(name: str) -> str:
    """Map a header name to the schema's name (case-insensitive, aliases applied)."""
    key = name.strip().lower().replace(" ", "_")
    return COLUMN_ALIASES.get(key, key)


def raw_schema(table: str) -> pa.Schema:
    """The Arrow schema of a raw batch of ``table``."""
    return pa.schema(
        [
            (col, pa.int64() if col == schema.SOURCE_ROW else pa.string())
            for col in schema.RAW_COLUMNS[table]
        ]
    )


def column_mapping(
    names: list[str], table: str, source_label: str
) -> tuple[dict[int, str], list[str]]:
    """{position in the file: schema column} for the header's known names, and the ignored ones.

    Raises SourceError when a required column is missing."""
    mapping: dict[int, str] = {}
    ignored: list[str] = []
    for position, original in enumerate(names):
        name = canonical_column(str(original))
        if name in schema.TABLE_COLUMNS[table] and name not in mapping.values():
            mapping[position] = name
        else:
            ignored.append(str(original))
    missing = [c for c in schema.REQUIRED_COLUMNS[table] if c not in mapping.values()]
    if missing:
        raise SourceError(
            f"{source_label}: missing required column(s) {', '.join(missing)} "
            f"for the {table} table (found: {', '.join(map(str, names)) or 'none'})"
        )
    if ignored:
        logger.info(
            "%s: ignoring columns the %s schema does not use: %s", source_label, table, ignored
        )
    return mapping, ignored


def normalise_text(values: pa.Array) -> pa.Array:
    """Values stripped of surrounding whitespace, the usual "no value" spellings as null."""
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    missing = pc.fill_null(pc.is_in(pc.utf8_lower(text), value_set=_NA_VALUES), True)
    return pc.if_else(missing, pa.scalar(None, pa.string()), text)


def raw_batch(
    columns: dict[str, pa.Array],
    table: str,
    source_label: str,
    rows: np.ndarray,
    read_errors: pa.Array | None = None,
) -> pa.RecordBatch:
    """A raw batch of ``table``: the given text columns normalised, absent ones null, and
    provenance. ``rows`` are the 1-based data rows the values came from."""
    n = len(rows)
    arrays = []
    for col in schema.TABLE_COLUMNS[table]:
        arrays.append(normalise_text(columns[col]) if col in columns else pa.nulls(n, pa.string()))
    arrays.append(pa.array(np.full(n, source_label, dtype=object), type=pa.string()))
    arrays.append(pa.array(np.asarray(rows, dtype=np.int64)))
    arrays.append(read_errors if read_errors is not None else pa.nulls(n, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=raw_schema(table))


def frame_batches(frame: pd.DataFrame, table: str) -> Iterator[pa.RecordBatch]:
    """A raw pandas frame (a generated or seed-format source) as raw Arrow batches, its text
    normalised as the file readers normalise it."""
    for start in range(0, len(frame), BATCH_ROWS):
        part = frame.iloc[start : start + BATCH_ROWS]
        arrays = []
        for col in schema.RAW_COLUMNS[table]:
            if col not in part:
                arrays.append(pa.nulls(len(part), pa.string()))
            elif col in schema.TABLE_COLUMNS[table]:
                arrays.append(normalise_text(pa.array(part[col].to_numpy(), from_pandas=True)))
            else:
                arrays.append(pa.array(part[col].to_numpy(), raw_schema(table).field(col).type))
        yield pa.RecordBatch.from_arrays(arrays, schema=raw_schema(table))


def to_raw_frame(frame: pd.DataFrame, table: str, source_label: str) -> ReadResult:
    """Rename, select and stringify columns of an already loaded frame into the raw layout."""
    mapping, ignored = column_mapping([str(c) for c in frame.columns], table, source_label)
    columns = {
        col: pa.array(frame.iloc[:, position].astype("string").to_numpy(na_value=None), pa.string())
        for position, col in mapping.items()
    }
    batch = raw_batch(columns, table, source_label, np.arange(1, len(frame) + 1))
    return ReadResult(object_text(batch.to_pandas()), ignored)


def object_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as object arrays holding str or None, as the raw frames have always held."""
    for col in frame.columns:
        if col != schema.SOURCE_ROW:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame
