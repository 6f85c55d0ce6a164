"""The data path as plain function calls, for benchmarks and notebooks (assets call the steps).

``run_data_path`` brings a warehouse up to date stage by stage: the raw tables (the source
and landed files), validation, the feature tables and, when asked, the evaluation split.
``prepare`` runs it in an in-memory warehouse and hands the tables back as pandas frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from musicrec_core.data import catalogue, warehouse
from musicrec_core.data import schema as s
from musicrec_core.data.feature_tables import build_features
from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.data.raw import refresh_raw
from musicrec_core.data.sources import SourceConfig
from musicrec_core.data.split import SplitConfig, build_split_table
from musicrec_core.data.validation import validate_pending

FIT_PLAY_COLUMNS = (s.USER_ID, s.TRACK_ID, s.PLAYS)  # what the preprocessor's fit reads of a play


@dataclass
class PreparedData:
    """Validated and engineered tables plus the evaluation split."""

    users: pd.DataFrame
    tracks: pd.DataFrame
    interactions: pd.DataFrame
    split: pd.DataFrame


def run_data_path(
    con: duckdb.DuckDBPyConnection,
    source: SourceConfig,
    archive: Path | None = None,
    split_config: SplitConfig | None = None,
    full_refresh: bool = False,
) -> int:
    """Refresh the raw tables, validate and merge what is new, and (with a split config)
    rebuild the split; returns the raw generation."""
    generation = refresh_raw(con, source, archive, full_refresh=full_refresh).generation
    validate_pending(con, generation)
    build_features(con, generation)
    if split_config is not None:
        build_split_table(con, split_config)
    return generation


def prepare(source: SourceConfig, split_config: SplitConfig | None = None) -> PreparedData:
    """Load, validate, aggregate, engineer features and split, as the asset graph does."""
    with warehouse.connect() as con:
        run_data_path(con, source, split_config=split_config or SplitConfig())
        return PreparedData(
            users=warehouse.table_frame(con, warehouse.USER_FEATURES, order_by="rowid"),
            tracks=warehouse.table_frame(con, warehouse.TRACK_FEATURES, order_by="rowid"),
            interactions=warehouse.table_frame(con, warehouse.INTERACTIONS, order_by="rowid"),
            split=warehouse.table_frame(con, warehouse.SPLITS, order_by="rowid"),
        )


def fit_preprocessor(
    plays: pd.DataFrame, users: pd.DataFrame, tracks: pd.DataFrame, handle_outliers: str = "robust"
) -> tuple[MusicPreprocessor, pd.DataFrame, pd.DataFrame]:
    """A MusicPreprocessor fitted on the training plays (``training_rows`` of the split, or
    ``read_split_rows``); also the fit frame and its transform."""
    frame = catalogue.merged_interactions(plays, users, tracks)
    preprocessor = MusicPreprocessor(handle_outliers=handle_outliers)
    return preprocessor, frame, preprocessor.fit_transform(frame)
