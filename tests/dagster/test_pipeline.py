"""Materialise the real asset graph into a temporary folder and check what users would see."""

from __future__ import annotations

import subprocess

import duckdb
import pandas as pd
import pytest

from musicrec_core.data import schema as s
from musicrec_core.serving import read_only_query
from tests.conftest import PROJECT_ROOT, SHARED_DATA, requires_shared_data

pytestmark = pytest.mark.integration
K = 20


def _warehouse(data_dir, table: str) -> pd.DataFrame:
    with duckdb.connect(str(data_dir / "warehouse" / "musicrec.duckdb"), read_only=True) as con:
        return con.execute(f"SELECT * FROM public.{table}").df()


def _checks(result) -> dict[str, bool]:
    return {
        f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:"
        f"{e.asset_check_evaluation_data.check_name}": e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def _assert_served(data_dir) -> None:
    serving = data_dir / "serving" / "musicrec.duckdb"
    recs = read_only_query(serving, "SELECT * FROM recommendations")
    users = _warehouse(data_dir, "validated_users")
    plays = _warehouse(data_dir, "validated_plays")
    per_user = recs.groupby(s.USER_ID).size()
    assert set(per_user.index) == set(users[s.USER_ID])
    assert (per_user == K).all()
    played = recs.merge(
        plays[[s.USER_ID, s.TRACK_ID]].drop_duplicates(), on=[s.USER_ID, s.TRACK_ID]
    )
    assert played.empty, "a recommendation points at a track the user already played"
    named = read_only_query(serving, "SELECT * FROM recommendations_named LIMIT 5")
    assert {s.TRACK_NAME, s.ARTIST_NAME}.issubset(named.columns)
    cold = read_only_query(serving, "SELECT * FROM cold_start_recommendations")
    assert not cold.empty
    new_tracks = read_only_query(serving, "SELECT * FROM new_track_recommendations")
    assert not new_tracks[s.TRACK_ID].isin(plays[s.TRACK_ID]).any()
    assert new_tracks[s.USER_ID].isin(users[s.USER_ID]).all()
    assert new_tracks.groupby(s.USER_ID).size().le(10).all()


def test_synthetic_tiny_graph_materialises_with_every_check_passing(materialize_with):
    result, data_dir = materialize_with(MUSICREC_SYNTHETIC_SIZE="tiny")
    assert result.success
    checks = _checks(result)
    quality = {k: v for k, v in checks.items() if k.startswith("validated_")}
    assert len(quality) == 13
    assert all(quality.values()), checks
    assert checks["landing_registry:landed_files_readable"]
    assert checks["recommendations:freshness_check"]
    _assert_served(data_dir)
    preprocessor_dirs = list((data_dir / "artifacts" / "preprocessor").iterdir())
    assert any((d / "manifest.json").exists() for d in preprocessor_dirs)
    quarantine = _warehouse(data_dir, "quarantine")
    assert not quarantine.empty and quarantine[s.QUARANTINE_REASON].notna().all()


def test_plays_only_folder_runs_end_to_end(materialize_with, tmp_path):
    folder = tmp_path / "plays_only"
    folder.mkdir()
    rows = [
        (f"user{u}", f"song{(u * 7 + i) % 40}", 1 + (u + i) % 5)
        for u in range(30)
        for i in range(8)
    ]
    pd.DataFrame(rows, columns=["user_id", "track_id", "plays"]).to_csv(
        folder / "plays.csv", index=False
    )
    result, data_dir = materialize_with(MUSICREC_SOURCE="files", MUSICREC_SOURCE_PATH=str(folder))
    assert result.success
    _assert_served(data_dir)
    tracks = _warehouse(data_dir, "validated_tracks")
    assert (tracks[s.SOURCE_FILE] == "derived:plays").all()
    mat = result.asset_materializations_for_node("fitted_preprocessor")[0]
    skipped = mat.metadata["features_skipped"].value
    assert s.ENERGY in skipped and s.AGE in skipped


@requires_shared_data
@pytest.mark.shared_data
def test_seed_dataset_runs_end_to_end_with_every_row_accounted_for(materialize_with):
    seed_csv = SHARED_DATA / "seed-dataset" / "cleaned_modv2.csv"
    result, data_dir = materialize_with(
        models=["popularity", "segment_popularity", "content_knn", "hybrid"],
        MUSICREC_SOURCE="seed_csv",
        MUSICREC_SOURCE_PATH=str(seed_csv),
    )
    assert result.success
    checks = _checks(result)
    assert all(
        v for k, v in checks.items() if "imputed_rates" not in k and "promotion_gate" not in k
    ), checks
    _assert_served(data_dir)
    plays = _warehouse(data_dir, "validated_plays")
    quarantine = _warehouse(data_dir, "quarantine")
    rejected_plays = quarantine[
        (quarantine[s.QUARANTINE_TABLE] == "plays")
        & (quarantine[s.QUARANTINE_ACTION] == "rejected")
    ]
    assert len(plays) + len(rejected_plays) == sum(1 for _ in seed_csv.open()) - 1
    assert quarantine[s.QUARANTINE_REASON].str.len().gt(20).all()


def test_dg_check_defs_passes():
    venv_bin = PROJECT_ROOT / ".venv" / "bin"
    dg_cmd = venv_bin / "dg" if (venv_bin / "dg").exists() else "dg"
    proc = subprocess.run(
        [str(dg_cmd), "check", "defs"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All definitions loaded successfully" in proc.stdout + proc.stderr
