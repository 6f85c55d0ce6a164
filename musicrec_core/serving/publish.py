"""Publish the tables users query into a separate DuckDB file, swapped in atomically.

The database is written under a temporary name beside the served path and renamed over it, so
a reader either sees the previous complete database or the new complete one, never a partial
write, and the pipeline's own warehouse is never opened by readers. A publish killed before the
rename leaves only its temporary files, which the next publish removes.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishResult:
    """Where the serving database was published and what it holds."""

    path: Path
    row_counts: dict[str, int]
    views: list[str]
    size_bytes: int


def publish_serving_database(
    path: Path, tables: dict[str, pd.DataFrame], views: dict[str, str] | None = None
) -> PublishResult:
    """Write tables and views to a new DuckDB file and atomically replace the served one.

    Temporary files left beside ``path`` by an earlier publish whose process has died (killed
    before its rename) are removed first; those of a publish still running are left alone.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    views = views or {}
    try:
        with duckdb.connect(str(tmp)) as con:
            for name, frame in tables.items():
                con.register("_frame", frame)
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _frame')
                con.unregister("_frame")
            for name, sql in views.items():
                con.execute(f'CREATE VIEW "{name}" AS {sql}')
            con.execute("CHECKPOINT")
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    counts = {name: len(frame) for name, frame in tables.items()}
    logger.info("published %s: %s", path, counts)
    return PublishResult(path, counts, list(views), path.stat().st_size)


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``.<name>.<pid>.<hex>.tmp`` (and ``.wal``) files whose writing process is gone."""
    prefix = f".{path.name}."
    for leftover in path.parent.iterdir():
        name = leftover.name
        if not name.startswith(prefix) or not name.endswith((".tmp", ".tmp.wal")):
            continue
        pid = name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and _process_alive(int(pid)):
            continue
        logger.warning("removing %s, left by a publish that did not finish", leftover)
        leftover.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    """True while a process with this id exists (a process of another user included)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        pass
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_only_query(path: Path, sql: str) -> pd.DataFrame:
    """Run one query against the serving database opened read-only."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).df()
