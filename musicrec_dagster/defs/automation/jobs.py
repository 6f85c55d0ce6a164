"""Named jobs: take in landed files, retrain and promote, publish."""

import dagster as dg

INGEST_ASSETS = ("raw_users", "raw_tracks", "raw_plays", "landing_registry")
CHECKED_ASSETS = ("validated_users", "validated_tracks", "validated_plays", "quarantine")
FEATURE_ASSETS = ("interactions", "user_features", "track_features")
CATALOGUE_ASSETS = (*INGEST_ASSETS, *CHECKED_ASSETS, *FEATURE_ASSETS)
RETRAIN_ASSETS = (
    "dataset_splits",
    "fitted_preprocessor",
    "hybrid_model",
    "model_evaluation",
    "promotion_report",
    "served_model",
)
SERVE_ASSETS = (
    "serving_policy",
    "recommendations",
    "new_track_recommendations",
    "cold_start_recommendations",
    "serving_database",
)
# What refreshes by itself after new data lands, and the serving policy after an evaluation or a
# promotion (see musicrec_dagster.automation).
FOLLOWING_ASSETS = (*CHECKED_ASSETS, *FEATURE_ASSETS, *SERVE_ASSETS)

ingest_job = dg.define_asset_job(
    "ingest_landing",
    selection=dg.AssetSelection.assets(*INGEST_ASSETS),
    description="Register and archive new files from the landing folders and rebuild the raw "
    "tables; validation and everything after it follow by automation.",
)

catalogue_job = dg.define_asset_job(
    "refresh_catalogue",
    selection=dg.AssetSelection.assets(*CATALOGUE_ASSETS),
    description="Read the source and landed files, validate them and build the features.",
)

data_job = dg.define_asset_job(
    "prepare_data",
    selection=dg.AssetSelection.assets(*CATALOGUE_ASSETS, "dataset_splits"),
    description="The data path alone: take in the source and landed files, validate them, "
    "build the features and the evaluation split; no training.",
)

retrain_job = dg.define_asset_job(
    "retrain",
    selection=dg.AssetSelection.assets(*RETRAIN_ASSETS),
    description="Split the current plays, refit the preprocessor, train the hybrid, evaluate it "
    "against the baselines and promote it only if the promotion gate passes.",
)

serve_job = dg.define_asset_job(
    "serve",
    selection=dg.AssetSelection.assets(*SERVE_ASSETS),
    description="Choose the model of each audience from the latest evaluation and promotion, "
    "recompute recommendations and publish the serving database.",
)
