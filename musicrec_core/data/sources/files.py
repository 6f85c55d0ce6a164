"""A folder of plays (required), tracks and users (optional) files, CSV or Parquet.

Each table is either one file named after it (``plays.csv``, ``tracks.parquet``, ...) or a
sub-folder of that name holding any number of such files (the landing-folder layout). A folder
with neither plays nor tracks files that holds the Echo Nest Taste Profile as published (see
``echonest``) is read in that layout instead.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from musicrec_core.data import schema
from musicrec_core.data.sources.echonest import METADATA, TRIPLETS, is_echonest_folder
from musicrec_core.data.sources.echonest_stream import open_echonest
from musicrec_core.data.sources.raw_batches import SourceError
from musicrec_core.data.sources.readers import TableFile, batches_frame, is_supported

logger = logging.getLogger(__name__)

TABLES = schema.TABLES


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


def open_tables(folder: Path) -> dict[str, list[TableFile]]:
    """Every table's files in a folder, opened and checked (headers, required columns); plays
    are required, users and tracks optional."""
    if not folder.is_dir():
        raise SourceError(f"{folder}: the files source needs a folder, and this is not one")
    files = {
        table: [TableFile(p, table, str(p)) for p in table_files(folder, table)] for table in TABLES
    }
    if not files["plays"] and not files["tracks"] and is_echonest_folder(folder):
        logger.info(
            "%s: reading the Echo Nest Taste Profile layout (%s, %s)", folder, TRIPLETS, METADATA
        )
        return open_echonest(folder)
    if not files["plays"]:
        raise SourceError(
            f"{folder}: no plays file found (expected plays.csv, plays.parquet or plays/*.csv, "
            f"or the Echo Nest Taste Profile's {TRIPLETS} and {METADATA})"
        )
    return files


def load_files(folder: Path) -> schema.RawTables:
    """Read every table's files from a folder into raw frames (for small folders and tests)."""
    frames = {}
    for table, files in open_tables(folder).items():
        parts = [batches_frame(f.batches(), table) for f in files]
        frames[table] = (
            pd.concat(parts, ignore_index=True) if parts else schema.empty_raw_frame(table)
        )
    return schema.RawTables(**frames)
