"""Landing folders: files delivered for ingestion, registered and archived by content.

Deliveries land in ``landing/plays/``, ``landing/tracks/`` and ``landing/users/``. A writer must
write under a hidden or ``.part`` / ``.tmp`` name and rename the file when it is complete
(write-then-rename); such names are never read, so a half-written file is never ingested.
Every complete file is copied into a content-addressed archive and recorded in a registry by
its SHA-256: the same content delivered again (under any name) is a no-op, a corrected file is
new content and is ingested. Files are only ever read from directly inside those folders,
never through a symlink or from a path that resolves elsewhere.
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

import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.data.sources.readers import SourceError, is_supported, read_table_file

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


def empty_registry() -> pd.DataFrame:
    """A registry with no files."""
    frame = pd.DataFrame({col: pd.Series(dtype=object) for col in s.LANDING_REGISTRY_COLUMNS})
    return frame.astype({s.SIZE_BYTES: "int64", s.ROWS: "int64"})


@dataclass(frozen=True)
class IngestResult:
    """The registry after an ingestion pass, and what the pass did."""

    registry: pd.DataFrame
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
    landing_root: Path, archive: Path, registry: pd.DataFrame, now: datetime | None = None
) -> IngestResult:
    """Archive and register every landed file whose content is not in the registry yet.

    A file that cannot be read as a whole is registered as rejected with the reason, so the
    same bytes are not retried; its rows never reach the raw tables.
    """
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    known = set(registry[s.SHA256])
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
        try:
            rows = len(read_table_file(archived, landed.table, landed.landed_path).frame)
            row.update({s.ROWS: rows, s.STATUS: s.STATUS_INGESTED, s.QUARANTINE_REASON: ""})
            logger.info("%s: %d rows registered (sha256 %s)", landed.landed_path, rows, sha[:12])
        except SourceError as exc:
            row.update({s.ROWS: 0, s.STATUS: s.STATUS_REJECTED, s.QUARANTINE_REASON: str(exc)})
            logger.error("rejected landed file: %s", exc)
        added.append(row)
    added_frame = pd.DataFrame(added, columns=s.LANDING_REGISTRY_COLUMNS).astype(
        {s.SIZE_BYTES: "int64", s.ROWS: "int64"}
    )
    updated = pd.concat([registry, added_frame], ignore_index=True) if added else registry
    return IngestResult(updated.reset_index(drop=True), added_frame, repeated)


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


def archived_frames(registry: pd.DataFrame, archive: Path) -> dict[str, list[pd.DataFrame]]:
    """Raw frames of every ingested file, per table, in registration order."""
    frames: dict[str, list[pd.DataFrame]] = {table: [] for table in LANDING_TABLES}
    ingested = registry[registry[s.STATUS] == s.STATUS_INGESTED]
    for row in ingested.itertuples(index=False):
        row = row._asdict()
        path = archive / row[s.ARCHIVED_FILE]
        if not path.is_file():
            raise SourceError(
                f"{row[s.LANDED_PATH]}: its archived copy {path} is missing; "
                "restore it or remove the file's row from the landing registry"
            )
        table = row[s.QUARANTINE_TABLE]
        frames[table].append(read_table_file(path, table, row[s.LANDED_PATH]).frame)
    return frames


def with_deliveries(base: s.RawTables, registry: pd.DataFrame, archive: Path) -> s.RawTables:
    """The base source's raw tables followed by the rows of every ingested delivery."""
    extra = archived_frames(registry, archive)
    tables = {}
    for table in LANDING_TABLES:
        parts = [getattr(base, table), *extra[table]]
        tables[table] = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return s.RawTables(**tables)
