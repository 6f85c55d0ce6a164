"""Column names, value ranges and pandera schemas: the one source of truth for every table.

Raw tables hold what arrived, as text, plus where it came from (``source_file``, ``source_row``).
Validated tables hold typed, range-checked rows; optional fields that were missing or invalid are
imputed and named in ``imputed_columns`` so nothing is silently invented.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

# --- identifiers and provenance -------------------------------------------------------------
USER_ID = "user_id"
TRACK_ID = "track_id"
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"  # 1-based data row within its source (the header is not counted)
IMPUTED_COLUMNS = "imputed_columns"  # comma-separated names of fields that were imputed
# Which ingestion brought a row: 0 for the configured source, then one number per landed file
# in the order the landing registry took them in.
DELIVERY = "delivery"
SOURCE_DELIVERY = 0
# 64-bit hashes of a play's key (user, track, played_at) and of a (user, track) pair: the data
# path joins a delivery's rows on them to find their matches among millions quickly, then
# compares the keys themselves.
PLAY_KEY = "play_key"
PAIR_KEY = "pair_key"
# Why a raw row could not be split into fields (too many fields, an unterminated quote); None
# for every well-formed row.
READ_ERROR = "read_error"

# --- users -----------------------------------------------------------------------------------
AGE = "age"
GENDER = "gender"
AGE_GROUP = "age_group"

GENDER_VALUES = ("M", "F", "X", "U")  # male, female, other / non-binary, unknown
GENDER_UNKNOWN = "U"
GENDER_ALIASES = {
    "m": "M",
    "male": "M",
    "man": "M",
    "f": "F",
    "female": "F",
    "woman": "F",
    "x": "X",
    "o": "X",
    "other": "X",
    "non-binary": "X",
    "nonbinary": "X",
    "u": "U",
    "unknown": "U",
}
AGE_RANGE = (5, 110)
# Generations as the seed dataset labels them (upper age bound inclusive).
AGE_GROUPS = (
    (26, "Gen Z"),
    (42, "Millennials"),
    (58, "Gen X"),
    (77, "Baby Boomers"),
    (200, "Silent Generation"),
)
AGE_GROUP_UNKNOWN = "Unknown"

# --- tracks ----------------------------------------------------------------------------------
TRACK_NAME = "track_name"
ARTIST_NAME = "artist_name"
FEATURED_ARTISTS = "featured_artists"
GENRE = "genre"
RELEASE_DATE = "release_date"
RELEASE_YEAR = "release_year"
DURATION = "duration"  # minutes
ACOUSTICNESS = "acousticness"
DANCEABILITY = "danceability"
ENERGY = "energy"
INSTRUMENTALNESS = "instrumentalness"
LIVENESS = "liveness"
LOUDNESS = "loudness"
SPEECHINESS = "speechiness"
VALENCE = "valence"
TEMPO = "tempo"
KEY = "key"
MODE = "mode"
TIME_SIGNATURE = "time_signature"
EXPLICIT = "explicit"

GENRE_UNKNOWN = "Unknown"
YEAR_RANGE = (1900, 2100)

# Spotify's documented ranges (tempo 0 and key -1 mean "not detected").
AUDIO_RANGES: dict[str, tuple[float, float]] = {
    ACOUSTICNESS: (0.0, 1.0),
    DANCEABILITY: (0.0, 1.0),
    ENERGY: (0.0, 1.0),
    INSTRUMENTALNESS: (0.0, 1.0),
    LIVENESS: (0.0, 1.0),
    SPEECHINESS: (0.0, 1.0),
    VALENCE: (0.0, 1.0),
    LOUDNESS: (-60.0, 5.0),
    TEMPO: (0.0, 300.0),
}
DURATION_RANGE = (0.0, 60.0)
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    KEY: (-1, 11),
    MODE: (0, 1),
    TIME_SIGNATURE: (0, 7),
    EXPLICIT: (0, 1),
}
AUDIO_FEATURES = tuple(AUDIO_RANGES)
# Used to impute a numeric field only when the catalogue has no valid value to take a median of
# (typical values of Spotify's catalogue); a field imputed for every row carries no information
# and is left out of the model's features.
IMPUTE_DEFAULTS: dict[str, float] = {
    AGE: 30,
    DURATION: 3.75,
    ACOUSTICNESS: 0.3,
    DANCEABILITY: 0.55,
    ENERGY: 0.6,
    INSTRUMENTALNESS: 0.1,
    LIVENESS: 0.17,
    LOUDNESS: -8.5,
    SPEECHINESS: 0.06,
    VALENCE: 0.46,
    TEMPO: 120.0,
    KEY: 5,
    MODE: 1,
    TIME_SIGNATURE: 4,
    EXPLICIT: 0,
    RELEASE_YEAR: 2000,
}
BOOLEAN_TEXT = {"true": 1, "false": 0, "yes": 1, "no": 0, "t": 1, "f": 0}
TRACK_TEXT_COLUMNS = (TRACK_NAME, ARTIST_NAME, FEATURED_ARTISTS, GENRE)
TRACK_NUMERIC_COLUMNS = (DURATION, *AUDIO_FEATURES, *INTEGER_RANGES)

# --- plays -----------------------------------------------------------------------------------
PLAYS = "plays"
PLAYED_AT = "played_at"
PLAYS_RANGE = (1, 10_000_000)

# --- engineered features ---------------------------------------------------------------------
MUSIC_AGE = "music_age"
ENERGY_LOUDNESS = "energy_loudness"
DANCE_VALENCE = "dance_valence"
PLAYS_LOG = "plays_log"
SPLIT = "split"

# The design's numerical model inputs.
NUMERICAL_COLS = [
    AGE,
    DURATION,
    ACOUSTICNESS,
    KEY,
    MODE,
    SPEECHINESS,
    INSTRUMENTALNESS,
    LIVENESS,
    TEMPO,
    TIME_SIGNATURE,
    EXPLICIT,
    MUSIC_AGE,
    ENERGY_LOUDNESS,
    DANCE_VALENCE,
]
LOG_TRANSFORM_COLS = [PLAYS, DURATION, TEMPO]
TEXT_FEATURE_COLS = [ARTIST_NAME, GENRE, FEATURED_ARTISTS]

# --- column lists per table ------------------------------------------------------------------
USER_COLUMNS = [USER_ID, AGE, GENDER]
TRACK_COLUMNS = [
    TRACK_ID,
    TRACK_NAME,
    ARTIST_NAME,
    FEATURED_ARTISTS,
    GENRE,
    RELEASE_DATE,
    *TRACK_NUMERIC_COLUMNS,
]
PLAY_COLUMNS = [USER_ID, TRACK_ID, PLAYS, PLAYED_AT]
PROVENANCE_COLUMNS = [SOURCE_FILE, SOURCE_ROW]

REQUIRED_COLUMNS = {
    "users": (USER_ID,),
    "tracks": (TRACK_ID,),
    "plays": (USER_ID, TRACK_ID, PLAYS),
}
TABLE_COLUMNS = {"users": USER_COLUMNS, "tracks": TRACK_COLUMNS, "plays": PLAY_COLUMNS}
TABLES = ("users", "tracks", "plays")
# A raw table as read: every field as text, where it came from, and whether it could be split.
RAW_COLUMNS = {
    table: [*cols, *PROVENANCE_COLUMNS, READ_ERROR] for table, cols in TABLE_COLUMNS.items()
}

# --- quarantine ------------------------------------------------------------------------------
QUARANTINE_TABLE = "table_name"
QUARANTINE_COLUMN = "column_name"
QUARANTINE_VALUE = "value"
QUARANTINE_REASON = "reason"
QUARANTINE_ACTION = "action"  # "rejected": row dropped; "imputed": value replaced, row kept
QUARANTINE_COLUMNS = [
    QUARANTINE_TABLE,
    SOURCE_FILE,
    SOURCE_ROW,
    QUARANTINE_COLUMN,
    QUARANTINE_VALUE,
    QUARANTINE_REASON,
    QUARANTINE_ACTION,
    DELIVERY,
]
ACTION_REJECTED = "rejected"
ACTION_IMPUTED = "imputed"

# --- landing registry: every delivered file, by content --------------------------------------
SHA256 = "sha256"
LANDED_PATH = "landed_path"  # path within the landing folder, e.g. plays/plays-20261128.csv
ARCHIVED_FILE = "archived_file"  # content-addressed copy's name in the archive folder
SIZE_BYTES = "size_bytes"
ROWS = "rows"
STATUS = "status"
STATUS_INGESTED = "ingested"
STATUS_REJECTED = "rejected"  # unreadable as a whole (empty, no header, missing column, ...)
INGESTED_AT = "ingested_at"
LANDING_REGISTRY_COLUMNS = [
    DELIVERY,
    SHA256,
    QUARANTINE_TABLE,
    LANDED_PATH,
    ARCHIVED_FILE,
    SIZE_BYTES,
    ROWS,
    STATUS,
    QUARANTINE_REASON,
    INGESTED_AT,
]

# --- warehouse tables: one per data asset, named after it -----------------------------------
RAW_TABLES = {table: f"raw_{table}" for table in TABLES}
VALIDATED_TABLES = {table: f"validated_{table}" for table in TABLES}
QUARANTINE_TABLE_NAME = "quarantine"
REGISTRY_TABLE = "landing_registry"
INTERACTIONS_TABLE = "interactions"
USER_FEATURES_TABLE = "user_features"
TRACK_FEATURES_TABLE = "track_features"
SPLITS_TABLE = "dataset_splits"

# --- recommendations -------------------------------------------------------------------------
RANK = "rank"
SCORE = "score"
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
GENERATED_AT = "generated_at"
RECOMMENDATION_COLUMNS = [USER_ID, RANK, TRACK_ID, SCORE, MODEL_NAME, MODEL_VERSION, GENERATED_AT]
SEGMENT_COLUMNS = [AGE_GROUP, GENDER]


def age_group_labels() -> list[str]:
    """All age-group labels, youngest first, then the unknown label."""
    return [label for _, label in AGE_GROUPS] + [AGE_GROUP_UNKNOWN]


def _provenance_fields() -> dict[str, pa.Column]:
    return {
        SOURCE_FILE: pa.Column(str),
        SOURCE_ROW: pa.Column("int64", pa.Check.ge(1)),
        IMPUTED_COLUMNS: pa.Column(str),
        DELIVERY: pa.Column("int64", pa.Check.ge(SOURCE_DELIVERY)),
    }


def _range(bounds: tuple[float, float]) -> pa.Check:
    return pa.Check.in_range(bounds[0], bounds[1])


VALIDATED_USERS = pa.DataFrameSchema(
    {
        USER_ID: pa.Column(str, pa.Check.str_length(min_value=1), unique=True),
        AGE: pa.Column("int64", _range(AGE_RANGE)),
        GENDER: pa.Column(str, pa.Check.isin(GENDER_VALUES)),
        **_provenance_fields(),
    },
    name="validated_users",
    strict=True,
)

VALIDATED_TRACKS = pa.DataFrameSchema(
    {
        TRACK_ID: pa.Column(str, pa.Check.str_length(min_value=1), unique=True),
        TRACK_NAME: pa.Column(str),
        ARTIST_NAME: pa.Column(str),
        FEATURED_ARTISTS: pa.Column(str),
        GENRE: pa.Column(str, pa.Check.str_length(min_value=1)),
        RELEASE_DATE: pa.Column(str),
        RELEASE_YEAR: pa.Column("int64", _range(YEAR_RANGE)),
        DURATION: pa.Column(float, _range(DURATION_RANGE)),
        **{col: pa.Column(float, _range(bounds)) for col, bounds in AUDIO_RANGES.items()},
        **{col: pa.Column("int64", _range(bounds)) for col, bounds in INTEGER_RANGES.items()},
        **_provenance_fields(),
    },
    name="validated_tracks",
    strict=True,
)

VALIDATED_PLAYS = pa.DataFrameSchema(
    {
        USER_ID: pa.Column(str, pa.Check.str_length(min_value=1)),
        TRACK_ID: pa.Column(str, pa.Check.str_length(min_value=1)),
        PLAYS: pa.Column("int64", _range(PLAYS_RANGE)),
        PLAYED_AT: pa.Column("datetime64[ns]", nullable=True),
        PLAY_KEY: pa.Column("uint64"),
        **_provenance_fields(),
    },
    name="validated_plays",
    strict=True,
    unique=[USER_ID, TRACK_ID, PLAYED_AT],
)

VALIDATED_SCHEMAS = {
    "users": VALIDATED_USERS,
    "tracks": VALIDATED_TRACKS,
    "plays": VALIDATED_PLAYS,
}


@dataclass(frozen=True)
class RawTables:
    """Users, tracks and plays as they arrived, plus provenance.

    Each frame has exactly ``RAW_COLUMNS[table]``; every value is a string or None (a column the
    source lacks is all None). An absent table is an empty frame.
    """

    users: pd.DataFrame
    tracks: pd.DataFrame
    plays: pd.DataFrame


def empty_raw_frame(table: str) -> pd.DataFrame:
    """An empty raw frame with the table's columns, for a source that does not provide it."""
    return pd.DataFrame(
        {
            col: pd.Series(dtype="int64" if col == SOURCE_ROW else object)
            for col in RAW_COLUMNS[table]
        }
    )
