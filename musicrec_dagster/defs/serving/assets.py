"""Top-K recommendations and the serving database users query with SQL."""

import os

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from musicrec_core import serving
from musicrec_core.data import MusicPreprocessor
from musicrec_core.data import schema as s
from musicrec_core.evaluation import PROMOTED, audience_models, read_served, serving_choice
from musicrec_core.models import (
    Recommender,
    TrainingData,
    build_models,
    model_version,
    segment_recommendations,
)
from musicrec_core.models.hybrid import Hybrid
from musicrec_core.reports import markdown_table
from musicrec_core.serving import (
    ArtifactStore,
    content_vectors,
    publish_serving_database,
    user_shards,
)
from musicrec_dagster.automation import FOLLOW_NEW_DATA, FOLLOW_NEW_DATA_AND_PROMOTIONS
from musicrec_dagster.defs.resources import DataSource, PlatformPaths
from musicrec_dagster.defs.serving.shards import N_USER_SHARDS, SHARD_COLUMN, user_shard_partitions
from musicrec_dagster.defs.training.assets import MODEL_KIND
from musicrec_dagster.metadata import table_metadata

GROUP = "serving"
SERVING_MODEL_ENV = "MUSICREC_SERVING_MODEL"


class RecommendationSettings(dg.Config):
    """Which model serves, how many tracks each user gets, and how varied the lists are."""

    model: str = Field(
        default=os.environ.get(SERVING_MODEL_ENV, PROMOTED),
        description="'promoted' serves the model that last passed the promotion gate (before "
        "any, the baseline with the best warm NDCG@10); or pin one: hybrid (latest trained), "
        f"ease, item_knn, ... The default follows {SERVING_MODEL_ENV}.",
    )
    top_k: int = 20
    diversity: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="MMR strength for a listener with evenly spread tastes (0 = model order)",
    )
    n_candidates: int = Field(default=100, description="re-ranked tracks the diversity step sees")


def _serving_model(
    name: str,
    version: str | None,
    store: ArtifactStore,
    preprocessor: MusicPreprocessor,
    data: TrainingData,
) -> tuple[Recommender, str]:
    """A trained hybrid version over today's catalogue and plays, or a baseline fitted on them."""
    if name == Hybrid.name:
        if version is None:
            version, folder = store.latest(MODEL_KIND)
        else:
            folder = store.folder(MODEL_KIND, version)
        return Hybrid.load(folder, data), version
    model = build_models([name], preprocessor)[name]
    return model.fit(data), model_version()


@dg.asset(
    group_name=GROUP,
    kinds={"pandas", "duckdb"},
    deps=["served_model"],
    partitions_def=user_shard_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(1),
    metadata={"partition_expr": SHARD_COLUMN},
    automation_condition=FOLLOW_NEW_DATA_AND_PROMOTIONS,
)
def recommendations(
    context: dg.AssetExecutionContext,
    config: RecommendationSettings,
    paths: PlatformPaths,
    model_evaluation: pd.DataFrame,
    interactions: pd.DataFrame,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> pd.DataFrame:
    """Top-K tracks per user of the run's user shards from the served model over every play so
    far, diversified.

    New plays, users and tracks count without retraining. Users the model cannot place (no
    plays, and no demographics where it reads them) get popularity in their segment. A run may
    take one shard or a range of them; each shard's rows replace that shard's rows only.
    """
    store = paths.artifacts()
    preprocessor = MusicPreprocessor.load(store.latest("preprocessor")[1])
    name, version, why = serving_choice(
        config.model, read_served(store.served_record), model_evaluation, Hybrid.name
    )
    data = TrainingData(interactions, user_features, track_features)
    model, version = _serving_model(name, version, store, preprocessor, data)
    shards = [int(key) for key in context.partition_keys]
    in_run = np.isin(user_shards(user_features[s.USER_ID], N_USER_SHARDS), shards)
    frame = serving.served_recommendations(
        model,
        version,
        serving.segment_popularity(interactions, user_features, track_features),
        interactions,
        user_features[in_run],
        track_features,
        content_vectors(track_features, preprocessor),
        k=config.top_k,
        diversity=config.diversity,
        n_candidates=config.n_candidates,
    )
    frame[SHARD_COLUMN] = user_shards(frame[s.USER_ID], N_USER_SHARDS)
    context.log.info(f"serving {name} (version {version}) to shards {shards}: {why}")
    per_user = frame.groupby(s.USER_ID).size()
    context.add_output_metadata(
        {
            **table_metadata(frame),
            "model": name,
            "model_version": version,
            "chosen_by": why,
            "rows_by_model": dg.MetadataValue.json(frame[s.MODEL_NAME].value_counts().to_dict()),
            "users": int(per_user.size),
            "users_with_fewer_than_k": int((per_user < config.top_k).sum()),
            "k": config.top_k,
            "diversity": config.diversity,
            "shards": dg.MetadataValue.json(shards),
            "shard_count": N_USER_SHARDS,
        }
    )
    return frame


@dg.asset(group_name=GROUP, kinds={"pandas", "duckdb"}, automation_condition=FOLLOW_NEW_DATA)
def cold_start_recommendations(
    context: dg.AssetExecutionContext,
    config: RecommendationSettings,
    interactions: pd.DataFrame,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> pd.DataFrame:
    """Top-K tracks per demographic segment (age group x gender), for users with no plays yet."""
    model = serving.segment_popularity(interactions, user_features, track_features)
    frame = segment_recommendations(model, user_features, config.top_k)
    segments = frame[[s.AGE_GROUP, s.GENDER]].drop_duplicates()
    context.add_output_metadata({**table_metadata(frame), "segments": len(segments)})
    return frame


@dg.asset(
    group_name=GROUP,
    kinds={"duckdb"},
    ins={
        "recommendations": dg.AssetIn(
            partition_mapping=dg.AllPartitionMapping(),
            # Read by one query over every shard, without the shard column.
            metadata={"columns": s.RECOMMENDATION_COLUMNS},
        )
    },
    automation_condition=FOLLOW_NEW_DATA,
)
def serving_database(
    context: dg.AssetExecutionContext,
    paths: PlatformPaths,
    source: DataSource,
    recommendations: pd.DataFrame,
    cold_start_recommendations: pd.DataFrame,
    interactions: pd.DataFrame,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
    model_evaluation: pd.DataFrame,
) -> dg.MaterializeResult:
    """Publish recommendations of every user shard, cold-start lists, tracks, users and model
    metrics for SQL."""
    setting = RecommendationSettings().model
    audiences = audience_models(
        setting, read_served(paths.artifacts().served_record), model_evaluation, Hybrid.name
    )
    tables = serving.serving_tables(
        recommendations,
        cold_start_recommendations,
        user_features,
        track_features,
        interactions,
        audiences,
        source.config().describe(),
    )
    tables["model_metrics"] = model_evaluation
    result = publish_serving_database(paths.serving_database, tables, serving.SERVING_VIEWS)
    context.log.info("published %s", result.path)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "size_bytes": result.size_bytes,
            "tables": dg.MetadataValue.json(result.row_counts),
            "views": dg.MetadataValue.json(result.views),
            "served_models": dg.MetadataValue.md(markdown_table(audiences)),
            "example_query": dg.MetadataValue.md(f"```sql\n{serving.EXAMPLE_QUERY}\n```"),
            "sample": dg.MetadataValue.md(
                markdown_table(recommendations.head(10)[[s.USER_ID, s.RANK, s.TRACK_ID, s.SCORE]])
            ),
        }
    )
