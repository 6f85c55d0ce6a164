"""Markdown tables for Dagster metadata, reports and the command line (no extra dependency)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _cell(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        number = float(value)
        if np.isnan(number):
            return ""
        if number.is_integer() or abs(number) >= 1000:
            return f"{number:,.0f}" if number.is_integer() else f"{number:,.1f}"
        return f"{number:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame, index: bool = False, index_label: str = "column") -> str:
    """A GitHub-flavoured markdown table; an empty frame gives '_no rows_'."""
    if frame.empty:
        return "_no rows_"
    header = ([index_label] if index else []) + [str(col) for col in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, *values in frame.itertuples(index=True, name=None):
        cells = ([_cell(label)] if index else []) + [_cell(value) for value in values]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
