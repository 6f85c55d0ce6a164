"""Engineered features, the evaluation split and the fitted preprocessor."""

import dagster as dg
import pandas as pd

from musicrec_core import data as data_path
from musicrec_core.data import SplitConfig, fit_preprocessor
from musicrec_core.data import schema as s
from musicrec_core.reports import (
    feature_before_after,
    plays_distribution,
    time_signature_before_after,
)
from musicrec_dagster.automation import FOLLOW_NEW_DATA
from musicrec_dagster.defs.resources import PlatformPaths
from musicrec_dagster.metadata import image, table_metadata

GROUP = "features"
KINDS = {"pandas", "duckdb"}


@dg.asset(group_name=GROUP, kinds=KINDS, automation_condition=FOLLOW_NEW_DATA)
def interactions(context: dg.AssetExecutionContext, validated_plays: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, track): total plays, last played_at and log plays."""
    out = data_path.build_interactions(validated_plays)
    context.add_output_metadata(table_metadata(out))
    return out


@dg.asset(group_name=GROUP, kinds=KINDS, automation_condition=FOLLOW_NEW_DATA)
def user_features(
    context: dg.AssetExecutionContext, validated_users: pd.DataFrame, interactions: pd.DataFrame
) -> pd.DataFrame:
    """Users with age group (the demographic segment) and listening activity."""
    out = data_path.user_features(validated_users, interactions)
    context.add_output_metadata(
        {
            **table_metadata(out),
            "segments": dg.MetadataValue.json(
                out.groupby([s.AGE_GROUP, s.GENDER])
                .size()
                .rename("users")
                .reset_index()
                .to_dict("records")
            ),
        }
    )
    return out


@dg.asset(group_name=GROUP, kinds=KINDS, automation_condition=FOLLOW_NEW_DATA)
def track_features(
    context: dg.AssetExecutionContext, validated_tracks: pd.DataFrame, interactions: pd.DataFrame
) -> pd.DataFrame:
    """Tracks with release year, music age, energy x loudness, dance x valence and listeners."""
    out = data_path.track_features(validated_tracks, interactions)
    context.add_output_metadata(table_metadata(out))
    return out


class SplitSettings(dg.Config):
    """How the evaluation split holds out data (see musicrec_core.data.split)."""

    test_fraction: float = SplitConfig.test_fraction
    validation_fraction: float = SplitConfig.validation_fraction
    min_user_interactions: int = SplitConfig.min_user_interactions
    cold_user_fraction: float = SplitConfig.cold_user_fraction
    cold_track_fraction: float = SplitConfig.cold_track_fraction
    seed: int = SplitConfig.seed


@dg.asset(group_name=GROUP, kinds=KINDS)
def dataset_splits(
    context: dg.AssetExecutionContext, config: SplitSettings, interactions: pd.DataFrame
) -> pd.DataFrame:
    """Interactions labelled train / validation / test / cold_user / cold_track."""
    out = data_path.split_interactions(interactions, SplitConfig(**config.model_dump()))
    counts = data_path.split_counts(out)
    context.add_output_metadata(
        {
            **table_metadata(out),
            "by_split": dg.MetadataValue.json(counts),
            "holdout": "by played_at" if out[s.PLAYED_AT].notna().any() else "seeded random",
        }
    )
    return out


class PreprocessorSettings(dg.Config):
    """Outlier handling of the preprocessor: robust, cap or none."""

    handle_outliers: str = "robust"


@dg.asset(group_name=GROUP, kinds={"scikitlearn"})
def fitted_preprocessor(
    context: dg.AssetExecutionContext,
    config: PreprocessorSettings,
    paths: PlatformPaths,
    dataset_splits: pd.DataFrame,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> dg.MaterializeResult:
    """MusicPreprocessor fitted on the training split only, saved as a versioned artifact."""
    preprocessor, frame, transformed = fit_preprocessor(
        dataset_splits, user_features, track_features, config.handle_outliers
    )
    store = paths.artifacts()
    version, folder = store.new_version("preprocessor")
    preprocessor.save_preprocessors(folder)
    store.mark_latest("preprocessor", version)
    for step in preprocessor.steps:
        context.log.info(step)
    processed_ts = preprocessor._handle_time_signature_outliers(frame)[s.TIME_SIGNATURE]
    metadata = {
        "version": version,
        "path": dg.MetadataValue.path(str(folder)),
        "fit_rows": len(frame),
        "features_used": dg.MetadataValue.json(preprocessor.features_used),
        "features_skipped": dg.MetadataValue.json(preprocessor.features_skipped),
        "steps": dg.MetadataValue.md("\n".join(f"1. {step}" for step in preprocessor.steps)),
        "plays_original_vs_log": image(
            plays_distribution(frame[s.PLAYS], transformed[s.PLAYS_LOG]), "plays"
        ),
        "time_signature_original_vs_processed": image(
            time_signature_before_after(frame[s.TIME_SIGNATURE], processed_ts), "time signature"
        ),
    }
    if s.ENERGY in transformed:
        metadata["energy_original_vs_transformed"] = image(
            feature_before_after(frame[s.ENERGY], transformed[s.ENERGY], s.ENERGY), "energy"
        )
    return dg.MaterializeResult(metadata=metadata)
