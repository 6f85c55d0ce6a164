"""A job that builds what evaluation needs and compares the models, without publishing."""

import dagster as dg

evaluate_models_job = dg.define_asset_job(
    "evaluate_models",
    selection=dg.AssetSelection.assets("model_evaluation")
    .upstream()
    .required_multi_asset_neighbors(),
    description="Validate, build features and the split, then evaluate every configured model.",
)
