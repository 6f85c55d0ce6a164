"""The data path: schema, sources, landing, the warehouse stages (raw, validation, features,
split) and the preprocessor."""

from musicrec_core.data import warehouse
from musicrec_core.data.column_values import encoded_column
from musicrec_core.data.deliveries import (
    Delivery,
    delivery_stamp,
    plays_delivery,
    tracks_delivery,
    write_then_rename,
)
from musicrec_core.data.feature_tables import build_features
from musicrec_core.data.interactions import (
    InteractionMatrix,
    holdout,
    listeners_per_track,
    played_columns,
)
from musicrec_core.data.landing import (
    IngestResult,
    file_sha256,
    ingest_landing,
    is_pending,
    registry_frame,
    scan_landing,
)
from musicrec_core.data.pipeline import (
    FIT_PLAY_COLUMNS,
    PreparedData,
    fit_preprocessor,
    prepare,
    run_data_path,
)
from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.data.raw import RawResult, raw_generation, refresh_raw
from musicrec_core.data.schema import RawTables
from musicrec_core.data.shards import shard_users, user_shards
from musicrec_core.data.split import (
    COLD_TRACK,
    COLD_USER,
    SPLITS,
    TEST,
    TRAIN,
    VALIDATION,
    SplitConfig,
    build_split_table,
    read_split_rows,
    split_interactions,
    training_rows,
)
from musicrec_core.data.validation import (
    DERIVED_SOURCE,
    TIMESTAMP_RANGE,
    DeliveryResult,
    ValidatedCatalogue,
    imputed_counts,
    reconcile,
    reconcile_by_delivery,
    reconcile_table,
    reconcile_totals,
    validate_catalogue,
    validate_pending,
)

__all__ = [
    "COLD_TRACK",
    "COLD_USER",
    "DERIVED_SOURCE",
    "FIT_PLAY_COLUMNS",
    "SPLITS",
    "TEST",
    "TIMESTAMP_RANGE",
    "TRAIN",
    "VALIDATION",
    "Delivery",
    "DeliveryResult",
    "IngestResult",
    "InteractionMatrix",
    "MusicPreprocessor",
    "PreparedData",
    "RawResult",
    "RawTables",
    "SplitConfig",
    "ValidatedCatalogue",
    "build_features",
    "build_split_table",
    "delivery_stamp",
    "encoded_column",
    "file_sha256",
    "fit_preprocessor",
    "holdout",
    "imputed_counts",
    "ingest_landing",
    "is_pending",
    "listeners_per_track",
    "played_columns",
    "plays_delivery",
    "prepare",
    "raw_generation",
    "read_split_rows",
    "reconcile",
    "reconcile_by_delivery",
    "reconcile_table",
    "reconcile_totals",
    "refresh_raw",
    "registry_frame",
    "run_data_path",
    "scan_landing",
    "shard_users",
    "split_interactions",
    "tracks_delivery",
    "training_rows",
    "user_shards",
    "validate_catalogue",
    "validate_pending",
    "warehouse",
    "write_then_rename",
]
