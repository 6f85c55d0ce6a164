"""Top-K recommendations and the serving database users query with SQL."""

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from musicrec_core import serving
from musicrec_core.data import MusicPreprocessor
from musicrec_core.data import schema as s
from musicrec_core.evaluation import AUDIENCE, NEW_TRACKS, REASON, USER_AUDIENCES, served_by
from musicrec_core.models import (
    DEFAULT_DIVERSITY,
    DIVERSITY_CANDIDATES,
    Recommender,
    TrainingData,
    build_models,
    model_version,
    segment_recommendations,
)
from musicrec_core.models.hybrid import Hybrid
from musicrec_core.reports import markdown_table
from musicrec_core.serving import (
    NEW_TRACKS_K,
    ArtifactStore,
    content_vectors,
    publish_serving_database,
    unplayed_columns,
    user_shards,
)
from musicrec_dagster.automation import FOLLOW_NEW_DATA
from musicrec_dagster.defs.resources import DataSource, PlatformPaths
from musicrec_dagster.defs.training.assets import MODEL_KIND
from musicrec_dagster.metadata import table_metadata
from musicrec_dagster.shards import N_USER_SHARDS, SHARD_COLUMN, user_shard_partitions

GROUP = "serving"
# The lists per listener: one partition per user shard, each shard a run of its own in a backfill,
# and each shard's rows replacing that shard's rows in the warehouse.
PER_USER_SHARD = {
    "group_name": GROUP,
    "kinds": {"pandas", "duckdb"},
    "partitions_def": user_shard_partitions,
    "backfill_policy": dg.BackfillPolicy.multi_run(1),
    "metadata": {"partition_expr": SHARD_COLUMN},
    "automation_condition": FOLLOW_NEW_DATA,
}


class RecommendationSettings(dg.Config):
    """How many tracks each user gets, and how varied the lists are."""

    top_k: int = 20
    diversity: float = Field(
        default=DEFAULT_DIVERSITY,
        ge=0.0,
        le=1.0,
        description="MMR strength for a listener with evenly spread tastes (0 = model order)",
    )
    n_candidates: int = Field(
        default=DIVERSITY_CANDIDATES, description="re-ranked tracks the diversity step sees"
    )


class NewTrackSettings(dg.Config):
    """How many new tracks each listener's list of them holds."""

    top_k: int = Field(default=NEW_TRACKS_K, ge=1, description="new tracks per listener")


def _shards(context: dg.AssetExecutionContext) -> list[int]:
    """The user shards of the run."""
    return [int(key) for key in context.partition_keys]


def _shard_users(context: dg.AssetExecutionContext, users: pd.DataFrame) -> pd.DataFrame:
    """The users of the run's user shards."""
    return users[np.isin(user_shards(users[s.USER_ID], N_USER_SHARDS), _shards(context))]


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
        return Hybrid.load(folder, data, keep_item_item=True), version
    model = build_models([name], preprocessor)[name]
    return model.fit(data), model_version()


def _audience_models(
    policy: pd.DataFrame,
    store: ArtifactStore,
    preprocessor: MusicPreprocessor,
    data: TrainingData,
    fallback: Recommender,
) -> dict[str, tuple[Recommender, str]]:
    """The (model, version) of each audience the lists serve, each distinct model loaded or
    fitted once."""
    loaded: dict[tuple[str, str | None], tuple[Recommender, str]] = {}
    chosen = {}
    by_audience = policy.set_index(AUDIENCE)
    for audience in policy[AUDIENCE]:
        if audience not in USER_AUDIENCES:
            continue
        key = served_by(by_audience, audience)
        if key not in loaded:
            if key[0] == fallback.name:
                loaded[key] = (fallback, model_version())
            else:
                loaded[key] = _serving_model(*key, store, preprocessor, data)
        chosen[audience] = loaded[key]
    return chosen


