"""Validate raw pandas frames, for notebooks, tests and small sources: the warehouse's
validation run in an in-memory DuckDB, with the results handed back as frames."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.data import warehouse
from musicrec_core.data.sources.raw_batches import frame_batches
from musicrec_core.data.validation.batch import validate_delivery

logger = logging.getLogger(__name__)


@dataclass
class ValidatedCatalogue:
    """The validated tables, the quarantine log, and how many rows were derived from plays."""

    users: pd.DataFrame
    tracks: pd.DataFrame
    plays: pd.DataFrame
    quarantine: pd.DataFrame
    derived: dict[str, int] = field(default_factory=dict)


def validate_catalogue(raw: s.RawTables) -> ValidatedCatalogue:
    """Validate users, tracks and plays together (plays must point at known users and tracks)."""
    with warehouse.connect() as con:
        for table in s.TABLES:
            warehouse.create_raw_table(con, table)
            warehouse.append_raw(
                con, table, frame_batches(getattr(raw, table), table), s.SOURCE_DELIVERY
            )
        result = validate_delivery(con, s.SOURCE_DELIVERY)
        tables = {
            table: warehouse.table_frame(con, warehouse.VALIDATED[table], order_by="rowid")
            for table in s.TABLES
        }
        quarantine = warehouse.table_frame(con, warehouse.QUARANTINE, order_by="rowid")
    logger.info(
        "validated %d users, %d tracks, %d plays; %d quarantine records",
        *(len(tables[t]) for t in s.TABLES),
        len(quarantine),
    )
    return ValidatedCatalogue(**tables, quarantine=quarantine, derived=result.derived)
