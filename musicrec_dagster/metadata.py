"""Helpers that turn frames, reports and figures into Dagster metadata."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import duckdb
import pandas as pd

from musicrec_core.data import warehouse
from musicrec_core.reports import markdown_table, png_markdown

_DTYPE_NAMES = {"object": "string", "int64": "int64", "float64": "float64", "bool": "bool"}


def column_schema(frame: pd.DataFrame) -> dg.TableSchema:
    """The frame's columns and types as a Dagster table schema."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(col), type=_DTYPE_NAMES.get(str(dtype), str(dtype)))
            for col, dtype in frame.dtypes.items()
        ]
    )


def table_metadata(frame: pd.DataFrame, preview_rows: int = 5) -> dict[str, object]:
    """Row count, column schema and a short preview, for any table asset."""
    return {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "dagster/column_schema": column_schema(frame),
        "preview": dg.MetadataValue.md(markdown_table(frame.head(preview_rows))),
    }


def choice_scores(scores: Mapping[object, float]) -> dg.MetadataValue:
    """Each option a setting was chosen from and its validation score, rounded for reading."""
    return dg.MetadataValue.json({str(option): round(v, 4) for option, v in scores.items()})


def image(png: bytes, alt: str) -> dg.MetadataValue:
    """A PNG shown inline in the Dagster UI."""
    return dg.MetadataValue.md(png_markdown(png, alt))


_SQL_TYPE_NAMES = {
    "VARCHAR": "string",
    "BIGINT": "int64",
    "INTEGER": "int64",
    "DOUBLE": "float64",
    "BOOLEAN": "bool",
    "TIMESTAMP": "datetime64[ns]",
}


def warehouse_table_metadata(
    con: duckdb.DuckDBPyConnection, table: str, preview_rows: int = 5
) -> dict[str, object]:
    """Row count, column schema, table name and a short preview of a warehouse table."""
    described = con.execute(f"DESCRIBE {warehouse.quoted(table)}").fetchall()
    columns = [
        dg.TableColumn(name=name, type=_SQL_TYPE_NAMES.get(kind, kind.lower()))
        for name, kind, *_ in described
    ]
    preview = warehouse.frame(con, f"SELECT * FROM {warehouse.quoted(table)} LIMIT {preview_rows}")
    return {
        "dagster/row_count": dg.MetadataValue.int(warehouse.row_count(con, table)),
        "dagster/column_schema": dg.TableSchema(columns=columns),
        "dagster/table_name": f"{warehouse.SCHEMA}.{table}",
        "preview": dg.MetadataValue.md(markdown_table(preview)),
    }
