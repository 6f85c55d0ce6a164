"""Landing folders: files delivered for ingestion, registered and archived by content.

Deliveries land in ``landing/plays/``, ``landing/tracks/`` and ``landing/users/``. A writer must
write under a hidden or ``.part`` / ``.tmp`` name and rename the file when it is complete
(write-then-rename); such names are never read, so a half-written file is never ingested.
Every complete file is copied into a content-addressed archive, recorded in the warehouse's
``landing_registry`` by its SHA-256 with a delivery number, and its rows are appended to the raw
tables under that number: the same content delivered again (under any name) is a no-op, a
corrected file is new content and is ingested. Files are only ever read from directly inside
those folders, never through a symlink or from a path that resolves elsewhere.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.data import warehouse
from musicrec_core.data.sources.raw_batches import SourceError
from musicrec_core.data.sources.readers import TableFile, is_supported
from musicrec_core.data.warehouse import REGISTRY, quoted

logger = logging.getLogger(__name__)

LANDING_TABLES = ("users", "tracks", "plays")
PENDING_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class LandedFile:
    """A complete file in a landing folder."""

    table: str
    path: Path
    landed_path: str  # relative to the landing root, with "/" separators
    size_bytes: int


def is_pending(path: Path) -> bool:
    """True for a file still being written: a hidden name or a temporary suffix."""
    name = path.name.lower()
    return name.startswith((".", "~")) or name.endswith(PENDING_SUFFIXES)


def landing_folders(root: Path) -> dict[str, Path]:
    """The landing folder of each table (created if missing)."""
    folders = {table: root / table for table in LANDING_TABLES}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def scan_landing(root: Path) -> list[LandedFile]:
    """Every complete, supported file directly inside the landing folders, sorted by path."""
    resolved_root = root.resolve()
    found = []
    for table, folder in landing_folders(root).items():
        for path in sorted(folder.iterdir()):
            if path.is_symlink() or not path.resolve().is_relative_to(resolved_root):
                logger.warning("%s: skipped, a link or a path outside %s", path, root)
                continue
            if not path.is_file() or is_pending(path):
                continue
            if not is_supported(path):
                logger.warning("%s: skipped, not a CSV, TSV or Parquet file", path)
                continue
            found.append(LandedFile(table, path, f"{table}/{path.name}", path.stat().st_size))
    return found


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


REGISTRY_TYPES = {
    s.DELIVERY: "BIGINT",
    s.SHA256: "VARCHAR",
    s.QUARANTINE_TABLE: "VARCHAR",
    s.LANDED_PATH: "VARCHAR",
    s.ARCHIVED_FILE: "VARCHAR",
    s.SIZE_BYTES: "BIGINT",
    s.ROWS: "BIGINT",
    s.STATUS: "VARCHAR",
    s.QUARANTINE_REASON: "VARCHAR",
    s.INGESTED_AT: "VARCHAR",
}


def ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    """Create the landing registry table if it does not exist yet; a registry written before
    deliveries were numbered gets its numbers, in the order its files were taken in."""
    if not warehouse.table_exists(con, REGISTRY):
        columns = ", ".join(f"{quoted(c)} {REGISTRY_TYPES[c]}" for c in s.LANDING_REGISTRY_COLUMNS)
        con.execute(f"CREATE TABLE {REGISTRY} ({columns})")
        return
    present = {row[0] for row in con.execute(f"DESCRIBE {REGISTRY}").fetchall()}
    if s.DELIVERY not in present:
        con.execute(f"ALTER TABLE {REGISTRY} ADD COLUMN {s.DELIVERY} BIGINT")
        con.execute(
            f"UPDATE {REGISTRY} SET {s.DELIVERY} = _n FROM (SELECT rowid AS _r, "
            f"row_number() OVER (ORDER BY rowid) AS _n FROM {REGISTRY}) WHERE rowid = _r"
        )


def registry_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The landing registry in delivery order (empty before the first delivery)."""
    ensure_registry(con)
    columns = ", ".join(quoted(c) for c in s.LANDING_REGISTRY_COLUMNS)
    return warehouse.frame(con, f"SELECT {columns} FROM {REGISTRY} ORDER BY {s.DELIVERY}")


@dataclass(frozen=True)
class IngestResult:
    """What an ingestion pass did: the registry rows it added, and what it skipped."""

    added: pd.DataFrame  # registry rows added by this pass
    repeated: list[str]  # landed paths whose content was already registered

    def summary(self) -> str:
        """One line for logs."""
        ingested = int((self.added[s.STATUS] == s.STATUS_INGESTED).sum())
        rejected = len(self.added) - ingested
        return (
            f"{ingested} new file(s) ingested, {rejected} rejected, "
            f"{len(self.repeated)} already-registered content skipped"
        )


