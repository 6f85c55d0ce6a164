"""A folder of plays (required), tracks and users (optional) files, CSV or Parquet.

Each table is either one file named after it (``plays.csv``, ``tracks.parquet``, ...) or a
sub-folder of that name holding any number of such files (the landing-folder layout).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from musicrec_core.data import schema
from musicrec_core.data.sources.readers import SourceError, is_supported, read_table_file

logger = logging.getLogger(__name__)

TABLES = ("users", "tracks", "plays")


def table_files(folder: Path, table: str) -> list[Path]:
    """The files holding one table in a folder, in a stable order, never outside the folder."""
    root = folder.resolve()
    candidates = [p for p in folder.glob(f"{table}.*") if is_supported(p)]
    sub = folder / table
    if sub.is_dir():
        candidates += [p for p in sub.iterdir() if is_supported(p)]
    inside = []
    for path in sorted(candidates):
        if path.is_symlink() or not path.resolve().is_relative_to(root):
            logger.warning("%s: skipped, it points outside %s", path, root)
            continue
        inside.append(path)
    return inside


def load_files(folder: Path) -> schema.RawTables:
    """Read every table's files from a folder; plays are required, users and tracks optional."""
    if not folder.is_dir():
        raise SourceError(f"{folder}: the files source needs a folder, and this is not one")
    frames = {table: _read_table(folder, table) for table in TABLES}
    if frames["plays"] is None:
        raise SourceError(
            f"{folder}: no plays file found (expected plays.csv, plays.parquet or plays/*.csv)"
        )
    return schema.RawTables(
        **{t: f if f is not None else schema.empty_raw_frame(t) for t, f in frames.items()}
    )


def _read_table(folder: Path, table: str) -> pd.DataFrame | None:
    paths = table_files(folder, table)
    if not paths:
        return None
    parts = [read_table_file(p, table, str(p)).frame for p in paths]
    return pd.concat(parts, ignore_index=True)
