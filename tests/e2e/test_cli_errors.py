"""What `musicrec` says when it cannot do what it was asked: one line on stderr, a code per kind
of failure, the traceback only with --verbose; and no progress bar when stderr is a pipe."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from musicrec_dagster.cli import ExitCode
from tests.e2e.conftest import musicrec_env, run_cli

pytestmark = pytest.mark.e2e


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[dict[str, str], Path, subprocess.CompletedProcess]:
    """One tiny demo for the module: its environment, data folder and finished process."""
    data_dir = tmp_path_factory.mktemp("cli_errors") / "data"
    env = musicrec_env(data_dir)
    proc = run_cli(["demo"], env)
    assert proc.returncode == ExitCode.OK, proc.stderr[-3000:]
    return env, data_dir, proc


def test_query_before_any_demo_says_so_in_one_line(tmp_path):
    env = musicrec_env(tmp_path / "data")
    proc = run_cli(["query", "SELECT 1"], env)
    assert proc.returncode == ExitCode.NO_SERVING_DATABASE == 3
    (line,) = error_lines(proc)
    assert line.startswith("musicrec: error: ")
    assert str(tmp_path / "data" / "serving" / "musicrec.duckdb") in line
    assert "musicrec demo" in line


def test_drop_plays_before_any_demo_is_no_serving_database(tmp_path):
    proc = run_cli(["drop-plays"], musicrec_env(tmp_path / "data"))
    assert proc.returncode == ExitCode.NO_SERVING_DATABASE
    (line,) = error_lines(proc)
    assert line.startswith("musicrec: error: ") and "musicrec demo" in line


def test_a_usage_error_exits_2(tmp_path):
    proc = run_cli(["evaluate", "--ks", "5,x"], musicrec_env(tmp_path / "data"))
    assert proc.returncode == ExitCode.USAGE == 2
    assert "--ks" in proc.stderr and "Traceback" not in proc.stderr


def test_a_failed_run_names_the_step_and_its_error_in_one_line(tmp_path):
    env = musicrec_env(tmp_path / "data")
    proc = run_cli(["materialize", "--source", "files", "--path", str(tmp_path / "nowhere")], env)
    assert proc.returncode == ExitCode.RUN_FAILED == 1
    (line,) = error_lines(proc)
    assert line.startswith(
        "musicrec: error: the refresh_catalogue run failed at step raw_catalogue"
    )
    assert "nowhere" in line and "Dagster UI" in line


def test_bad_sql_is_one_line_and_exit_6(demo):
    env, _, _ = demo
    proc = run_cli(["query", "SELECT * FROM nope"], env)
    assert proc.returncode == ExitCode.BAD_QUERY == 6
    (line,) = error_lines(proc)
    assert line.startswith("musicrec: error: ") and "nope" in line
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--verbose", "query", "SELECT * FROM nope"],
        ["query", "--verbose", "SELECT * FROM nope"],
    ],
    ids=["before the command", "after the command"],
)
def test_verbose_adds_the_traceback(demo, args):
    env, _, _ = demo
    proc = run_cli(args, env)
    assert proc.returncode == ExitCode.BAD_QUERY
    assert "Traceback (most recent call last)" in proc.stderr
    assert error_lines(proc)[-1].startswith("musicrec: error: ")


def test_a_good_query_exits_0(demo):
    env, _, _ = demo
    proc = run_cli(["query", "SELECT count(*) AS n FROM users"], env)
    assert proc.returncode == ExitCode.OK
    assert proc.stderr == "" and "n" in proc.stdout.split()


def test_a_piped_demo_draws_no_progress_bar(demo):
    _, _, proc = demo
    assert "\r" not in proc.stderr
    assert "step/s" not in proc.stderr and "s/step" not in proc.stderr
