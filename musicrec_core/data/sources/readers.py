"""Read CSV or Parquet files into raw frames: text values, known column names, provenance.

Header names are matched case-insensitively and through a few common aliases (``song_id``,
``listen_count``, ...). Columns the schema does not know are dropped and reported.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

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
SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet")
_DELIMITERS = ",\t;|"
# Strings that mean "no value" in the files people export.
NA_STRINGS = {"", "na", "n/a", "nan", "null", "none", "<na>", "nat"}


class SourceError(ValueError):
    """A source file that cannot be read at all; the message names the file and the problem."""


@dataclass
class ReadResult:
    """One file read into a raw frame, with the header names it ignored."""

    frame: pd.DataFrame
    ignored_columns: list[str] = field(default_factory=list)


def is_supported(path: Path) -> bool:
    """True when the file name ends in a format the readers understand."""
    return path.name.lower().endswith(SUPPORTED_SUFFIXES)


def canonical_column(name: str) -> str:
    """Map a header name to the schema's name (case-insensitive, aliases applied)."""
    key = name.strip().lower().replace(" ", "_")
    return COLUMN_ALIASES.get(key, key)


def read_table_file(path: Path, table: str, source_label: str | None = None) -> ReadResult:
    """Read one users/tracks/plays file into a raw frame; raise SourceError if it is unusable."""
    label = source_label or str(path)
    if not path.is_file():
        raise SourceError(f"{label}: not a file")
    if path.stat().st_size == 0:
        raise SourceError(f"{label}: the file is empty (0 bytes)")
    if path.name.lower().endswith(".parquet"):
        frame = _read_parquet(path, label)
    else:
        frame = _read_delimited(path, label)
    return to_raw_frame(frame, table, label)


def to_raw_frame(frame: pd.DataFrame, table: str, source_label: str) -> ReadResult:
    """Rename, select and stringify columns of an already loaded frame into the raw layout."""
    renamed: dict[str, str] = {}
    ignored: list[str] = []
    for original in frame.columns:
        name = canonical_column(str(original))
        if name in schema.TABLE_COLUMNS[table] and name not in renamed.values():
            renamed[original] = name
        else:
            ignored.append(str(original))
    missing_required = [c for c in schema.REQUIRED_COLUMNS[table] if c not in renamed.values()]
    if missing_required:
        raise SourceError(
            f"{source_label}: missing required column(s) {', '.join(missing_required)} "
            f"for the {table} table (found: {', '.join(map(str, frame.columns)) or 'none'})"
        )
    if ignored:
        logger.info(
            "%s: ignoring columns the %s schema does not use: %s", source_label, table, ignored
        )
    out = frame[list(renamed)].rename(columns=renamed)
    raw = pd.DataFrame(index=range(len(out)))
    for col in schema.TABLE_COLUMNS[table]:
        raw[col] = as_text(out[col]) if col in out.columns else None
    raw[schema.SOURCE_FILE] = source_label
    raw[schema.SOURCE_ROW] = pd.RangeIndex(1, len(raw) + 1, dtype="int64")
    return ReadResult(raw, ignored)


def as_text(values: pd.Series) -> pd.Series:
    """Values as stripped strings, with the usual "no value" spellings turned into None."""
    text = values.astype("string").str.strip()
    missing = (text.isna() | text.str.lower().isin(NA_STRINGS)).fillna(True).astype(bool)
    return text.astype(object).where(~missing, None)


def _read_parquet(path: Path, label: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:
        raise SourceError(f"{label}: not a readable Parquet file ({exc})") from exc


def _read_delimited(path: Path, label: str) -> pd.DataFrame:
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    header = text.split("\n", 1)[0]
    if not header.strip():
        raise SourceError(f"{label}: line 1: the header line is empty")
    delimiter = _sniff_delimiter(header)
    try:
        return pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
        )
    except pd.errors.ParserError as exc:
        raise SourceError(f"{label}: cannot parse as delimited text ({exc})") from exc


def _sniff_delimiter(header: str) -> str:
    try:
        return csv.Sniffer().sniff(header, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","
