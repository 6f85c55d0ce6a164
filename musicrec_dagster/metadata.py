"""Helpers that turn frames, reports and figures into Dagster metadata."""

from __future__ import annotations

import base64

import dagster as dg
import pandas as pd

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


def markdown_table(frame: pd.DataFrame) -> str:
    """A frame as a Markdown table (empty frames say so)."""
    if frame.empty:
        return "_no rows_"
    return frame.to_markdown(index=False)


def image(png: bytes, alt: str) -> dg.MetadataValue:
    """A PNG shown inline in the Dagster UI."""
    encoded = base64.b64encode(png).decode("ascii")
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")
