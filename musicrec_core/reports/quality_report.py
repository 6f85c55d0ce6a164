"""Data-quality report: ranges, outliers, missing values, dtypes, statistics, correlation.

Numeric analysis covers numeric columns (booleans, identifiers and ``source_row`` excluded) plus
any column with a schema range, coerced to numbers, so raw text tables can be checked too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandera.engines import pandas_engine

from musicrec_core.data import schema
from musicrec_core.reports.markdown import markdown_table

RANGES: dict[str, tuple[float, float]] = {
    schema.AGE: schema.AGE_RANGE,
    schema.RELEASE_YEAR: schema.YEAR_RANGE,
    schema.DURATION: schema.DURATION_RANGE,
    **schema.AUDIO_RANGES,
    **schema.INTEGER_RANGES,
    schema.PLAYS: schema.PLAYS_RANGE,
}
NOT_MEASURED = {schema.USER_ID, schema.TRACK_ID, schema.SOURCE_ROW, schema.DELIVERY}
TOP_CORRELATIONS = 10


@dataclass(frozen=True)
class QualityReport:
    """Quality measurements of one table; every frame is indexed by column name."""

    table: str
    rows: int
    columns: int
    ranges: pd.DataFrame  # min_allowed, max_allowed, below, above
    outliers: pd.DataFrame  # q1, q3, lower_fence, upper_fence, outliers
    missing: pd.DataFrame  # missing, missing_rate, imputed
    dtypes: pd.DataFrame  # expected, actual, consistent
    statistics: pd.DataFrame  # count, mean, std, min, 25%, 50%, 75%, max
    correlation: pd.DataFrame  # Pearson, numeric columns × numeric columns

    def summary(self) -> dict[str, int | float | str | None]:
        """Headline numbers, JSON-serialisable."""
        return {
            "table": self.table,
            "rows": self.rows,
            "columns": self.columns,
            "columns_with_missing": int((self.missing["missing"] > 0).sum()),
            "missing_values": int(self.missing["missing"].sum()),
            "imputed_values": int(self.missing["imputed"].sum()),
            "out_of_range_values": int(self.ranges[["below", "above"]].to_numpy().sum()),
            "outlier_values": int(self.outliers["outliers"].sum()),
            "dtype_mismatches": int((~self.dtypes["consistent"]).sum()),
            "max_abs_correlation": _max_abs_correlation(self.correlation),
        }

    def to_markdown(self) -> str:
        """Compact markdown (for Dagster metadata): problems first, then statistics."""
        summary = self.summary()
        ranges = self.ranges[(self.ranges["below"] > 0) | (self.ranges["above"] > 0)]
        missing = self.missing[(self.missing["missing"] > 0) | (self.missing["imputed"] > 0)]
        mismatched = self.dtypes[~self.dtypes["consistent"]]
        outliers = self.outliers[self.outliers["outliers"] > 0]
        sections = [
            f"### Data quality: {self.table}",
            f"{self.rows:,} rows × {self.columns} columns; {summary['missing_values']:,} missing, "
            f"{summary['imputed_values']:,} imputed, {summary['out_of_range_values']:,} out of "
            f"range, {summary['outlier_values']:,} IQR outliers, "
            f"{summary['dtype_mismatches']} dtype mismatches.",
            "#### Range violations",
            markdown_table(ranges, index=True) if len(ranges) else "None.",
            "#### Missing and imputed values",
            markdown_table(missing, index=True) if len(missing) else "None.",
            "#### Data types",
            markdown_table(mismatched, index=True)
            if len(mismatched)
            else f"All {len(self.dtypes)} columns have the expected dtype.",
            "#### Outliers (IQR rule)",
            markdown_table(outliers, index=True) if len(outliers) else "None.",
            "#### Descriptive statistics",
            markdown_table(self.statistics, index=True)
            if len(self.statistics)
            else "No numeric columns.",
            "#### Strongest correlations",
            markdown_table(_top_correlations(self.correlation), index=False)
            if len(self.correlation) > 1
            else "Fewer than two numeric columns.",
        ]
        return "\n\n".join(sections)


def quality_report(df: pd.DataFrame, table: str) -> QualityReport:
    """Measure the quality of ``df``, a ``table`` ("users", "tracks", "plays" or a merged frame).

    Expected dtypes come from ``schema.VALIDATED_SCHEMAS[table]``; for any other table name,
    from the union of the validated schemas (columns they do not name have no expectation).
    """
    numeric = _numeric_frame(df)
    return QualityReport(
        table=table,
        rows=len(df),
        columns=df.shape[1],
        ranges=_range_violations(numeric),
        outliers=_iqr_outliers(numeric),
        missing=_missing_values(df),
        dtypes=_dtype_consistency(df, table),
        statistics=numeric.describe().T if numeric.shape[1] else pd.DataFrame(),
        correlation=numeric.corr(),
    )


def _numeric_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns plus columns with a schema range, as float64."""
    columns = [
        col
        for col in df.columns
        if col not in NOT_MEASURED
        and (
            col in RANGES
            or (pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col]))
        )
    ]
    return pd.DataFrame(
        {col: pd.to_numeric(df[col], errors="coerce").astype(float) for col in columns},
        index=df.index,
    )


