"""Counts that must add up: raw rows = validated rows from files + distinct rejected rows.

Derived rows (users and tracks seen only in plays) come from no file and are counted apart. A
row is identified by its delivery, file and row, so two deliveries of the same file name are
two sets of rows.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.data.validation.batch import DERIVED_SOURCE
from musicrec_core.data.warehouse import QUARANTINE, RAW, VALIDATED, quoted

ROW_ID = [s.DELIVERY, s.SOURCE_FILE, s.SOURCE_ROW]
RECONCILIATION_COLUMNS = [
    s.DELIVERY,
    "raw_rows",
    "validated_rows",
    "rejected_rows",
    "derived_rows",
    "balanced",
]


def reconcile(raw_rows: int, validated: pd.DataFrame, quarantine: pd.DataFrame, table: str) -> dict:
    """The counts of one table's frames, and whether raw = validated from files + rejected."""
    from_files = int((validated[s.SOURCE_FILE] != DERIVED_SOURCE).sum())
    rejected = quarantine[
        (quarantine[s.QUARANTINE_TABLE] == table)
        & (quarantine[s.QUARANTINE_ACTION] == s.ACTION_REJECTED)
    ]
    identity = [c for c in ROW_ID if c in rejected.columns]
    rejected_rows = int(rejected[identity].drop_duplicates().shape[0])
    return {
        "raw_rows": int(raw_rows),
        "validated_rows": from_files,
        "rejected_rows": rejected_rows,
        "derived_rows": int(len(validated) - from_files),
        "balanced": int(raw_rows) == from_files + rejected_rows,
    }


def reconcile_by_delivery(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """One row per delivery of a warehouse table: its counts and whether they add up."""
    derived = f"'{DERIVED_SOURCE}'"
    sql = f"""
        WITH raw AS (SELECT {s.DELIVERY}, count(*) AS n FROM {quoted(RAW[table])} GROUP BY ALL),
        kept AS (
            SELECT {s.DELIVERY}, count(*) FILTER ({s.SOURCE_FILE} <> {derived}) AS n,
                   count(*) FILTER ({s.SOURCE_FILE} = {derived}) AS derived
            FROM {quoted(VALIDATED[table])} GROUP BY ALL),
        rejected AS (
            SELECT {s.DELIVERY}, count(*) AS n FROM (
                SELECT DISTINCT {", ".join(ROW_ID)} FROM {QUARANTINE}
                WHERE {s.QUARANTINE_TABLE} = ? AND {s.QUARANTINE_ACTION} = '{s.ACTION_REJECTED}')
            GROUP BY ALL),
        deliveries AS (
            SELECT {s.DELIVERY} FROM raw UNION SELECT {s.DELIVERY} FROM kept
            UNION SELECT {s.DELIVERY} FROM rejected)
        SELECT d.{s.DELIVERY}, coalesce(raw.n, 0) AS raw_rows,
               coalesce(kept.n, 0) AS validated_rows, coalesce(rejected.n, 0) AS rejected_rows,
               coalesce(kept.derived, 0) AS derived_rows
        FROM deliveries d LEFT JOIN raw USING ({s.DELIVERY}) LEFT JOIN kept USING ({s.DELIVERY})
        LEFT JOIN rejected USING ({s.DELIVERY}) ORDER BY d.{s.DELIVERY}
    """
    out = con.execute(sql, [table]).df()
    out["balanced"] = out["raw_rows"] == out["validated_rows"] + out["rejected_rows"]
    return out[RECONCILIATION_COLUMNS]


def imputed_counts(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    """How many rows of a validated table had each field imputed, most first."""
    rows = con.execute(
        f"SELECT name, count(*) FROM (SELECT unnest(string_split({s.IMPUTED_COLUMNS}, ',')) "
        f"AS name FROM {quoted(VALIDATED[table])}) WHERE name <> '' GROUP BY name "
        "ORDER BY count(*) DESC, name"
    ).fetchall()
    return {name: int(n) for name, n in rows}


def reconcile_table(con: duckdb.DuckDBPyConnection, table: str) -> dict:
    """The totals of ``reconcile_by_delivery``, with how many deliveries do not add up."""
    return reconcile_totals(reconcile_by_delivery(con, table))


def reconcile_totals(by_delivery: pd.DataFrame) -> dict:
    """The totals of a ``reconcile_by_delivery`` frame, with how many deliveries do not add
    up, for callers that show the frame too."""
    totals = {
        c: int(by_delivery[c].sum())
        for c in ("raw_rows", "validated_rows", "rejected_rows", "derived_rows")
    }
    unbalanced = int((~by_delivery["balanced"]).sum())
    return {
        **totals,
        "deliveries": len(by_delivery),
        "unbalanced_deliveries": unbalanced,
        "balanced": unbalanced == 0
        and totals["raw_rows"] == totals["validated_rows"] + totals["rejected_rows"],
    }
