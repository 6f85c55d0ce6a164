"""serving_policy: which model serves each audience, read alike by the recommendation lists, the
published ``served_models`` table and the HTTP API."""

import os

import dagster as dg
import pandas as pd
from pydantic import Field

from musicrec_core.evaluation import PROMOTED, audience_models, read_served
from musicrec_core.models.hybrid import Hybrid
from musicrec_core.reports import markdown_table
from musicrec_dagster.automation import FOLLOW_NEW_DATA_AND_PROMOTIONS
from musicrec_dagster.defs.resources import PlatformPaths
from musicrec_dagster.defs.training.assets import MODEL_KIND
from musicrec_dagster.metadata import table_metadata

GROUP = "serving"
SERVING_MODEL_ENV = "MUSICREC_SERVING_MODEL"


class PolicySettings(dg.Config):
    """Whether each audience gets its best measured model or one model is pinned."""

    model: str = Field(
        default=os.environ.get(SERVING_MODEL_ENV, PROMOTED),
        description="'promoted' serves each audience the model with the best NDCG@10 on its "
        "test set in model_evaluation, the hybrid only once it passed the promotion gate; or "
        "pin one: hybrid (latest trained), ease, item_knn, ... A pinned model serves the "
        "listeners with plays and the other audiences it can place. The default follows "
        f"{SERVING_MODEL_ENV}.",
    )


@dg.asset(
    group_name=GROUP,
    kinds={"pandas", "duckdb"},
    deps=["served_model"],
    automation_condition=FOLLOW_NEW_DATA_AND_PROMOTIONS,
)
def serving_policy(
    context: dg.AssetExecutionContext,
    config: PolicySettings,
    paths: PlatformPaths,
    model_evaluation: pd.DataFrame,
) -> pd.DataFrame:
    """The model, version and reason for each audience: warm listeners, new listeners with no
    plays or a few, and new tracks."""
    store = paths.artifacts()
    latest = store.latest(MODEL_KIND)[0] if config.model == Hybrid.name else None
    served = read_served(store.served_record)
    frame = audience_models(config.model, served, model_evaluation, Hybrid.name, latest)
    for row in frame.itertuples(index=False):
        context.log.info(f"{row.audience}: {row.model_name} ({row.reason})")
    context.add_output_metadata(
        {
            **table_metadata(frame),
            "setting": config.model,
            "promoted": f"{served.model_name} {served.version}" if served else "nothing yet",
            "served_models": dg.MetadataValue.md(markdown_table(frame.fillna(""))),
        }
    )
    return frame
