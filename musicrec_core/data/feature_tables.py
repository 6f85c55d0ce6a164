"""The feature stage: interactions, user_features and track_features in the warehouse.

``interactions`` has one row per (user, track): total plays, the last play and ``plays_log``.
``user_features`` are the validated users with their age group (Unknown where the age was
imputed) and listening activity; ``track_features`` the validated tracks with music age,
energy x loudness, dance x valence and their listeners. A new delivery is merged in: its plays
are added to the pairs they touch, and only the users and tracks it touches change; nothing
already merged is read again.
"""

from __future__ import annotations

import datetime as dt
import logging

import duckdb

from musicrec_core.data import schema as s
from musicrec_core.data import warehouse
from musicrec_core.data.validation import pending as validation
from musicrec_core.data.validation.tables import VALIDATED_TYPES
from musicrec_core.data.warehouse import (
    INTERACTIONS,
    TRACK_FEATURES,
    USER_FEATURES,
    VALIDATED,
    StageState,
    quoted,
)

logger = logging.getLogger(__name__)

STAGE = "features"
_KEY = {"users": s.USER_ID, "tracks": s.TRACK_ID}
_ACTIVITY = {"users": ("n_tracks", "total_plays"), "tracks": ("n_listeners", "total_plays")}
_TABLE = {"users": USER_FEATURES, "tracks": TRACK_FEATURES}
# The validated columns a feature table keeps: all but the delivery number.
_VALIDATED_COLUMNS = {
    table: [*VALIDATED_TYPES[table], s.IMPUTED_COLUMNS, *s.PROVENANCE_COLUMNS] for table in _KEY
}


def _age_group() -> str:
    cases = " ".join(f"WHEN {s.AGE} <= {upper} THEN '{label}'" for upper, label in s.AGE_GROUPS)
    imputed = f"list_contains(string_split({s.IMPUTED_COLUMNS}, ','), '{s.AGE}')"
    return (
        f"CASE WHEN {imputed} THEN '{s.AGE_GROUP_UNKNOWN}' {cases} ELSE '{s.AGE_GROUP_UNKNOWN}' END"
    )


def _engineered(table: str, reference_year: int) -> str:
    """The feature columns a table adds to its validated columns, as SQL."""
    if table == "users":
        return f"{_age_group()} AS {s.AGE_GROUP}"
    return (
        f"{int(reference_year)} - {s.RELEASE_YEAR} AS {s.MUSIC_AGE}, "
        f"{s.ENERGY} * {s.LOUDNESS} AS {s.ENERGY_LOUDNESS}, "
        f"{s.DANCEABILITY} * {s.VALENCE} AS {s.DANCE_VALENCE}"
    )


def _entity_rows(table: str, where: str, activity: str, reference_year: int) -> str:
    """SELECT of feature rows for validated ``table`` rows matching ``where``, with activity
    from the relation ``activity`` (key, count, plays), in validated order."""
    key = _KEY[table]
    counts = ", ".join(f"CAST(coalesce(_a.{c}, 0) AS BIGINT) AS {c}" for c in _ACTIVITY[table])
    columns = ", ".join(f"_e.{quoted(c)}" for c in _VALIDATED_COLUMNS[table])
    return (
        f"SELECT {columns}, {_engineered(table, reference_year)}, {counts} FROM "
        f"(SELECT *, rowid AS _r FROM {quoted(VALIDATED[table])} WHERE {where}) _e "
        f"LEFT JOIN {activity} _a USING ({key}) ORDER BY _e._r"
    )


def _activity(table: str, pairs: str, new_pairs: str = "true") -> str:
    key = _KEY[table]
    count, plays = _ACTIVITY[table]
    return (
        f"(SELECT {key}, count(*) FILTER ({new_pairs}) AS {count}, sum({s.PLAYS}) AS {plays} "
        f"FROM {pairs} GROUP BY {key})"
    )


def build_features(
    con: duckdb.DuckDBPyConnection, generation: int, reference_year: int | None = None
) -> list[int]:
    """Bring the feature tables up to the validated tables; returns the deliveries merged
    (all of them, as one build, when the validated tables were rebuilt)."""
    year = reference_year or dt.datetime.now(dt.UTC).year
    state = warehouse.read_state(con, STAGE)
    validated = warehouse.read_state(con, validation.STAGE)
    if validated is None or validated.generation != generation:
        raise ValueError("validate the raw tables of this generation before building features")
    probe = warehouse.hash_probe(con)
    if state is None or state.generation != generation or state.fingerprint != probe:
        with warehouse.transaction(con):
            _build_all(con, year)
            warehouse.write_state(con, STAGE, StageState(generation, validated.delivery, probe))
        return list(range(s.SOURCE_DELIVERY, validated.delivery + 1))
    merged = []
    for delivery in range(state.delivery + 1, validated.delivery + 1):
        with warehouse.transaction(con):
            _merge(con, delivery, year)
            warehouse.write_state(con, STAGE, StageState(generation, delivery, probe))
        merged.append(delivery)
    return merged


