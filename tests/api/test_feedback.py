"""Plays sent back over HTTP: one complete delivery in the landing folders, taken in and
validated by the pipeline's own code, nothing written anywhere else, and every row checked
before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from musicrec_api import MAX_BODY_BYTES, create_app
from musicrec_api.messages import MAX_FEEDBACK_PLAYS
from musicrec_core.data import ingest_landing, raw_generation, validate_pending, warehouse
from musicrec_core.data import schema as s
from musicrec_core.data.landing import is_pending
from tests.api.conftest import warm_listener

pytestmark = pytest.mark.integration

WAREHOUSE = Path("warehouse") / "musicrec.duckdb"


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under a folder: its size and modification time."""
    return {
        path.relative_to(root).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


def _feedback(answers) -> dict:
    known = warm_listener(answers)
    first, second = (str(t) for t in answers.track_index[:2])
    return {
        "plays": [
            {"user_id": known, "track_id": first, "plays": 3, "played_at": "2026-11-30T21:15:00Z"},
            {"user_id": "listener-new", "track_id": first, "plays": 1},
            {"user_id": "listener-new", "track_id": second, "plays": 7, "played_at": 1764540000},
        ],
        "users": [{"user_id": "listener-new", "age": 29, "gender": "non-binary"}],
    }


def test_feedback_is_one_delivery_in_the_landing_folders_and_nothing_else(data_copy, tmp_path):
    before = _tree(data_copy)
    with TestClient(create_app(data_copy)) as client:
        body = _feedback(client.app.state.live.answers())
        response = client.post("/feedback", json=body)
    assert response.status_code == 202
    delivered = response.json()
    assert delivered["rows"] == {"users": 1, "plays": 3}
    after = _tree(data_copy)
    changed = {path for path in after if before.get(path) != after[path]}
    assert changed == set(delivered["files"])
    assert set(before) <= set(after)
    users_file, plays_file = delivered["files"]
    assert users_file.startswith("landing/users/users-") and users_file.endswith(".csv")
    assert plays_file.startswith("landing/plays/plays-") and plays_file.endswith(".csv")
    assert not any(is_pending(Path(path)) for path in after)

    plays = pd.read_csv(data_copy / plays_file, dtype=str)
    assert list(plays.columns) == s.PLAY_COLUMNS
    assert plays[s.PLAYS].tolist() == ["3", "1", "7"]
    assert plays[s.PLAYED_AT].isna().tolist() == [False, True, False]
    assert pd.Timestamp(plays[s.PLAYED_AT].iloc[2]) == pd.Timestamp(1764540000, unit="s", tz="UTC")
    users = pd.read_csv(data_copy / users_file, dtype=str)
    assert list(users.columns) == s.USER_COLUMNS
    assert users.iloc[0].tolist() == ["listener-new", "29", "X"]

    # the pipeline's own ingestion and validation take every row in, none quarantined
    with warehouse.connect(data_copy / WAREHOUSE) as con:
        added = ingest_landing(con, data_copy / "landing", tmp_path / "archive").added
        validate_pending(con, raw_generation(con))
        quarantine = warehouse.table_frame(con, s.QUARANTINE_TABLE_NAME)
        validated = warehouse.table_frame(con, s.VALIDATED_TABLES["plays"])
    landed = {path.removeprefix("landing/") for path in delivered["files"]}
    assert set(added[s.LANDED_PATH]) == landed
    assert (added[s.STATUS] == s.STATUS_INGESTED).all()
    assert quarantine[quarantine[s.SOURCE_FILE].isin(landed)].empty
    assert (validated[s.SOURCE_FILE] == plays_file.removeprefix("landing/")).sum() == 3


def test_two_feedbacks_at_once_are_two_deliveries(data_copy):
    with TestClient(create_app(data_copy)) as client:
        body = _feedback(client.app.state.live.answers())
        first = client.post("/feedback", json=body).json()["files"]
        second = client.post("/feedback", json=body).json()["files"]
    assert not set(first) & set(second)
    assert all((data_copy / path).is_file() for path in first + second)


@pytest.mark.parametrize(
    ("change", "status", "named"),
    [
        (lambda b: b["plays"][0].update(track_id="no-such-track"), 422, "'no-such-track'"),
        (lambda b: b["plays"][0].update(user_id="stranger"), 422, "'stranger'"),
        (lambda b: b.pop("users"), 422, "'listener-new'"),
        (lambda b: b["plays"][0].update(plays=0), 422, "plays"),
        (lambda b: b["plays"][0].update(plays=2.5), 422, "plays"),
        (lambda b: b["plays"][0].update(plays="3"), 422, "plays"),
        (lambda b: b["plays"][0].update(plays=s.PLAYS_RANGE[1] + 1), 422, "plays"),
        (lambda b: b["plays"][0].update(user_id=""), 422, "user_id"),
        (lambda b: b["plays"][0].update(track_id="  "), 422, "track_id"),
        (lambda b: b["plays"][0].update(played_at="yesterday"), 422, "played_at"),
        (lambda b: b["plays"][0].update(played_at="1500-01-01T00:00:00"), 422, "played_at"),
        (lambda b: b["users"][0].update(age=200), 422, "age"),
        (lambda b: b["users"][0].update(gender="robot"), 422, "gender"),
        (lambda b: b["users"].append(dict(b["users"][0])), 422, "more than once"),
        (lambda b: b.update(plays=[]), 422, "plays"),
    ],
)
def test_a_bad_row_is_refused_and_nothing_is_written(client, answers, change, status, named):
    landing = client.app.state.data_dir / "landing"
    before = _tree(landing)
    body = _feedback(answers)
    change(body)
    response = client.post("/feedback", json=body)
    assert response.status_code == status
    assert named in json.dumps(response.json()["detail"])
    assert _tree(landing) == before


def test_too_many_rows_are_refused(client, answers):
    row = _feedback(answers)["plays"][0]
    response = client.post("/feedback", json={"plays": [row] * (MAX_FEEDBACK_PLAYS + 1)})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "too_long"


def test_a_body_over_the_limit_is_413_whether_its_length_is_given_or_streamed(client):
    response = client.post(
        "/feedback",
        content=b" " * (MAX_BODY_BYTES + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413

    def chunks():
        for _ in range(MAX_BODY_BYTES // 100_000 + 1):
            yield b" " * 100_000

    response = client.post(
        "/feedback", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413
    assert f"{MAX_BODY_BYTES:,} bytes" in response.json()["detail"]
