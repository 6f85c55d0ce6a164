"""Preprocessing plots rendered off-screen (Agg) to PNG bytes, plus a markdown embed helper.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no global figure
state is kept and concurrent runs cannot interfere.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from musicrec_core.data.schema import MODEL_NAME

_DPI = 100
_BINS = 50
_MAX_ANNOTATED_COLUMNS = 25


def _to_png(figure: Figure) -> bytes:
    """Render a figure to PNG bytes through the Agg canvas."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return buffer.getvalue()


def _finite(values: pd.Series | np.ndarray) -> np.ndarray:
    """Finite values as a float array (missing and infinite values dropped)."""
    array = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce").to_numpy(float)
    return array[np.isfinite(array)]


def _histogram(ax: Axes, values: pd.Series | np.ndarray, title: str, xlabel: str) -> None:
    ax.hist(_finite(values), bins=_BINS, color="#4C72B0", edgecolor="white")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")


def _side_by_side_histograms(
    left: pd.Series | np.ndarray,
    right: pd.Series | np.ndarray,
    titles: tuple[str, str],
    xlabels: tuple[str, str],
) -> bytes:
    figure = Figure(figsize=(11, 4))
    left_ax, right_ax = figure.subplots(1, 2)
    _histogram(left_ax, left, titles[0], xlabels[0])
    _histogram(right_ax, right, titles[1], xlabels[1])
    return _to_png(figure)


def plays_distribution(original: pd.Series | np.ndarray, log: pd.Series | np.ndarray) -> bytes:
    """Histograms of play counts, original and log1p-transformed, side by side."""
    return _side_by_side_histograms(
        original, log, ("Play counts (original)", "Play counts (log1p)"), ("plays", "log1p(plays)")
    )


def feature_before_after(
    original: pd.Series | np.ndarray, transformed: pd.Series | np.ndarray, name: str
) -> bytes:
    """Histograms of one feature before and after preprocessing, side by side."""
    return _side_by_side_histograms(
        original,
        transformed,
        (f"{name} (original)", f"{name} (transformed)"),
        (name, f"{name}, transformed"),
    )


def time_signature_before_after(
    original: pd.Series | np.ndarray, processed: pd.Series | np.ndarray
) -> bytes:
    """Bar charts of time-signature counts before and after processing, on a shared axis."""
    before = pd.Series(_finite(original)).value_counts()
    after = pd.Series(_finite(processed)).value_counts()
    values = sorted(set(before.index) | set(after.index))
    labels = [f"{value:g}" for value in values]
    figure = Figure(figsize=(11, 4))
    axes = figure.subplots(1, 2, sharey=True)
    for ax, counts, title in zip(
        axes,
        (before, after),
        ("Time signature (original)", "Time signature (processed)"),
        strict=True,
    ):
        bars = ax.bar(labels, counts.reindex(values, fill_value=0).to_numpy(), color="#55A868")
        ax.bar_label(bars, fontsize=8)
        ax.set_title(title)
        ax.set_xlabel("beats per bar")
    axes[0].set_ylabel("count")
    return _to_png(figure)


def correlation_heatmap(df_numeric: pd.DataFrame) -> bytes:
    """Annotated Pearson correlation heatmap of the numeric columns, with a colorbar."""
    corr = df_numeric.select_dtypes("number").corr()
    n = len(corr)
    size = max(5.0, 0.55 * n + 2.0)
    figure = Figure(figsize=(size + 1.5, size))
    ax = figure.subplots()
    image = ax.imshow(corr.to_numpy(), cmap="coolwarm", vmin=-1.0, vmax=1.0)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="Pearson correlation")
    ax.set_xticks(range(n), corr.columns, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), corr.index)
    if n <= _MAX_ANNOTATED_COLUMNS:
        fontsize = 9 if n <= 12 else 7
        for (row, col), value in np.ndenumerate(corr.to_numpy()):
            if np.isfinite(value):
                color = "white" if abs(value) > 0.6 else "black"
                ax.text(
                    col,
                    row,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    color=color,
                    fontsize=fontsize,
                )
    ax.set_title("Correlation of numeric features")
    return _to_png(figure)