_PAIR_HASH = f"hash({s.USER_ID}, {s.TRACK_ID})"


def _build_all(con: duckdb.DuckDBPyConnection, year: int) -> None:
    con.execute(
        f"CREATE OR REPLACE TABLE {INTERACTIONS} AS SELECT {s.USER_ID}, {s.TRACK_ID}, "
        f"CAST(sum({s.PLAYS}) AS BIGINT) AS {s.PLAYS}, max({s.PLAYED_AT}) AS {s.PLAYED_AT}, "
        f"ln(1 + sum({s.PLAYS})) AS {s.PLAYS_LOG}, {_PAIR_HASH} AS {s.PAIR_KEY} "
        f"FROM {quoted(VALIDATED['plays'])} "
        f"GROUP BY {s.USER_ID}, {s.TRACK_ID} ORDER BY {s.USER_ID}, {s.TRACK_ID}"
    )
    for table in _KEY:
        activity = _activity(table, INTERACTIONS)
        con.execute(
            f"CREATE OR REPLACE TABLE {_TABLE[table]} AS "
            f"{_entity_rows(table, 'true', activity, year)}"
        )


def _merge(con: duckdb.DuckDBPyConnection, delivery: int, year: int) -> None:
    """Merge one delivery: its plays into the pairs, its users and tracks into the features.

    The pairs it touches are found by their stored hash, so the join reads one 64-bit column
    of the history instead of comparing every pair's ids; the few candidates are then
    compared in full and updated by row id."""
    plays = quoted(VALIDATED["plays"])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _delta AS SELECT {s.USER_ID}, {s.TRACK_ID}, "
        f"CAST(sum({s.PLAYS}) AS BIGINT) AS {s.PLAYS}, max({s.PLAYED_AT}) AS {s.PLAYED_AT}, "
        f"{_PAIR_HASH} AS {s.PAIR_KEY} FROM {plays} WHERE {s.DELIVERY} = ? GROUP BY ALL",
        [delivery],
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _candidates AS SELECT rowid AS _row FROM {INTERACTIONS} "
        f"WHERE {s.PAIR_KEY} IN (SELECT {s.PAIR_KEY} FROM _delta)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _found AS SELECT rowid AS _row, {s.USER_ID}, {s.TRACK_ID} "
        f"FROM {INTERACTIONS} WHERE rowid IN (SELECT _row FROM _candidates)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _pairs AS SELECT _d.*, _f._row, _f._row IS NULL AS _new "
        f"FROM _delta _d LEFT JOIN _found _f USING ({s.USER_ID}, {s.TRACK_ID})"
    )
    con.execute(
        f"UPDATE {INTERACTIONS} SET {s.PLAYS} = {INTERACTIONS}.{s.PLAYS} + _p.{s.PLAYS}, "
        f"{s.PLAYED_AT} = greatest({INTERACTIONS}.{s.PLAYED_AT}, _p.{s.PLAYED_AT}), "
        f"{s.PLAYS_LOG} = ln(1 + {INTERACTIONS}.{s.PLAYS} + _p.{s.PLAYS}) FROM _pairs _p "
        f"WHERE NOT _p._new AND {INTERACTIONS}.rowid = _p._row"
    )
    con.execute(
        f"INSERT INTO {INTERACTIONS} SELECT {s.USER_ID}, {s.TRACK_ID}, {s.PLAYS}, {s.PLAYED_AT}, "
        f"ln(1 + {s.PLAYS}), {s.PAIR_KEY} FROM _pairs WHERE _new"
    )
    for table in _KEY:
        _merge_entities(con, table, delivery, year)


def _merge_entities(con: duckdb.DuckDBPyConnection, table: str, delivery: int, year: int) -> None:
    """Rows validated in this delivery replace their features (keeping the activity so far);
    then the delivery's plays are added to the activity of the users or tracks they touch."""
    key, target = _KEY[table], _TABLE[table]
    count, plays = _ACTIVITY[table]
    arrived = f"{s.DELIVERY} = {int(delivery)}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _kept AS SELECT {key}, {count}, {plays} FROM {target} "
        f"WHERE {key} IN (SELECT {key} FROM {quoted(VALIDATED[table])} WHERE {arrived})"
    )
    con.execute(f"DELETE FROM {target} WHERE {key} IN (SELECT {key} FROM _kept)")
    con.execute(f"INSERT INTO {target} {_entity_rows(table, arrived, '_kept', year)}")
    con.execute(
        f"UPDATE {target} SET {count} = {target}.{count} + _a.{count}, "
        f"{plays} = {target}.{plays} + _a.{plays} FROM {_activity(table, '_pairs', '_new')} _a "
        f"WHERE {target}.{key} = _a.{key}"
    )
