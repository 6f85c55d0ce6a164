"""Tables of an evaluation for people: the wide comparison with confidence intervals, paired
differences between models, and their Markdown."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from musicrec_core import metrics as m
from musicrec_core.data import schema as s
from musicrec_core.evaluation.held_out import TEST_SET
from musicrec_core.reports.markdown import markdown_table

TABLE_METRICS = (m.NDCG, m.RECALL, m.PRECISION, m.NOVELTY, m.ILS_GENRE, m.COVERAGE)
PAIRED_COLUMNS = [TEST_SET, "other_model", m.MEAN, m.CI_LOW, m.CI_HIGH, m.N_USERS]


def paired_differences(
    per_user: pd.DataFrame,
    model: str,
    metric: str = m.NDCG,
    k: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """``model``'s per-user ``metric@k`` minus each other model's on the same users, with a
    bootstrap interval of the mean difference (users resampled as pairs): a much tighter test
    of "A beats B" than comparing the two models' separate intervals. One row per test set and
    other model (PAIRED_COLUMNS)."""
    at_k = per_user[per_user[m.K] == k]
    wide = at_k.set_index([TEST_SET, s.USER_ID, s.MODEL_NAME])[metric].unstack(s.MODEL_NAME)
    rows = []
    if model not in wide.columns:
        return pd.DataFrame(rows, columns=PAIRED_COLUMNS)
    for test_set, group in wide.groupby(level=0, sort=False):
        for other in (c for c in wide.columns if c != model):
            diff = (group[model] - group[other]).to_numpy(dtype=float)
            mean, low, high = m.bootstrap_ci(diff, n_boot=n_boot, seed=seed)
            rows.append((test_set, other, mean, low, high, int((~np.isnan(diff)).sum())))
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS).dropna(subset=[m.MEAN])


def comparison_table(
    summary: pd.DataFrame, k: int = 10, metrics: Sequence[str] = TABLE_METRICS, digits: int = 3
) -> pd.DataFrame:
    """Wide table: one row per model and test set, one 'mean [low, high]' column per metric@k."""
    rows = summary[[s.MODEL_NAME, TEST_SET]].drop_duplicates()
    at_k = summary[(summary[m.K] == k) & summary[m.METRIC].isin(metrics)]
    cells = at_k.assign(
        _cell=[
            _cell(mean, low, high, digits)
            for mean, low, high in at_k[[m.MEAN, m.CI_LOW, m.CI_HIGH]].itertuples(index=False)
        ]
    )
    wide = cells.pivot(index=[s.MODEL_NAME, TEST_SET], columns=m.METRIC, values="_cell")
    wide = wide.reindex(
        index=pd.MultiIndex.from_frame(rows), columns=[c for c in metrics if c in wide.columns]
    )
    wide.columns = [f"{metric}@{k}" for metric in wide.columns]
    return wide.fillna("").reset_index()


def _cell(mean: float, low: float, high: float, digits: int) -> str:
    if np.isnan(mean):
        return "n/a"
    if np.isnan(low) or np.isnan(high):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def to_markdown(frame: pd.DataFrame) -> str:
    """The comparison table as Markdown, through the project's one table formatter."""
    return markdown_table(frame)