@dg.asset(**PER_USER_SHARD)
def recommendations(
    context: dg.AssetExecutionContext,
    config: RecommendationSettings,
    paths: PlatformPaths,
    serving_policy: pd.DataFrame,
    interactions: pd.DataFrame,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> pd.DataFrame:
    """Top-K tracks per user of the run's user shards over every play so far, diversified, each
    from the model serving_policy chose for the user's audience.

    Listeners with more than a few distinct tracks get the warm model, those with a few the
    cold_user_given model, those with none the cold_user model; new plays, users and tracks
    count without retraining. Users a model cannot place (no plays, and no demographics where
    it reads them) get popularity in their segment. A run may take one shard or a range of
    them; each shard's rows replace that shard's rows only.
    """
    store = paths.artifacts()
    preprocessor = MusicPreprocessor.load(store.latest("preprocessor")[1])
    data = TrainingData(interactions, user_features, track_features)
    fallback = serving.segment_popularity(interactions, user_features, track_features)
    models = _audience_models(serving_policy, store, preprocessor, data, fallback)
    users = _shard_users(context, user_features)
    audiences = serving.user_audiences(users, interactions)
    frame = serving.audience_recommendations(
        models,
        audiences,
        fallback,
        interactions,
        users,
        track_features,
        content_vectors(track_features, preprocessor),
        k=config.top_k,
        diversity=config.diversity,
        n_candidates=config.n_candidates,
    )
    frame[SHARD_COLUMN] = user_shards(frame[s.USER_ID], N_USER_SHARDS)
    for audience, (model, version) in models.items():
        context.log.info(f"serving {audience} with {model.name} (version {version})")
    per_user = frame.groupby(s.USER_ID).size()
    served = frame[[s.USER_ID, s.MODEL_NAME]].merge(
        pd.DataFrame({s.USER_ID: users[s.USER_ID], AUDIENCE: audiences})
    )
    rows = served.groupby([AUDIENCE, s.MODEL_NAME]).size()
    context.add_output_metadata(
        {
            **table_metadata(frame),
            "rows_by_audience_and_model": dg.MetadataValue.json(
                {a: rows[a].to_dict() for a in rows.index.unique(AUDIENCE)}
            ),
            "users_by_audience": dg.MetadataValue.json(audiences.value_counts().to_dict()),
            "served_models": dg.MetadataValue.md(markdown_table(serving_policy.fillna(""))),
            "users": int(per_user.size),
            "users_with_fewer_than_k": int((per_user < config.top_k).sum()),
            "k": config.top_k,
            "diversity": config.diversity,
            "shards": dg.MetadataValue.json(_shards(context)),
            "shard_count": N_USER_SHARDS,
        }
    )
    return frame


@dg.asset(**PER_USER_SHARD)
def new_track_recommendations(
    context: dg.AssetExecutionContext,
    config: NewTrackSettings,
    paths: PlatformPaths,
    serving_policy: pd.DataFrame,
    interactions: pd.DataFrame,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> pd.DataFrame:
    """Top-K tracks nobody has played yet per user of the run's user shards, ranked by the
    model serving_policy chose for new tracks (cold_track), over every play so far.

    New tracks are ranked among themselves, as model_evaluation measures that audience, so
    they reach listeners even where the main lists rank played tracks above them.
    """
    store = paths.artifacts()
    preprocessor = MusicPreprocessor.load(store.latest("preprocessor")[1])
    data = TrainingData(interactions, user_features, track_features)
    by_audience = serving_policy.set_index(AUDIENCE)
    model, version = _serving_model(*served_by(by_audience, NEW_TRACKS), store, preprocessor, data)
    users = _shard_users(context, user_features)
    frame = serving.new_track_recommendations(model, version, users, config.top_k)
    frame[SHARD_COLUMN] = user_shards(frame[s.USER_ID], N_USER_SHARDS)
    context.log.info(f"ranking new tracks with {model.name} (version {version})")
    context.add_output_metadata(
        {
            **table_metadata(frame),
            "new_tracks": len(unplayed_columns(data.matrix)),
            "users": int(frame[s.USER_ID].nunique()),
            "model": f"{model.name} {version}",
            "why": str(by_audience.loc[NEW_TRACKS, REASON]),
            "k": config.top_k,
            "shards": dg.MetadataValue.json(_shards(context)),
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
        ),
        "new_track_recommendations": dg.AssetIn(
            partition_mapping=dg.AllPartitionMapping(),
            metadata={"columns": s.RECOMMENDATION_COLUMNS},
        ),
    },
    automation_condition=FOLLOW_NEW_DATA,
)
def serving_database(
    context: dg.AssetExecutionContext,
    paths: PlatformPaths,
    source: DataSource,
    recommendations: pd.DataFrame,
    new_track_recommendations: pd.DataFrame,
    cold_start_recommendations: pd.DataFrame,
    interactions: pd.DataFrame,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
    serving_policy: pd.DataFrame,
    model_evaluation: pd.DataFrame,
) -> dg.MaterializeResult:
    """Publish recommendations and new-track lists of every user shard, cold-start lists,
    tracks, users, which model serves each audience and model metrics for SQL."""
    tables = serving.serving_tables(
        recommendations,
        new_track_recommendations,
        cold_start_recommendations,
        user_features,
        track_features,
        interactions,
        serving_policy,
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
            "served_models": dg.MetadataValue.md(markdown_table(serving_policy.fillna(""))),
            "example_query": dg.MetadataValue.md(f"```sql\n{serving.EXAMPLE_QUERY}\n```"),
            "sample": dg.MetadataValue.md(
                markdown_table(recommendations.head(10)[[s.USER_ID, s.RANK, s.TRACK_ID, s.SCORE]])
            ),
        }
    )
