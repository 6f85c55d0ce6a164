"""How raw column values become the preprocessor's inputs: numbers, labels and texts with
their missing values decided, and the Tukey fences of IQR capping."""

from __future__ import annotations

import pandas as pd


def encoded_column(column: str) -> str:
    """Name of the integer-encoded output column for a categorical column."""
    return f"{column}_encoded"


def as_float(series: pd.Series) -> pd.Series:
    """Numeric view of a column as float64 (unparseable values become NaN)."""
    return pd.to_numeric(series, errors="coerce").astype(float)


def as_labels(series: pd.Series, unknown: str) -> pd.Series:
    """Categorical column as strings, missing values mapped to ``unknown``."""
    return series.astype(object).where(series.notna(), unknown).astype(str)


def as_texts(series: pd.Series) -> pd.Series:
    """Text column as strings, missing values as empty strings."""
    return series.astype(object).where(series.notna(), "").astype(str)


def iqr_fences(values: pd.Series) -> tuple[float, float] | None:
    """Tukey fences [Q1 - 1.5 IQR, Q3 + 1.5 IQR]; None for an IQR of 0 (capping would collapse)."""
    q1, q3 = values.quantile([0.25, 0.75])
    iqr = q3 - q1
    if iqr <= 0:
        return None
    return float(q1 - 1.5 * iqr), float(q3 + 1.5 * iqr)
