"""Reports for people: the data-quality report, Markdown tables and the PNG plots."""

from musicrec_core.reports.markdown import markdown_table
from musicrec_core.reports.plots import (
    correlation_heatmap,
    feature_before_after,
    loss_curve,
    metric_vs_k,
    plays_distribution,
    png_markdown,
    precision_recall_curve,
    score_histograms,
    time_signature_before_after,
)
from musicrec_core.reports.quality_report import QualityReport, quality_report

__all__ = [
    "QualityReport",
    "correlation_heatmap",
    "feature_before_after",
    "loss_curve",
    "markdown_table",
    "metric_vs_k",
    "plays_distribution",
    "png_markdown",
    "precision_recall_curve",
    "quality_report",
    "score_histograms",
    "time_signature_before_after",
]
