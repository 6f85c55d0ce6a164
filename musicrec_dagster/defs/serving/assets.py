"""Top-K recommendations and the serving database users query with SQL."""

import dagster as dg
import pandas as pd

from musicrec_core import schema as s
from musicrec_core import serving_tables
from musicrec_core.markdown import markdown_table
from musicrec_core.serving import publish_serving_database
from musicrec_dagster.defs.resources import DataSource, PlatformPaths
from musicrec_dagster.metadata import table_metadata

GROUP = "serving"


class RecommendationSettings(dg.Config):
    """How many tracks each user gets."""

    top_k: int = 20


@dg.asset(group_name=GROUP, kinds={"pandas", "duckdb"})
def recommendations(
    context: dg.AssetExecutionContext,
    config: RecommendationSettings,
    interactions: pd.DataFrame,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> pd.DataFrame:
    """Top-K tracks per user (rank, score, model name and version), never one already played."""
    result = serving_tables.user_recommendations(
        interactions, user_features, track_features, config.top_k
    )
    frame = result.frame
    per_user = frame.groupby(s.USER_ID).size()
    context.add_output_metadata(
        {
            **table_metadata(frame),
            "model": result.model_name,
            "model_version": result.model_version,
            "users": int(per_user.size),
            "users_with_fewer_than_k": int((per_user < config.top_k).sum()),
            "k": config.top_k,
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
    frame = serving_tables.segment_top_k(interactions, user_features, track_features, config.top_k)
    context.add_output_metadata(
        {
            **table_metadata(frame),
            "segments": int(frame[[s.AGE_GROUP, s.GENDER]].drop_duplicates().shape[0]),
        }
    )
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
