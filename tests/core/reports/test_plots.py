"""Plots render to PNG bytes and embed as markdown."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd

from musicrec_core.reports import plots

PNG_MAGIC = b"\x89PNG"


def test_plays_distribution_is_png():
    plays = pd.Series(np.random.default_rng(0).integers(1, 3000, 100))
    assert plots.plays_distribution(plays, np.log1p(plays)).startswith(PNG_MAGIC)


def test_feature_before_after_is_png_and_tolerates_missing():
    energy = pd.Series([0.1, 0.5, np.nan, 0.9])
    assert plots.feature_before_after(energy, (energy - 0.5) * 2, "energy").startswith(PNG_MAGIC)


def test_time_signature_before_after_is_png():
    original = pd.Series([0.0, 1.0, 3.0, 4.0, 4.0, 5.0])
    processed = original.where(original.isin([3, 4]), 4.0)
    assert plots.time_signature_before_after(original, processed).startswith(PNG_MAGIC)


def test_correlation_heatmap_is_png():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(50, 4)), columns=["a", "b", "c", "d"])
    frame["constant"] = 1.0
    assert plots.correlation_heatmap(frame).startswith(PNG_MAGIC)


def test_png_markdown_embeds_base64():
    png = plots.plays_distribution(pd.Series([1, 2, 3]), pd.Series([0.7, 1.1, 1.4]))
    markdown = plots.png_markdown(png, "plays")
    prefix = "![plays](data:image/png;base64,"
    assert markdown.startswith(prefix) and markdown.endswith(")")
    assert base64.b64decode(markdown[len(prefix) : -1]) == png
