"""Engineered features, the evaluation split and the fitted preprocessor."""

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from musicrec_core import data as data_path
from musicrec_core.data import (
    FIT_PLAY_COLUMNS,
    TRAIN,
    SplitConfig,
    fit_preprocessor,
    read_split_rows,
)
from musicrec_core.data import schema as s
from musicrec_core.data import warehouse as wh
from musicrec_core.reports import (
    feature_before_after,
    plays_distribution,
    time_signature_before_after,
)
from musicrec_dagster.automation import FOLLOW_NEW_DATA
from musicrec_dagster.defs.resources import PlatformPaths
from musicrec_dagster.metadata import image, warehouse_table_metadata
from musicrec_dagster.warehouse import open_warehouse

GROUP = "features"
KINDS = {"pandas", "duckdb"}


def _feature_specs() -> list[dg.AssetSpec]:
    """The feature tables, each refreshed after new validated rows."""
    return [
        dg.AssetSpec(
            s.INTERACTIONS_TABLE,
            description="One row per (user, track): total plays, last played_at and log plays.",
            kinds={"duckdb"},
            group_name=GROUP,
            deps=[s.VALIDATED_TABLES["plays"]],
            automation_condition=FOLLOW_NEW_DATA,
        ),
        dg.AssetSpec(
            s.USER_FEATURES_TABLE,
            description="Users with age group (the demographic segment) and listening activity.",
            kinds={"duckdb"},
            group_name=GROUP,
            deps=[s.VALIDATED_TABLES["users"], s.INTERACTIONS_TABLE],
            automation_condition=FOLLOW_NEW_DATA,
        ),
        dg.AssetSpec(
            s.TRACK_FEATURES_TABLE,
            description="Tracks with release year, music age, energy x loudness, dance x valence "
            "and listeners.",
            kinds={"duckdb"},
            group_name=GROUP,
            deps=[s.VALIDATED_TABLES["tracks"], s.INTERACTIONS_TABLE],
            automation_condition=FOLLOW_NEW_DATA,
        ),
    ]


@dg.multi_asset(specs=_feature_specs())
def catalogue_features(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """Merge every newly validated delivery into the feature tables (all of them at once
    after the validated tables were rebuilt)."""
    with open_warehouse(warehouse) as con:
        merged = data_path.build_features(con, data_path.raw_generation(con))
        context.log.info(
            f"feature tables now include deliveries up to {merged[-1] if merged else 'before'}"
        )
        yield dg.MaterializeResult(
            asset_key=s.INTERACTIONS_TABLE,
            metadata={
                **warehouse_table_metadata(con, s.INTERACTIONS_TABLE),
                "deliveries_merged": dg.MetadataValue.json(merged),
            },
        )
        segments = wh.frame(
            con,
            f"SELECT {s.AGE_GROUP}, {s.GENDER}, count(*) AS users FROM {s.USER_FEATURES_TABLE} "
            "GROUP BY ALL ORDER BY ALL",
        )
        yield dg.MaterializeResult(
            asset_key=s.USER_FEATURES_TABLE,
            metadata={
                **warehouse_table_metadata(con, s.USER_FEATURES_TABLE),
                "segments": dg.MetadataValue.json(segments.to_dict("records")),
            },
        )
        yield dg.MaterializeResult(
            asset_key=s.TRACK_FEATURES_TABLE,
            metadata=warehouse_table_metadata(con, s.TRACK_FEATURES_TABLE),
        )


class SplitSettings(dg.Config):
    """How the evaluation split holds out data (see musicrec_core.data.split)."""

    test_fraction: float = SplitConfig.test_fraction
    validation_fraction: float = SplitConfig.validation_fraction
    min_user_interactions: int = SplitConfig.min_user_interactions
    cold_user_fraction: float = SplitConfig.cold_user_fraction
    cold_track_fraction: float = SplitConfig.cold_track_fraction
    seed: int = SplitConfig.seed


@dg.asset(group_name=GROUP, kinds={"duckdb"}, deps=[s.INTERACTIONS_TABLE])
def dataset_splits(
    context: dg.AssetExecutionContext, config: SplitSettings, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    """Interactions labelled train / validation / test / cold_user / cold_track."""
    with open_warehouse(warehouse) as con:
        data_path.build_split_table(con, SplitConfig(**config.model_dump()))
        counts = wh.frame(
            con,
            f"SELECT {s.SPLIT}, count(*) AS interactions, count(DISTINCT {s.USER_ID}) AS users, "
            f"count(DISTINCT {s.TRACK_ID}) AS tracks FROM {s.SPLITS_TABLE} GROUP BY ALL",
        ).set_index(s.SPLIT)
        timed = con.execute(f"SELECT count({s.PLAYED_AT}) > 0 FROM {s.SPLITS_TABLE}").fetchone()[0]
        metadata = warehouse_table_metadata(con, s.SPLITS_TABLE)
    by_split = {
        name: {k: int(v) for k, v in counts.loc[name].items()}
        if name in counts.index
        else {"interactions": 0, "users": 0, "tracks": 0}
        for name in data_path.SPLITS
    }
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "by_split": dg.MetadataValue.json(by_split),
            "holdout": "by played_at" if timed else "seeded random",
        }
    )


class PreprocessorSettings(dg.Config):
    """Outlier handling of the preprocessor: robust, cap or none."""

    handle_outliers: str = "robust"


@dg.asset(group_name=GROUP, kinds={"scikitlearn"}, deps=["dataset_splits"])
def fitted_preprocessor(
    context: dg.AssetExecutionContext,
    config: PreprocessorSettings,
    paths: PlatformPaths,
    warehouse: DuckDBResource,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> dg.MaterializeResult:
    """MusicPreprocessor fitted on the training split only, saved as a versioned artifact.

    It reads the columns of the training plays its fit uses, not the whole split as an input.
    """
    with open_warehouse(warehouse) as con:
        plays = read_split_rows(con, [TRAIN], FIT_PLAY_COLUMNS)
    preprocessor, frame, transformed = fit_preprocessor(
        plays, user_features, track_features, config.handle_outliers
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