def _range_violations(numeric: pd.DataFrame) -> pd.DataFrame:
    rows = {
        col: {
            "min_allowed": low,
            "max_allowed": high,
            "below": int((numeric[col] < low).sum()),
            "above": int((numeric[col] > high).sum()),
        }
        for col, (low, high) in RANGES.items()
        if col in numeric
    }
    return _frame(rows, ["min_allowed", "max_allowed", "below", "above"])


def _iqr_outliers(numeric: pd.DataFrame) -> pd.DataFrame:
    rows = {}
    for col in numeric.columns:
        values = numeric[col].dropna()
        if values.empty:
            continue
        q1, q3 = values.quantile([0.25, 0.75])
        lower, upper = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        rows[col] = {
            "q1": q1,
            "q3": q3,
            "lower_fence": lower,
            "upper_fence": upper,
            "outliers": int(((values < lower) | (values > upper)).sum()),
        }
    return _frame(rows, ["q1", "q3", "lower_fence", "upper_fence", "outliers"])


def _missing_values(df: pd.DataFrame) -> pd.DataFrame:
    missing = df.isna().sum().astype(int)
    imputed = pd.Series(0, index=df.columns, dtype=int)
    if schema.IMPUTED_COLUMNS in df:
        names = df[schema.IMPUTED_COLUMNS].dropna().astype(str).str.split(",").explode().str.strip()
        counts = names[names != ""].value_counts()
        imputed = counts.reindex(df.columns, fill_value=0).astype(int)
    rate = missing / len(df) if len(df) else missing.astype(float)
    return pd.DataFrame({"missing": missing, "missing_rate": rate, "imputed": imputed})


def _expected_dtypes(table: str) -> dict[str, object]:
    if table in schema.VALIDATED_SCHEMAS:
        return {col: c.dtype for col, c in schema.VALIDATED_SCHEMAS[table].columns.items()}
    expected: dict[str, object] = {}
    for validated in schema.VALIDATED_SCHEMAS.values():
        for col, column in validated.columns.items():
            expected.setdefault(col, column.dtype)
    return expected


def _dtype_matches(expected: object, actual: np.dtype) -> bool:
    if str(expected) == "str":
        return pd.api.types.is_string_dtype(actual)
    try:
        return bool(expected.check(pandas_engine.Engine.dtype(actual)))
    except TypeError:
        return False


def _dtype_consistency(df: pd.DataFrame, table: str) -> pd.DataFrame:
    expected = _expected_dtypes(table)
    if table in schema.VALIDATED_SCHEMAS:
        columns = list(dict.fromkeys([*expected, *df.columns]))
    else:
        columns = list(df.columns)
    rows = {}
    for col in columns:
        actual = df[col].dtype if col in df else None
        wanted = expected.get(col)
        rows[col] = {
            "expected": "" if wanted is None else str(wanted),
            "actual": "absent" if actual is None else str(actual),
            "consistent": wanted is None or (actual is not None and _dtype_matches(wanted, actual)),
        }
    return _frame(rows, ["expected", "actual", "consistent"])


def _frame(rows: dict[str, dict], columns: list[str]) -> pd.DataFrame:
    """Rows keyed by column name as a frame with fixed columns (also when empty)."""
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def _off_diagonal_pairs(correlation: pd.DataFrame) -> pd.Series:
    upper = np.triu(np.ones(correlation.shape, dtype=bool), k=1)
    return correlation.where(upper).stack().dropna()


def _max_abs_correlation(correlation: pd.DataFrame) -> float | None:
    pairs = _off_diagonal_pairs(correlation)
    return float(pairs.abs().max()) if len(pairs) else None


def _top_correlations(correlation: pd.DataFrame) -> pd.DataFrame:
    pairs = _off_diagonal_pairs(correlation)
    top = pairs.reindex(pairs.abs().sort_values(ascending=False).index[:TOP_CORRELATIONS])
    return pd.DataFrame(
        {
            "column": top.index.get_level_values(0),
            "with": top.index.get_level_values(1),
            "pearson_r": top.to_numpy(),
        }
    )
