from pathlib import Path

import pandas as pd
import pytest

from musicrec_core.data import reconcile, validate_catalogue
from musicrec_core.data import schema as s
from musicrec_core.data.sources import (
    SourceConfig,
    SourceError,
    load_source,
    read_table_file,
    synthetic_config,
)
from musicrec_core.data.sources.synthetic import SyntheticConfig, generate
from tests.conftest import SHARED_DATA, requires_shared_data

SEED_CSV = SHARED_DATA / "seed-dataset" / "cleaned_modv2.csv"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_synthetic_source_is_the_generator_with_its_seed_dirt_and_size():
    tiny = SourceConfig(size="tiny", seed=7, dirty_rate=0.0)
    assert synthetic_config(tiny) == SyntheticConfig.preset("tiny", seed=7, dirty_rate=0.0)
    scaled = synthetic_config(SourceConfig(scale_plays=20_000, seed=3))
    assert scaled == SyntheticConfig.scaled(20_000, seed=3)
    expected = generate(synthetic_config(tiny)).raw
    pd.testing.assert_frame_equal(load_source(tiny).plays, expected.plays)


def test_plays_only_folder_with_aliases_and_tabs(tmp_path):
    _write(tmp_path / "plays.tsv", "user\tsong_id\tlisten_count\textra\nA\tS1\t3\tx\nB\tS1\t1\ty\n")
    raw = load_source(SourceConfig(kind="files", path=str(tmp_path)))
    assert raw.users.empty and raw.tracks.empty
    assert list(raw.plays.columns) == s.RAW_COLUMNS["plays"]
    assert raw.plays[s.PLAYS].tolist() == ["3", "1"]
    assert raw.plays[s.SOURCE_ROW].tolist() == [1, 2]


def test_table_folders_and_parquet_are_read_together(tmp_path):
    _write(tmp_path / "plays" / "a.csv", "user_id,track_id,plays\nu1,t1,2\n")
    pd.DataFrame({"user_id": ["u2"], "track_id": ["t1"], "plays": [5]}).to_parquet(
        tmp_path / "plays" / "b.parquet"
    )
    _write(tmp_path / "tracks.csv", "track_id,genre,energy\nt1,Rock,0.5\n")
    raw = load_source(SourceConfig(kind="files", path=str(tmp_path)))
    assert sorted(raw.plays[s.PLAYS]) == ["2", "5"]
    assert raw.tracks.loc[0, s.GENRE] == "Rock" and raw.tracks.loc[0, s.TRACK_NAME] is None


def test_symlinks_out_of_the_folder_are_not_read(tmp_path):
    outside = _write(tmp_path / "outside" / "plays.csv", "user_id,track_id,plays\nx,y,1\n")
    folder = tmp_path / "source"
    _write(folder / "plays.csv", "user_id,track_id,plays\nu1,t1,1\n")
    (folder / "tracks.csv").symlink_to(outside)
    raw = load_source(SourceConfig(kind="files", path=str(folder)))
    assert raw.tracks.empty


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "empty"), ("user_id,plays\nu1,3\n", r"missing required column\(s\) track_id")],
)
def test_unusable_files_raise_errors_naming_the_file(tmp_path, content, message):
    path = _write(tmp_path / "plays.csv", content)
    with pytest.raises(SourceError, match=message) as err:
        read_table_file(path, "plays")
    assert str(path) in str(err.value)


def test_missing_plays_file_is_a_clear_error(tmp_path):
    _write(tmp_path / "tracks.csv", "track_id\nt1\n")
    with pytest.raises(SourceError, match="no plays file"):
        load_source(SourceConfig(kind="files", path=str(tmp_path)))


@requires_shared_data
@pytest.mark.shared_data
def test_seed_csv_splits_into_users_tracks_and_plays_with_every_row_accounted_for():
    raw = load_source(SourceConfig(kind="seed_csv", path=str(SEED_CSV)))
    file_rows = sum(1 for _ in SEED_CSV.open()) - 1
    assert len(raw.plays) == file_rows
    assert raw.tracks[s.TRACK_ID].nunique() == len(raw.tracks)
    result = validate_catalogue(raw)
    for table in ("users", "tracks", "plays"):
        counts = reconcile(
            len(getattr(raw, table)), getattr(result, table), result.quarantine, table
        )
        assert counts["balanced"], (table, counts)
    assert len(result.plays) == file_rows
    rejected_users = result.quarantine[result.quarantine[s.QUARANTINE_TABLE] == "users"]
    assert (rejected_users[s.QUARANTINE_REASON].str.contains("duplicate user_id")).all()
