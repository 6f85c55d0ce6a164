"""The `musicrec` command as a newcomer runs it."""

import pytest

from tests.e2e.conftest import musicrec_env, run_cli

pytestmark = pytest.mark.e2e


def test_demo_prints_counts_samples_and_a_query_that_works(tmp_path):
    env = musicrec_env(tmp_path / "data")
    proc = run_cli(["demo"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "raw rows" in out and "validated rows" in out and "quarantine:" in out
    assert out.count("top-10 for user") == 3
    assert "new tracks nobody has played yet: " in out
    assert str(tmp_path / "data" / "serving" / "musicrec.duckdb") in out
    query = next(line for line in out.splitlines() if "musicrec query" in line)
    sql = query.split('musicrec query "', 1)[1].rstrip('"')
    answer = run_cli(["query", sql], env)
    assert answer.returncode == 0, answer.stderr
    assert "track_name" in answer.stdout and len(answer.stdout.splitlines()) == 21


def test_a_missing_source_file_fails_with_a_clear_message(tmp_path):
    env = musicrec_env(tmp_path / "data")
    proc = run_cli(["materialize", "--source", "files", "--path", str(tmp_path / "nowhere")], env)
    assert proc.returncode != 0
    assert "nowhere" in proc.stdout + proc.stderr


def test_evaluate_prints_a_comparison_table_per_k(tmp_path):
    env = musicrec_env(tmp_path / "data")
    proc = run_cli(["evaluate", "--models", "popularity,item_knn", "--ks", "5,10"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "## k = 5" in proc.stdout and "## k = 10" in proc.stdout
    assert "| item_knn | warm |" in proc.stdout and "ndcg@10" in proc.stdout


def test_drop_commands_write_complete_files_into_the_landing_folders(tmp_path):
    data_dir = tmp_path / "data"
    env = musicrec_env(data_dir)
    early = run_cli(["drop-plays"], env)
    assert early.returncode != 0
    assert "musicrec demo" in early.stdout + early.stderr

    tracks = run_cli(["drop-tracks", "--tracks", "7", "--seed", "3"], env)
    assert tracks.returncode == 0, tracks.stderr[-3000:]
    written = list((data_dir / "landing" / "tracks").iterdir())
    assert len(written) == 1 and written[0].name.startswith("tracks-")
    assert "(7 rows)" in tracks.stdout
