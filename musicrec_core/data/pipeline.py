"""The data path as plain function calls, for benchmarks and notebooks (assets call the steps)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from musicrec_core.data import catalogue, features
from musicrec_core.data import schema as s
from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.data.sources import SourceConfig, load_source
from musicrec_core.data.split import TRAIN, SplitConfig, split_interactions
from musicrec_core.data.validation import validate_catalogue


@dataclass
class PreparedData:
    """Validated and engineered tables plus the evaluation split."""

    users: pd.DataFrame
    tracks: pd.DataFrame
    interactions: pd.DataFrame
    split: pd.DataFrame


def prepare(source: SourceConfig, split_config: SplitConfig | None = None) -> PreparedData:
    """Load, validate, aggregate, engineer features and split, as the asset graph does."""
    valid = validate_catalogue(load_source(source))
    interactions = features.build_interactions(valid.plays)
    return PreparedData(
        users=catalogue.user_features(valid.users, interactions),
        tracks=catalogue.track_features(valid.tracks, interactions),
        interactions=interactions,
        split=split_interactions(interactions, split_config or SplitConfig()),
    )


def fit_preprocessor(
    split: pd.DataFrame, users: pd.DataFrame, tracks: pd.DataFrame, handle_outliers: str = "robust"
) -> tuple[MusicPreprocessor, pd.DataFrame, pd.DataFrame]:
    """A MusicPreprocessor fitted on the training split; also the fit frame and its transform."""
    frame = catalogue.merged_interactions(split[split[s.SPLIT] == TRAIN], users, tracks)
    preprocessor = MusicPreprocessor(handle_outliers=handle_outliers)
    return preprocessor, frame, preprocessor.fit_transform(frame)
