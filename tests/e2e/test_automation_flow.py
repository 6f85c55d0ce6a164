"""Dropped files flow to recommendations by themselves: webserver and daemon, no clicks."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from musicrec_core.serving import read_only_query
from tests.conftest import PROJECT_ROOT
from tests.e2e.conftest import BIN, free_port, musicrec_env, run_cli, wait_for_http

pytestmark = pytest.mark.e2e

SENSOR_INTERVAL = 5  # seconds, for the landing and automation sensors
RUN_TIME = 240  # seconds allowed for the ingestion run and the refresh run together


def _latest(home: Path, asset: str) -> float | None:
    """Timestamp of an asset's latest materialisation in the instance at ``home``."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    return event.timestamp if event else None


def _served(serving: Path) -> tuple[int, int]:
    """(rows for new users, rows recommending new tracks) in the serving database."""
    counts = read_only_query(
        serving,
        "SELECT count(*) FILTER (WHERE user_id LIKE 'u-%') AS new_users, "
        "count(*) FILTER (WHERE track_id LIKE 't-%') AS new_tracks FROM recommendations",
    ).iloc[0]
    return int(counts["new_users"]), int(counts["new_tracks"])


def test_dropped_files_flow_to_recommendations(tmp_path):
    data_dir = tmp_path / "data"
    env = musicrec_env(
        data_dir,
        MUSICREC_SERVING_MODEL="hybrid",
        MUSICREC_SENSOR_INTERVAL=str(SENSOR_INTERVAL),
    )
    home = Path(env["DAGSTER_HOME"])
    demo = run_cli(["demo"], env, timeout=600)
    assert demo.returncode == 0, demo.stderr[-3000:]
    models_before = sorted((data_dir / "artifacts" / "hybrid").iterdir())
    served_before = _latest(home, "recommendations")
    assert served_before is not None

    port = free_port()
    log_path = tmp_path / "dagster-dev.log"
    with log_path.open("w") as log:
        command = ["dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
        proc = subprocess.Popen(
            [str(BIN / "dagster"), *command],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/server_info", timeout=180)
            dropped_at = time.time()
            for args in (
                ["drop-plays", "--new-users", "3", "--existing-users", "10", "--seed", "1"],
                ["drop-tracks", "--tracks", "20", "--seed", "2"],
            ):
                drop = run_cli(args, env)
                assert drop.returncode == 0, drop.stderr[-3000:]
            deadline = time.monotonic() + 2 * SENSOR_INTERVAL + RUN_TIME
            serving = data_dir / "serving" / "musicrec.duckdb"
            refreshed = False
            while time.monotonic() < deadline and not refreshed:
                time.sleep(SENSOR_INTERVAL)
                latest = _latest(home, "serving_database")
                refreshed = latest is not None and latest > dropped_at and all(_served(serving))
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert refreshed, (
        "no refresh within the deadline; dagster dev log:\n" + log_path.read_text()[-5000:]
    )
    assert _latest(home, "recommendations") > dropped_at
    new_user_rows, new_track_rows = _served(serving)
    assert new_user_rows > 0, "a new user has no recommendations"
    assert new_track_rows > 0, "no new track is recommended to anyone"
    delivered = pd.concat(pd.read_csv(p) for p in (data_dir / "landing" / "plays").iterdir())
    replayed = read_only_query(serving, "SELECT user_id, track_id FROM recommendations").merge(
        delivered[["user_id", "track_id"]]
    )
    assert replayed.empty, "a track played in the new delivery is still recommended to its player"
    assert sorted((data_dir / "artifacts" / "hybrid").iterdir()) == models_before
    latest_training = _latest(home, "hybrid_model")
    assert latest_training is not None and latest_training < dropped_at, "the model was retrained"
