"""The data-quality report finds range violations, missing values, outliers and dtype drift."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.reports import quality_report


def tracks_frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            s.TRACK_ID: [f"t{i}" for i in range(n)],
            s.GENRE: ["Pop"] * n,
            s.DURATION: rng.uniform(3.0, 4.0, n),
            s.ENERGY: rng.uniform(0.4, 0.6, n),
            s.TEMPO: rng.uniform(110.0, 130.0, n),
            s.KEY: rng.integers(0, 12, n),
            s.IMPUTED_COLUMNS: [""] * n,
        }
    )
    frame.loc[3, s.ENERGY] = 1.7  # out of range [0, 1], and an outlier
    frame.loc[5, s.TEMPO] = np.nan  # missing
    frame.loc[7, s.IMPUTED_COLUMNS] = f"{s.DURATION},{s.KEY}"
    return frame


def test_report_finds_range_violation_missing_value_and_outlier():
    report = quality_report(tracks_frame(), "tracks")
    assert report.ranges.loc[s.ENERGY, "above"] == 1
    assert report.ranges.loc[s.ENERGY, "below"] == 0
    assert report.ranges.loc[s.KEY, ["below", "above"]].sum() == 0
    assert report.missing.loc[s.TEMPO, "missing"] == 1
    assert report.missing.loc[s.TEMPO, "missing_rate"] == 1 / 60
    assert report.missing.loc[s.DURATION, "imputed"] == 1
    assert report.outliers.loc[s.ENERGY, "outliers"] >= 1
    assert report.statistics.loc[s.TEMPO, "count"] == 59
    assert set(report.correlation.columns) == {s.DURATION, s.ENERGY, s.TEMPO, s.KEY}
    assert s.TRACK_ID not in report.statistics.index


def test_dtype_consistency_against_validated_schema():
    frame = tracks_frame()
    frame[s.KEY] = frame[s.KEY].astype(float)
    dtypes = quality_report(frame, "tracks").dtypes
    assert bool(dtypes.loc[s.DURATION, "consistent"])
    assert bool(dtypes.loc[s.TRACK_ID, "consistent"])
    assert not dtypes.loc[s.KEY, "consistent"]
    assert dtypes.loc[s.LOUDNESS, "actual"] == "absent"


def test_summary_and_markdown():
    report = quality_report(tracks_frame(), "tracks")
    summary = report.summary()
    json.dumps(summary)
    assert summary["rows"] == 60
    assert summary["out_of_range_values"] == 1
    assert summary["missing_values"] == 1
    assert summary["columns_with_missing"] == 1
    assert summary["imputed_values"] == 2
    assert summary["outlier_values"] >= 1
    markdown = report.to_markdown()
    assert markdown.startswith("### Data quality: tracks")
    assert "| energy | 0 | 1 | 0 | 1 |" in markdown
    assert "#### Strongest correlations" in markdown


def test_empty_and_merged_frames():
    empty = quality_report(pd.DataFrame({s.USER_ID: pd.Series([], dtype=object)}), "users")
    assert empty.summary()["rows"] == 0
    assert "None." in empty.to_markdown()
    merged = quality_report(pd.DataFrame({s.AGE: [20, 200], "n_tracks": [1, 2]}), "merged")
    assert merged.ranges.loc[s.AGE, "above"] == 1
    assert merged.dtypes.loc["n_tracks", "expected"] == ""