def png_markdown(png: bytes, alt: str) -> str:
    """Markdown image embedding ``png`` as a base64 data URI (for Dagster metadata)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def _by_model(frame: pd.DataFrame, test_set: str) -> dict[str, pd.DataFrame]:
    part = frame[frame["test_set"] == test_set]
    return {str(model): rows for model, rows in part.groupby(MODEL_NAME, sort=False)}


def precision_recall_curve(pr_curve: pd.DataFrame, test_set: str) -> bytes:
    """Precision against recall as the list grows (k = 1, 2, ...), one line per model."""
    figure = Figure(figsize=(7, 5))
    ax = figure.subplots()
    for model, rows in _by_model(pr_curve, test_set).items():
        rows = rows.sort_values("k")
        ax.plot(rows["recall"], rows["precision"], marker=".", label=model)
    ax.set_xlabel("recall@k")
    ax.set_ylabel("precision@k")
    ax.set_title(f"Precision-recall as k grows ({test_set} users)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _to_png(figure)


def metric_vs_k(summary: pd.DataFrame, metrics: list[str], test_set: str) -> bytes:
    """Each metric against k with its 95% confidence band, one panel per metric."""
    figure = Figure(figsize=(5.5 * len(metrics), 4.5))
    axes = np.atleast_1d(figure.subplots(1, len(metrics)))
    part = summary[summary["metric"].isin(metrics)]
    for ax, metric in zip(axes, metrics, strict=True):
        for model, rows in _by_model(part[part["metric"] == metric], test_set).items():
            rows = rows.sort_values("k")
            ax.plot(rows["k"], rows["mean"], marker="o", label=model)
            ax.fill_between(rows["k"], rows["ci_low"], rows["ci_high"], alpha=0.15)
        ax.set_xlabel("k")
        ax.set_title(f"{metric} ({test_set})")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return _to_png(figure)


def score_histograms(samples: pd.DataFrame, test_set: str) -> bytes:
    """Histograms of model scores for relevant and irrelevant tracks, one panel per model."""
    models = _by_model(samples, test_set)
    figure = Figure(figsize=(4.5 * max(len(models), 1), 3.8))
    axes = np.atleast_1d(figure.subplots(1, max(len(models), 1)))
    for ax, (model, rows) in zip(axes, models.items(), strict=False):
        for relevant, colour in ((False, "#999999"), (True, "#DD8452")):
            values = _finite(rows.loc[rows["relevant"] == relevant, "score"])
            if len(values):
                ax.hist(
                    values,
                    bins=_BINS,
                    density=True,
                    alpha=0.6,
                    color=colour,
                    label="relevant" if relevant else "irrelevant",
                )
        ax.set_title(model)
        ax.set_xlabel("score")
        ax.legend(fontsize="small")
    return _to_png(figure)


def loss_curve(history: pd.DataFrame, validation_metric: str) -> bytes:
    """Training loss parts per epoch (left) and the validation metric per epoch (right)."""
    figure = Figure(figsize=(11, 4))
    loss_ax, metric_ax = figure.subplots(1, 2)
    for column in ("total", "listnet", "ils"):
        if column in history:
            loss_ax.plot(history["epoch"], history[column], marker=".", label=column)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_title("training loss")
    loss_ax.grid(alpha=0.3)
    loss_ax.legend(fontsize="small")
    if validation_metric in history:
        metric_ax.plot(history["epoch"], history[validation_metric], marker="o", color="#DD8452")
        best = history[validation_metric].idxmax()
        metric_ax.axvline(history.loc[best, "epoch"], color="grey", linestyle="--", label="best")
        metric_ax.legend(fontsize="small")
    metric_ax.set_xlabel("epoch")
    metric_ax.set_title(validation_metric)
    metric_ax.grid(alpha=0.3)
    return _to_png(figure)