def ingest_landing(
    con: duckdb.DuckDBPyConnection,
    landing_root: Path,
    archive: Path,
    now: datetime | None = None,
) -> IngestResult:
    """Archive, register and append to the raw tables every landed file whose content is new.

    Each file is one delivery, numbered in registration order, and is taken in within one
    transaction: its rows and its registry row, or (for a file that cannot be read as a whole:
    empty, no header, a missing column, damaged compression) only a registry row saying it was
    rejected and why, so the same bytes are not retried. Only the new file is read; nothing
    already registered is read again.
    """
    ensure_registry(con)
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    known = {row[0] for row in con.execute(f"SELECT {s.SHA256} FROM {REGISTRY}").fetchall()}
    last = con.execute(f"SELECT max({s.DELIVERY}) FROM {REGISTRY}").fetchone()[0]
    delivery = int(last or s.SOURCE_DELIVERY)
    added, repeated = [], []
    for landed in scan_landing(landing_root):
        if file_sha256(landed.path) in known:  # registered content is not copied again
            repeated.append(landed.landed_path)
            continue
        sha, archived = _archive(landed.path, archive)
        if sha in known:  # the file changed into registered content during the copy
            repeated.append(landed.landed_path)
            continue
        known.add(sha)
        row = {
            s.SHA256: sha,
            s.QUARANTINE_TABLE: landed.table,
            s.LANDED_PATH: landed.landed_path,
            s.ARCHIVED_FILE: archived.name,
            s.SIZE_BYTES: archived.stat().st_size,
            s.INGESTED_AT: stamp,
        }
        delivery += 1
        added.append(_take_in(con, {**row, s.DELIVERY: delivery}, archived))
    added_frame = pd.DataFrame(added, columns=s.LANDING_REGISTRY_COLUMNS).astype(
        {s.DELIVERY: "int64", s.SIZE_BYTES: "int64", s.ROWS: "int64"}
    )
    return IngestResult(added_frame, repeated)


def _take_in(con: duckdb.DuckDBPyConnection, row: dict, archived: Path) -> dict:
    """Append one archived file's rows under its delivery number and register it."""
    delivery = row[s.DELIVERY]
    try:
        with warehouse.transaction(con):
            table = row[s.QUARANTINE_TABLE]
            batches = TableFile(archived, table, row[s.LANDED_PATH]).batches()
            rows = warehouse.append_raw(con, table, batches, delivery)
            row.update({s.ROWS: rows, s.STATUS: s.STATUS_INGESTED, s.QUARANTINE_REASON: ""})
            _register(con, row)
        logger.info("%s: %d rows taken in as delivery %d", row[s.LANDED_PATH], rows, delivery)
    except SourceError as exc:
        row.update({s.ROWS: 0, s.STATUS: s.STATUS_REJECTED, s.QUARANTINE_REASON: str(exc)})
        _register(con, row)
        logger.error("rejected landed file: %s", exc)
    return row


def _register(con: duckdb.DuckDBPyConnection, row: dict) -> None:
    values = [row[c] for c in s.LANDING_REGISTRY_COLUMNS]
    columns = ", ".join(quoted(c) for c in s.LANDING_REGISTRY_COLUMNS)
    marks = ", ".join("?" for _ in values)
    con.execute(f"INSERT INTO {REGISTRY} ({columns}) VALUES ({marks})", values)


def ingested_deliveries(
    con: duckdb.DuckDBPyConnection, archive: Path | None
) -> list[tuple[int, str, TableFile]]:
    """(delivery, table, file) of every ingested delivery, in order, from the archive.

    Raises SourceError naming the file when an archived copy is missing."""
    if not warehouse.table_exists(con, REGISTRY):
        return []
    out = []
    for row in registry_frame(con).itertuples(index=False):
        row = row._asdict()
        if row[s.STATUS] != s.STATUS_INGESTED:
            continue
        path = (archive or Path(".")) / row[s.ARCHIVED_FILE]
        if archive is None or not path.is_file():
            raise SourceError(
                f"{row[s.LANDED_PATH]}: its archived copy {path} is missing; "
                "restore it or remove the file's row from the landing registry"
            )
        table = row[s.QUARANTINE_TABLE]
        out.append((int(row[s.DELIVERY]), table, TableFile(path, table, row[s.LANDED_PATH])))
    return out


def _archive(path: Path, archive: Path) -> tuple[str, Path]:
    """Copy a file into the archive under its content hash; returns (sha256, archived path).

    The copy is hashed, not the landed file, so a file changing during the copy cannot be
    registered under a hash of other bytes.
    """
    archive.mkdir(parents=True, exist_ok=True)
    tmp = archive / f".{uuid.uuid4().hex}.tmp"
    try:
        shutil.copyfile(path, tmp)
        sha = file_sha256(tmp)
        target = archive / f"{sha}{_suffix(path)}"
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return sha, target


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".csv.gz", ".tsv.gz", ".txt.gz"):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()
