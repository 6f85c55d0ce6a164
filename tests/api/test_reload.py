"""Following publications without a restart: a new serving database is loaded in the
background while requests are answered from the old one, one that cannot be loaded leaves the
old one served, and until any is published every question is 503."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from musicrec_api import create_app
from musicrec_core import serving
from musicrec_core.answers import MAX_K
from musicrec_core.data import schema as s
from musicrec_core.serving.layout import SERVING_FILE
from tests.api.conftest import warm_listener

pytestmark = pytest.mark.integration

INTERVAL = 0.05  # seconds between the API's checks for a new publication
PATIENCE = 300.0  # seconds a reload may take on a busy machine


def _tables(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Every table of the data folder's serving database."""
    with duckdb.connect(str(data_dir / SERVING_FILE), read_only=True) as con:
        names = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall()
        return {name: con.execute(f'SELECT * FROM "{name}"').df() for (name,) in names}


def _republish(
    data_dir: Path,
    tables: dict[str, pd.DataFrame],
    change: Callable[[dict[str, pd.DataFrame]], None],
) -> None:
    """Publish the serving database again, as the pipeline does, from ``tables`` with
    ``change`` applied and a new publication time."""
    tables = {name: frame.copy() for name, frame in tables.items()}
    tables["about"]["published_at"] = pd.Timestamp.now(tz="UTC").tz_convert(None)
    change(tables)
    serving.publish_serving_database(data_dir / SERVING_FILE, tables, serving.SERVING_VIEWS)


def _reverse_list(user: str) -> Callable[[dict[str, pd.DataFrame]], None]:
    def change(tables: dict[str, pd.DataFrame]) -> None:
        recs = tables["recommendations"]
        mine = recs[s.USER_ID] == user
        recs.loc[mine, s.RANK] = recs.loc[mine, s.RANK].max() + 1 - recs.loc[mine, s.RANK]

    return change


def _health_until(client: TestClient, condition: Callable[[dict], bool]) -> dict:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        body = client.get("/health").json()
        if condition(body):
            return body
        time.sleep(INTERVAL)
    raise AssertionError(f"/health never reached the expected state: {body}")


def _tracks(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item[s.TRACK_ID] for item in response.json()["items"]]


def _republish_while_asking(client: TestClient, data_dir: Path, user: str) -> list[bool]:
    """Publish a listener's list reversed and ask for it until the new snapshot is served;
    for each answer given after /health said the new publication was loading, whether it
    was still the old list."""
    url = f"/users/{user}/recommendations?k={MAX_K}"  # the whole published list
    before = _tracks(client.get(url))
    old = client.get("/health").json()
    _republish(data_dir, _tables(data_dir), _reverse_list(user))
    during = []
    deadline = time.monotonic() + PATIENCE
    while (health := client.get("/health").json())["published_at"] == old["published_at"]:
        assert time.monotonic() < deadline, "the new publication was never served"
        tracks = _tracks(client.get(url))
        assert tracks in (before, before[::-1])
        if health["loading"]:
            during.append(tracks == before)
    assert health["status"] == "ok" and not health["loading"]
    assert health["loaded_at"] > old["loaded_at"]
    assert _tracks(client.get(url)) == before[::-1]
    return during


def test_a_new_publication_is_served_without_a_restart_while_requests_go_on(data_copy):
    """An old list answered after the reload began shows requests did not wait for it; a
    reload can be quicker than a request, so up to three publications are tried."""
    with TestClient(create_app(data_copy, reload_interval=INTERVAL)) as client:
        user = warm_listener(client.app.state.live.answers())
        for _ in range(3):
            during = _republish_while_asking(client, data_copy, user)
            if any(during):
                break
    assert any(during), "no request was answered while a new publication loaded"


def test_a_publication_that_cannot_be_loaded_leaves_the_old_one_served(data_copy):
    with TestClient(create_app(data_copy, reload_interval=INTERVAL)) as client:
        user = warm_listener(client.app.state.live.answers())
        url = f"/users/{user}/recommendations?k={MAX_K}"
        before = _tracks(client.get(url))
        old = client.get("/health").json()
        tables = _tables(data_copy)

        _republish(data_copy, tables, lambda published: published.pop("served_models"))
        degraded = _health_until(client, lambda body: body["status"] == "degraded")
        assert "served_models" in degraded["error"]
        assert degraded["published_at"] == old["published_at"]
        assert _tracks(client.get(url)) == before

        _republish(data_copy, tables, _reverse_list(user))
        recovered = _health_until(client, lambda body: body["status"] == "ok")
        assert recovered["error"] is None and recovered["published_at"] > old["published_at"]
        assert _tracks(client.get(url)) == before[::-1]


def test_without_a_serving_database_every_question_is_503_until_one_is_published(
    data_copy, tmp_path
):
    published = tmp_path / "published.duckdb"
    (data_copy / SERVING_FILE).rename(published)
    landed = sorted((data_copy / "landing").rglob("*"))
    with TestClient(create_app(data_copy, reload_interval=INTERVAL)) as client:
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert "no serving database" in health.json()["error"]
        asked = [
            client.get("/users/anyone/recommendations"),
            client.get("/users/anyone/explanations/anything"),
            client.get("/tracks/anything/similar"),
            client.post("/recommendations", json={}),
            client.post(
                "/feedback", json={"plays": [{"user_id": "a", "track_id": "b", "plays": 1}]}
            ),
        ]
        for response in asked:
            assert response.status_code == 503
            assert "no serving database" in response.json()["detail"]
        assert sorted((data_copy / "landing").rglob("*")) == landed

        os.replace(published, data_copy / SERVING_FILE)
        _health_until(client, lambda body: body["status"] == "ok")
        assert client.get("/users/anyone/recommendations").status_code == 404
        assert client.post("/recommendations", json={}).status_code == 200
