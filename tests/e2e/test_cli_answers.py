"""`musicrec recommend | new-tracks | similar | cold-start | explain` as a user runs them, in
every format, and `musicrec api` with several workers."""

import csv
import io
import json
import time
import urllib.request

import duckdb
import pytest

from musicrec_core.serving.layout import SERVING_FILE
from tests.e2e.conftest import musicrec_env, run_cli, wait_for_http

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def catalogue(published_data_dir) -> dict[str, object]:
    """The environment and a few ids of the published tiny catalogue."""
    with duckdb.connect(str(published_data_dir / SERVING_FILE), read_only=True) as con:
        user = con.execute(
            "SELECT user_id FROM users WHERE n_tracks > 5 ORDER BY user_id"
        ).fetchone()
        tracks = [r[0] for r in con.execute("SELECT track_id FROM tracks LIMIT 3").fetchall()]
    return {"env": musicrec_env(published_data_dir), "user": user[0], "tracks": tracks}


def _run(catalogue, *args: str):
    return run_cli(list(args), catalogue["env"], timeout=600)


def test_recommend_prints_a_table_with_reasons(catalogue):
    proc = _run(catalogue, "recommend", catalogue["user"], "--k", "4")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"user {catalogue['user']}: warm, answered by ")
    assert "reason" in lines[1] and "track_name" in lines[1]
    assert len(lines) == 2 + 4


def test_recommend_as_json_and_csv_hold_the_same_tracks(catalogue):
    as_json = json.loads(_run(catalogue, "recommend", catalogue["user"], "--format", "json").stdout)
    rows = list(
        csv.DictReader(
            io.StringIO(_run(catalogue, "recommend", catalogue["user"], "--format", "csv").stdout)
        )
    )
    assert as_json["user_id"] == catalogue["user"] and len(as_json["items"]) == 10
    assert [r["track_id"] for r in rows] == [i["track_id"] for i in as_json["items"]]
    assert all(r["reason"] for r in rows)


def test_new_tracks_lists_the_listeners_pick_of_unplayed_tracks(catalogue):
    proc = _run(catalogue, "new-tracks", catalogue["user"], "--k", "3", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["audience"] == "cold_track" and len(answer["items"]) == 3
    table = _run(catalogue, "new-tracks", catalogue["user"], "--k", "3")
    assert table.stdout.startswith(f"new tracks for user {catalogue['user']}: cold_track")


def test_similar_cold_start_and_explain_answer(catalogue):
    track = catalogue["tracks"][0]
    similar = _run(catalogue, "similar", track, "--k", "3", "--format", "json")
    assert similar.returncode == 0, similar.stderr
    assert len(json.loads(similar.stdout)["items"]) == 3
    cold = _run(
        catalogue, "cold-start", "--age", "23", "--gender", "F", "--played", *catalogue["tracks"]
    )
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout.startswith("a new listener (age 23, gender F, 3 tracks played)")
    explain = _run(catalogue, "explain", catalogue["user"], track, "--format", "csv")
    assert explain.returncode == 0, explain.stderr
    assert explain.stdout.splitlines()[0] == "kind,reason,strength"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["recommend", "nobody"], 4, "unknown user 'nobody'"),
        (["new-tracks", "nobody"], 4, "unknown user 'nobody'"),
        (["similar", "no-track"], 5, "unknown track 'no-track'"),
        (["cold-start", "--played", "no-track"], 5, "unknown track 'no-track'"),
        (["cold-start", "--age", "300"], 7, "age 300"),
        (["recommend", "USER", "--k", "0"], 7, "k must be between 1 and 100"),
        (["api", "--workers", "0"], 7, "--workers must be at least 1"),
    ],
)
def test_bad_questions_fail_in_one_line_with_their_own_exit_code(catalogue, args, code, words):
    args = [catalogue["user"] if a == "USER" else a for a in args]
    proc = _run(catalogue, *args)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.count("\n") == 1 and words in proc.stderr
    assert "Traceback" not in proc.stderr


def test_without_a_published_database_each_question_says_so(tmp_path):
    proc = run_cli(["recommend", "u1"], musicrec_env(tmp_path / "empty"))
    assert proc.returncode == 3 and "musicrec demo" in proc.stderr


def _wait_for_log(path, words: str, count: int, timeout: float) -> str:
    """The log at ``path`` once ``words`` appear ``count`` times in it, or TimeoutError."""
    deadline = time.monotonic() + timeout
    while (log := path.read_text()).count(words) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(log[-3000:])
        time.sleep(0.5)
    return log


def test_api_workers_each_serve_the_snapshot(catalogue, published_data_dir, api_server, tmp_path):
    url = api_server(published_data_dir, workers=2)
    # Workers start one after another, each importing torch: on a busy machine the first can
    # answer long before the second has started, so wait for both before asking.
    log = _wait_for_log(tmp_path / "api.log", "Application startup complete", 2, timeout=300)
    assert log.count("Started server process") == 2, log[-3000:]
    for _ in range(20):  # both workers have loaded the snapshot: /health is 200 from either
        wait_for_http(f"{url}/health", timeout=120)
    for _ in range(10):
        with urllib.request.urlopen(f"{url}/users/{catalogue['user']}/recommendations") as answer:
            assert answer.status == 200 and len(json.load(answer)["items"]) == 10
