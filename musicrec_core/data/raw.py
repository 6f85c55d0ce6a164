"""The raw stage: the configured source and every landed file, as read, in the warehouse.

The source is delivery 0; each landed file is one more delivery, appended when it lands
(``landing.ingest_landing``) without reading anything already there. The raw tables are
rebuilt only when the source changes (its settings, or a file's name, size or modification
time), when they are missing, or on request; a rebuild reads the source and then every
archived delivery again, and starts a new generation that the later stages follow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from musicrec_core.data import schema as s
from musicrec_core.data import warehouse
from musicrec_core.data.landing import ingested_deliveries
from musicrec_core.data.sources import SourceConfig, source_batches, source_fingerprint
from musicrec_core.data.warehouse import RAW, StageState

logger = logging.getLogger(__name__)

STAGE = "raw"


@dataclass(frozen=True)
class RawResult:
    """The raw stage's generation, whether this call rebuilt it, and the rows it read."""

    generation: int
    rebuilt: bool
    rows: dict[str, int]


def raw_generation(con: duckdb.DuckDBPyConnection) -> int:
    """The generation of the raw tables (0 before the first build)."""
    state = warehouse.read_state(con, STAGE)
    return state.generation if state else 0


def refresh_raw(
    con: duckdb.DuckDBPyConnection,
    source: SourceConfig,
    archive: Path | None = None,
    full_refresh: bool = False,
) -> RawResult:
    """Rebuild the raw tables if the source changed, they are missing or it is asked for."""
    state = warehouse.read_state(con, STAGE)
    fingerprint = source_fingerprint(source)
    missing = not all(warehouse.table_exists(con, RAW[t]) for t in s.TABLES)
    if state and not missing and not full_refresh and state.fingerprint == fingerprint:
        logger.info("raw tables are up to date with %s", source.describe())
        return RawResult(state.generation, False, {})
    generation = (state.generation if state else 0) + 1
    rows = dict.fromkeys(s.TABLES, 0)
    with warehouse.transaction(con):
        for table in s.TABLES:
            warehouse.create_raw_table(con, table)
        for table, batches in source_batches(source):
            rows[table] += warehouse.append_raw(con, table, batches, s.SOURCE_DELIVERY)
        for delivery, table, file in ingested_deliveries(con, archive):
            rows[table] += warehouse.append_raw(con, table, file.batches(), delivery)
        warehouse.write_state(con, STAGE, StageState(generation, s.SOURCE_DELIVERY, fingerprint))
    logger.info("raw tables rebuilt (generation %d): %s", generation, rows)
    return RawResult(generation, True, rows)
