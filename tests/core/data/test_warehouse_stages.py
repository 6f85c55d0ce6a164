"""The warehouse stages take in one delivery at a time: checked against what came before,
merged without reading history again, counted per delivery, and the same as a rebuild."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from musicrec_core.data import (
    DERIVED_SOURCE,
    build_features,
    ingest_landing,
    plays_delivery,
    raw_generation,
    reconcile_by_delivery,
    run_data_path,
    tracks_delivery,
    validate_pending,
    warehouse,
)
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TABLES = [
    *s.VALIDATED_TABLES.values(),
    s.INTERACTIONS_TABLE,
    s.USER_FEATURES_TABLE,
    s.TRACK_FEATURES_TABLE,
]
KEYS = {
    s.VALIDATED_TABLES["users"]: [s.USER_ID],
    s.VALIDATED_TABLES["tracks"]: [s.TRACK_ID],
    s.VALIDATED_TABLES["plays"]: [s.DELIVERY, s.SOURCE_FILE, s.SOURCE_ROW],
    s.INTERACTIONS_TABLE: [s.USER_ID, s.TRACK_ID],
    s.USER_FEATURES_TABLE: [s.USER_ID],
    s.TRACK_FEATURES_TABLE: [s.TRACK_ID],
}


def _land(root: Path, table: str, name: str, text: str) -> None:
    path = root / table / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _take_in(con, root: Path, archive: Path, now=NOW) -> None:
    """What the ingest job and the automation after it do with newly landed files."""
    ingest_landing(con, root, archive, now=now)
    validate_pending(con, raw_generation(con))
    build_features(con, raw_generation(con), reference_year=2026)


def _snapshot(con) -> dict[str, pd.DataFrame]:
    out = {name: warehouse.table_frame(con, name) for name in TABLES}
    out = {
        name: frame.sort_values(KEYS[name]).reset_index(drop=True) for name, frame in out.items()
    }
    quarantine = warehouse.table_frame(con, s.QUARANTINE_TABLE_NAME)
    out["quarantine"] = quarantine.sort_values(
        [s.DELIVERY, s.QUARANTINE_TABLE, s.SOURCE_ROW, s.QUARANTINE_COLUMN, s.QUARANTINE_ACTION]
    ).reset_index(drop=True)
    return out


@pytest.fixture
def tiny(tmp_path):
    """A warehouse over the tiny synthetic catalogue, with its landing and archive folders."""
    root, archive = tmp_path / "landing", tmp_path / "archive"
    with warehouse.connect(tmp_path / "warehouse.duckdb") as con:
        run_data_path(con, SourceConfig(size="tiny"), archive)
        build_features(con, raw_generation(con), reference_year=2026)
        yield con, root, archive


def test_deliveries_taken_in_one_by_one_equal_a_rebuild_of_everything(tiny):
    con, root, archive = tiny
    users = warehouse.table_frame(con, s.VALIDATED_TABLES["users"])[s.USER_ID]
    tracks = warehouse.table_frame(con, s.VALIDATED_TABLES["tracks"])[[s.TRACK_ID, s.GENRE]]
    for i in range(3):
        now = NOW + timedelta(minutes=i)
        plays_delivery(users, tracks, new_users=3, existing_listeners=8, seed=i, now=now).write(
            root
        )
        tracks_delivery(4, seed=10 + i, now=now).write(root)
        _take_in(con, root, archive, now)
    _land(
        root,
        "plays",
        "dirty.csv",
        "user_id,track_id,plays\nu000001,t000001,abc\nnobody,t000001,2\n",
    )
    _take_in(con, root, archive)
    incremental = _snapshot(con)

    run_data_path(con, SourceConfig(size="tiny"), archive, full_refresh=True)
    build_features(con, raw_generation(con), reference_year=2026)
    rebuilt = _snapshot(con)

    assert raw_generation(con) == 2
    for name, frame in incremental.items():
        pd.testing.assert_frame_equal(frame, rebuilt[name], obj=name)
    assert incremental["quarantine"][s.DELIVERY].max() == 10


def test_a_delivery_is_checked_against_what_came_before(tiny):
    con, root, archive = tiny
    known = con.execute(
        f"SELECT {s.USER_ID}, {s.TRACK_ID}, strftime({s.PLAYED_AT}, '%Y-%m-%d %H:%M:%S') "
        f"FROM {s.VALIDATED_TABLES['plays']} WHERE {s.PLAYED_AT} IS NOT NULL LIMIT 1"
    ).fetchone()
    _land(
        root,
        "plays",
        "week-1.csv",
        "user_id,track_id,plays,played_at\n"
        f"{known[0]},{known[1]},2,{known[2]}\n"  # the same play again
        f"u-new,{known[1]},1,\n"  # a listener nobody delivered yet
        f"{known[0]},{known[1]},4,2026-02-01 10:00:00\n",  # a new play of a known pair
    )
    _take_in(con, root, archive)

    reasons = con.execute(
        f"SELECT {s.SOURCE_ROW}, {s.QUARANTINE_REASON} FROM {s.QUARANTINE_TABLE_NAME} "
        f"WHERE {s.DELIVERY} = 1 ORDER BY 1"
    ).fetchall()
    assert [row for row, _ in reasons] == [1, 2]
    assert reasons[0][1].startswith("duplicate user_id + track_id + played_at")
    assert reasons[1][1] == "user_id is not in the users table"

    _land(root, "users", "new-listener.csv", "user_id,age,gender\nu-new,23,F\n")
    _land(root, "plays", "week-2.csv", f"user_id,track_id,plays\nu-new,{known[1]},1\n")
    _take_in(con, root, archive)

    new = con.execute(
        f"SELECT {s.AGE_GROUP}, n_tracks, total_plays FROM {s.USER_FEATURES_TABLE} "
        f"WHERE {s.USER_ID} = 'u-new'"
    ).fetchall()
    assert new == [("Gen Z", 1, 1)]
    for table in s.TABLES:
        assert reconcile_by_delivery(con, table)["balanced"].all(), table


def test_delivered_users_replace_the_ones_derived_from_plays(tmp_path):
    base, root, archive = tmp_path / "base", tmp_path / "landing", tmp_path / "archive"
    _land(base, "", "plays.csv", "user_id,track_id,plays\nu1,t1,3\nu2,t1,1\nu1,t2,2\n")
    with warehouse.connect(tmp_path / "warehouse.duckdb") as con:
        run_data_path(con, SourceConfig(kind="files", path=str(base)), archive)
        _land(root, "users", "users.csv", "user_id,age,gender\nu1,61,M\n")
        _land(root, "plays", "more.csv", "user_id,track_id,plays\nu3,t2,5\n")
        _take_in(con, root, archive)

        users = warehouse.table_frame(con, s.VALIDATED_TABLES["users"]).set_index(s.USER_ID)
        features = warehouse.table_frame(con, s.USER_FEATURES_TABLE).set_index(s.USER_ID)
        by_delivery = reconcile_by_delivery(con, "users")

    assert users.loc["u1", [s.AGE, s.GENDER, s.SOURCE_FILE]].tolist() == [
        61,
        "M",
        "users/users.csv",
    ]
    assert users.loc["u2", s.SOURCE_FILE] == DERIVED_SOURCE
    assert "u3" not in users.index  # once users are delivered, plays must name known ones
    assert features.loc["u1", [s.AGE_GROUP, "n_tracks", "total_plays"]].tolist() == [
        "Baby Boomers",
        2,
        5,
    ]
    assert by_delivery["balanced"].all()
    assert by_delivery.set_index(s.DELIVERY)["derived_rows"].to_dict() == {0: 1, 1: 0}


def test_taking_in_nothing_new_changes_nothing(tiny):
    con, root, archive = tiny
    _land(root, "plays", "week-1.csv", "user_id,track_id,plays\nu000001,t000002,7\n")
    _take_in(con, root, archive)
    before = _snapshot(con)
    states = con.execute("SELECT * FROM pipeline_state ORDER BY stage").fetchall()

    _take_in(con, root, archive, NOW + timedelta(days=1))
    run_data_path(con, SourceConfig(size="tiny"), archive)

    for name, frame in _snapshot(con).items():
        pd.testing.assert_frame_equal(frame, before[name], obj=name)
    assert con.execute("SELECT * FROM pipeline_state ORDER BY stage").fetchall() == states


def test_features_wait_for_validation_of_their_generation(tiny):
    con, _, archive = tiny
    run_data_path(con, SourceConfig(size="tiny", seed=7), archive)  # a new source: generation 2
    con.execute("DELETE FROM pipeline_state WHERE stage = 'validated'")
    with pytest.raises(ValueError, match="validate the raw tables of this generation"):
        build_features(con, raw_generation(con))


def test_a_changed_hash_function_rebuilds_the_stages_that_store_hashes(tiny):
    con, _, archive = tiny
    before = _snapshot(con)
    con.execute("UPDATE pipeline_state SET fingerprint = 'another duckdb' WHERE stage <> 'raw'")
    con.execute(f"UPDATE {s.VALIDATED_TABLES['plays']} SET {s.PLAY_KEY} = 0")

    run_data_path(con, SourceConfig(size="tiny"), archive)
    build_features(con, raw_generation(con), reference_year=2026)

    for name, frame in _snapshot(con).items():
        pd.testing.assert_frame_equal(frame, before[name], obj=name)
    stages = dict(con.execute("SELECT stage, fingerprint FROM pipeline_state").fetchall())
    assert stages["validated"] == stages["features"] == warehouse.hash_probe(con)
