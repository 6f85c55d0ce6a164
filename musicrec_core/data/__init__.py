"""The data path: schema, sources, landing, validation, features, preprocessing and the split."""

from musicrec_core.data.catalogue import track_features, user_features
from musicrec_core.data.column_values import encoded_column
from musicrec_core.data.deliveries import (
    Delivery,
    plays_delivery,
    tracks_delivery,
    write_then_rename,
)
from musicrec_core.data.features import build_interactions
from musicrec_core.data.interactions import InteractionMatrix, holdout
from musicrec_core.data.landing import (
    empty_registry,
    file_sha256,
    ingest_landing,
    is_pending,
    scan_landing,
    with_deliveries,
)
from musicrec_core.data.pipeline import PreparedData, fit_preprocessor, prepare
from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.data.schema import RawTables
from musicrec_core.data.split import (
    COLD_TRACK,
    COLD_USER,
    SPLITS,
    TEST,
    TRAIN,
    VALIDATION,
    SplitConfig,
    split_counts,
    split_interactions,
)
from musicrec_core.data.validation import DERIVED_SOURCE, reconcile, validate_catalogue

__all__ = [
    "COLD_TRACK",
    "COLD_USER",
    "DERIVED_SOURCE",
    "SPLITS",
    "TEST",
    "TRAIN",
    "VALIDATION",
    "Delivery",
    "InteractionMatrix",
    "MusicPreprocessor",
    "PreparedData",
    "RawTables",
    "SplitConfig",
    "build_interactions",
    "empty_registry",
    "encoded_column",
    "file_sha256",
    "fit_preprocessor",
    "holdout",
    "ingest_landing",
    "is_pending",
    "plays_delivery",
    "prepare",
    "reconcile",
    "scan_landing",
    "split_counts",
    "split_interactions",
    "track_features",
    "tracks_delivery",
    "user_features",
    "validate_catalogue",
    "with_deliveries",
    "write_then_rename",
]
