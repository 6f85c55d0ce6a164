"""Top-K recommendations and the serving database users query with SQL."""

import dagster as dg
import pandas as pd
from pydantic import Field

from musicrec_core import schema as s
from musicrec_core import serving_tables
from musicrec_core.baselines import segment_recommendations
from musicrec_core.hybrid import Hybrid
from musicrec_core.markdown import markdown_table
from musicrec_core.preprocessing import MusicPreprocessor
from musicrec_core.serving import publish_serving_database
from musicrec_dagster.defs.resources import DataSource, PlatformPaths
from musicrec_dagster.defs.training.assets import MODEL_KIND, training_data
from musicrec_dagster.metadata import table_metadata

GROUP = "serving"


class RecommendationSettings(dg.Config):
    """How many tracks each user gets, and how strongly lists are diversified."""

    top_k: int = 20
    diversity: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="MMR strength for a listener with evenly spread tastes (0 = model order)",
    )
    n_candidates: int = Field(default=100, description="re-ranked tracks the diversity step sees")


@dg.asset(group_name=GROUP, kinds={"pandas", "duckdb"}, deps=["hybrid_model"])
def recommendations(
    context: dg.AssetExecutionContext,
    config: RecommendationSettings,
    paths: PlatformPaths,
    dataset_splits: pd.DataFrame,
    interactions: pd.DataFrame,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> pd.DataFrame:
    """Top-K tracks per user from the hybrid model with diversity re-ranking; never one played.

    Users the model cannot place (no plays, no demographics) get popularity in their segment.
    """
    store = paths.artifacts()
    _, preprocessor_folder = store.latest("preprocessor")
    version, folder = store.latest(MODEL_KIND)
    model = Hybrid.load(
        folder,
        training_data(dataset_splits, user_features, track_features),
        MusicPreprocessor.load(preprocessor_folder),
    )
    fallback = serving_tables.segment_popularity(interactions, user_features, track_features)
    frame = serving_tables.hybrid_recommendations(
        model,
        version,
        fallback,
        interactions,
        user_features,
        track_features,
        k=config.top_k,
        diversity=config.diversity,
        n_candidates=config.n_candidates,
    )
    per_user = frame.groupby(s.USER_ID).size()
    context.add_output_metadata(
        {
            **table_metadata(frame),
            "model_version": version,
            "rows_by_model": dg.MetadataValue.json(frame[s.MODEL_NAME].value_counts().to_dict()),
            "users": int(per_user.size),
            "users_with_fewer_than_k": int((per_user < config.top_k).sum()),
            "k": config.top_k,
            "diversity": config.diversity,
        }
    )
    return frame


@dg.asset(group_name=GROUP, kinds={"pandas", "duckdb"})
def cold_start_recommendations(
    context: dg.AssetExecutionContext,
    config: RecommendationSettings,
    interactions: pd.DataFrame,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> pd.DataFrame:
    """Top-K tracks per demographic segment (age group x gender), for users with no plays yet."""
    model = serving_tables.segment_popularity(interactions, user_features, track_features)
    frame = segment_recommendations(model, user_features, config.top_k)
    segments = frame[[s.AGE_GROUP, s.GENDER]].drop_duplicates()
    context.add_output_metadata({**table_metadata(frame), "segments": len(segments)})
    return frame


@dg.asset(group_name=GROUP, kinds={"duckdb"})
def serving_database(
    context: dg.AssetExecutionContext,
    paths: PlatformPaths,
    source: DataSource,
    recommendations: pd.DataFrame,
    cold_start_recommendations: pd.DataFrame,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
    model_evaluation: pd.DataFrame,
) -> dg.MaterializeResult:
    """Publish recommendations, cold-start lists, tracks, users and model metrics for SQL."""
    tables = serving_tables.serving_tables(
        recommendations,
        cold_start_recommendations,
        user_features,
        track_features,
        source.config().describe(),
    )
    tables["model_metrics"] = model_evaluation
    result = publish_serving_database(paths.serving_database, tables, serving_tables.SERVING_VIEWS)
    context.log.info("published %s", result.path)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "size_bytes": result.size_bytes,
            "tables": dg.MetadataValue.json(result.row_counts),
            "views": dg.MetadataValue.json(result.views),
            "example_query": dg.MetadataValue.md(f"```sql\n{serving_tables.EXAMPLE_QUERY}\n```"),
            "sample": dg.MetadataValue.md(
                markdown_table(recommendations.head(10)[[s.USER_ID, s.RANK, s.TRACK_ID, s.SCORE]])
            ),
        }
    )
