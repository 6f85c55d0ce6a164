"""Serving: the recommendation tables, their atomic publication as a read-only DuckDB file,
and the store of published artifacts."""

from musicrec_core.data.shards import shard_users, user_shards
from musicrec_core.serving.artifacts import ArtifactStore
from musicrec_core.serving.audiences import audience_recommendations, user_audiences
from musicrec_core.serving.layout import ARTIFACTS_DIR, LANDING_DIR, SERVING_FILE
from musicrec_core.serving.new_tracks import (
    NEW_TRACKS_K,
    new_track_recommendations,
    unplayed_columns,
)
from musicrec_core.serving.publish import PublishResult, publish_serving_database, read_only_query
from musicrec_core.serving.tables import (
    EXAMPLE_QUERY,
    SERVING_VIEWS,
    content_vectors,
    recommend_all,
    segment_popularity,
    servable_users,
    served_recommendations,
    serving_tables,
)

__all__ = [
    "ARTIFACTS_DIR",
    "EXAMPLE_QUERY",
    "LANDING_DIR",
    "NEW_TRACKS_K",
    "SERVING_FILE",
    "SERVING_VIEWS",
    "ArtifactStore",
    "PublishResult",
    "audience_recommendations",
    "content_vectors",
    "new_track_recommendations",
    "publish_serving_database",
    "read_only_query",
    "recommend_all",
    "segment_popularity",
    "servable_users",
    "served_recommendations",
    "serving_tables",
    "shard_users",
    "unplayed_columns",
    "user_audiences",
    "user_shards",
]
