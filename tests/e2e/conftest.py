"""Helpers for end-to-end tests: the installed CLI, free ports, a Dagster webserver process and
the HTTP API's process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from musicrec_dagster.cli import INSTANCE_CONFIG
from tests.conftest import PROJECT_ROOT

BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def musicrec_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICREC_")}
    env.update(
        MUSICREC_DATA_DIR=str(data_dir),
        DAGSTER_HOME=str(data_dir / "dagster_home"),
        MUSICREC_SYNTHETIC_SIZE="tiny",
        **extra,
    )
    home = data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE_CONFIG)
    return env


def run_cli(
    args: list[str], env: dict[str, str], timeout: int = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "musicrec"), *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float, statuses: frozenset[int] = frozenset({200})) -> int:
    """Poll ``url`` until it answers with one of ``statuses``; return that status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = None
        if status in statuses:
            return status
        time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@pytest.fixture
def webserver(tmp_path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """`dagster dev` on a free local port, in its own process group, stopped with the group.

    Its instance turns off Dagster's first-visit community dialog, which could otherwise open
    over the dialogs the browser tests drive."""
    data_dir = tmp_path / "data"
    env = musicrec_env(data_dir)
    with (data_dir / "dagster_home" / "dagster.yaml").open("a") as config:
        config.write("\nnux:\n  enabled: false\n")
    port = free_port()
    log = (tmp_path / "webserver.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/server_info", timeout=180)
        yield url, env, data_dir
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        log.close()


@pytest.fixture
def api_server(tmp_path) -> Iterator[Callable[[Path], str]]:
    """Start ``musicrec --data-dir DIR api [--workers N]`` on a free local port, in its own
    process group; return its URL once ``/health`` answers (503 until a serving database is
    published)."""
    procs: list[subprocess.Popen] = []
    log = (tmp_path / "api.log").open("w")

    def start(data_dir: Path, workers: int = 1) -> str:
        port = free_port()
        cmd = ["--data-dir", str(data_dir), "api", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(workers)]
        procs.append(
            subprocess.Popen(
                [str(BIN / "musicrec"), *cmd],
                cwd=PROJECT_ROOT,
                env=musicrec_env(data_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(f"{url}/health", timeout=120, statuses=frozenset({200, 503}))
        except TimeoutError as error:
            log.flush()
            raise TimeoutError((tmp_path / "api.log").read_text()[-3000:]) from error
        return url

    try:
        yield start
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
