"""Bootstrap intervals of every metric and cutoff at once: one set of user resamples, applied to
all of them by a matrix product instead of one gather and mean per metric."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from musicrec_core import metrics as m

RESAMPLE_CELLS = 4_000_000  # user draws held in memory at once, as in metrics.bootstrap_ci


def resampled_means(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """(n_boot, n_columns) means of each column of ``values`` (n_users, n_columns, no NaN) over
    user resamples; the resamples are those :func:`musicrec_core.metrics.bootstrap_ci` draws."""
    n = len(values)
    rng = np.random.default_rng(seed)
    chunk = max(1, RESAMPLE_CELLS // n)
    means = []
    for start in range(0, n_boot, chunk):
        rows = min(chunk, n_boot - start)
        draws = rng.integers(0, n, size=(rows, n)) + np.arange(rows)[:, None] * n
        counts = np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n)
        means.append(counts @ values / n)
    return np.concatenate(means)


def summarise(
    per_user: pd.DataFrame,
    metrics: Sequence[str] = m.PER_USER_METRICS,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`musicrec_core.metrics.summarise`, equal to it, with one resampling for every metric
    and k that each user has (a metric missing for some users keeps its own resampling; cutoffs
    with different users, or none, are summarised by that function)."""
    groups = list(per_user.groupby(m.K, sort=True))
    if len({len(group) for _, group in groups}) != 1:
        return m.summarise(per_user, metrics, n_boot=n_boot, alpha=alpha, seed=seed)
    labels = [(metric, k) for k, _ in groups for metric in metrics]
    values = np.column_stack(
        [group[metric].to_numpy(dtype=float) for _, group in groups for metric in metrics]
    )
    missing = np.isnan(values)
    complete = np.flatnonzero(~missing.any(axis=0))
    bounds = [alpha / 2, 1 - alpha / 2]
    shared = np.quantile(resampled_means(values[:, complete], n_boot, seed), bounds, axis=0)
    rows = []
    for j, (metric, k) in enumerate(labels):
        column = values[:, j]
        n_users = int((~missing[:, j]).sum())
        if j in complete and n_users:
            low, high = shared[:, np.searchsorted(complete, j)]
            mean = column.mean()
        else:
            mean, low, high = m.bootstrap_ci(column, n_boot=n_boot, alpha=alpha, seed=seed)
        rows.append((metric, k, float(mean), float(low), float(high), n_users))
    return pd.DataFrame(rows, columns=m.SUMMARY_COLUMNS)
