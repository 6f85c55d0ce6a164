"""The files source reads the Echo Nest Taste Profile folder as published and gives what
reading prepare_echonest's plays.csv and tracks.csv gives."""

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from musicrec_core.data import SplitConfig, prepare, validate_catalogue
from musicrec_core.data import schema as s
from musicrec_core.data.sources import (
    SourceConfig,
    SourceError,
    load_source,
    prepare_echonest,
    source_fingerprint,
)
from musicrec_core.data.sources.echonest_stream import without_last_user
from musicrec_core.data.sources.raw_batches import raw_batch
from tests.conftest import SHARED_DATA, requires_shared_data

TRIPLETS = (
    "u1\tS1\t3\n"
    "u1\tS2\t1\n"
    "u2\tS9\t2\n"  # S9 has no metadata
    "u2\tS1\t5\n"
    "u3\tS1\t1\n"  # the last user, possibly cut off
)
METADATA = (
    "song_id,title,release,artist_name,year\n"
    'S1,"Song, One",Album,Artist A,1999\n'
    "S2,Song Two,Album,Artist B,0\n"
    "S3,Never Played,Album,Artist B,2004\n"
)


def _folder(path: Path, triplets: str = TRIPLETS, metadata: str = METADATA) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "10000_head.txt").write_text(triplets)
    (path / "song_metadata_derived.csv").write_text(metadata)
    (path / "song_df_head10000.csv").write_text("idx,user_id,song_id\n0,u1,S1\n")
    (path / "PROVENANCE.md").write_text("# notes\n")
    return path


def _without_provenance(frame: pd.DataFrame) -> pd.DataFrame:
    drop = [s.SOURCE_FILE, s.SOURCE_ROW, s.DELIVERY, s.PLAY_KEY, s.PAIR_KEY]
    return frame.drop(columns=[c for c in drop if c in frame.columns]).reset_index(drop=True)


def test_the_published_layout_is_read_as_plays_and_tracks(tmp_path):
    folder = _folder(tmp_path / "echonest")
    raw = load_source(SourceConfig(kind="files", path=str(folder)))
    assert raw.users.empty
    plays = raw.plays[[s.USER_ID, s.TRACK_ID, s.PLAYS, s.SOURCE_ROW]].values.tolist()
    assert plays == [
        ["u1", "S1", "3", 1],
        ["u1", "S2", "1", 2],
        ["u2", "S9", "2", 3],
        ["u2", "S1", "5", 4],
    ]
    tracks = raw.tracks[[s.TRACK_ID, s.TRACK_NAME, s.ARTIST_NAME, s.RELEASE_DATE]]
    assert tracks.values.tolist() == [
        ["S1", "Song, One", "Artist A", "1999"],
        ["S2", "Song Two", "Artist B", None],
        ["S3", "Never Played", "Artist B", "2004"],
        ["S9", None, None, None],
    ]
    played_only = raw.tracks.iloc[-1]
    assert played_only[s.SOURCE_FILE].endswith("10000_head.txt") and played_only[s.SOURCE_ROW] == 3
    validated = validate_catalogue(raw)
    assert len(validated.plays) == 4 and validated.quarantine.empty


def test_the_published_layout_gives_what_prepare_echonest_writes(tmp_path):
    folder = _folder(tmp_path / "echonest")
    direct = validate_catalogue(load_source(SourceConfig(kind="files", path=str(folder))))
    converted_folder = prepare_echonest(folder, tmp_path / "converted")
    converted = validate_catalogue(
        load_source(SourceConfig(kind="files", path=str(converted_folder)))
    )
    for table in s.TABLES:
        pd.testing.assert_frame_equal(
            _without_provenance(getattr(direct, table)),
            _without_provenance(getattr(converted, table)),
        )


def test_bad_triplets_are_quarantined_naming_the_file_row_and_column(tmp_path):
    folder = _folder(
        tmp_path / "echonest", triplets="u1\tS1\t3\nu1\tS2\t1\textra\nu2\tS1\tx\nu3\tS1\t1\n"
    )
    quarantine = validate_catalogue(
        load_source(SourceConfig(kind="files", path=str(folder)))
    ).quarantine
    assert quarantine[s.SOURCE_FILE].str.endswith("10000_head.txt").all()
    assert quarantine[s.SOURCE_ROW].tolist() == [2, 3]
    assert quarantine[s.QUARANTINE_COLUMN].tolist() == [None, s.PLAYS]
    assert (
        quarantine[s.QUARANTINE_REASON]
        .iloc[0]
        .startswith("row 2 has 4 fields where the file has 3")
    )


def test_a_changed_triplets_file_changes_the_fingerprint(tmp_path):
    folder = _folder(tmp_path / "echonest")
    source = SourceConfig(kind="files", path=str(folder))
    before = source_fingerprint(source)
    (folder / "10000_head.txt").write_text(TRIPLETS + "u4\tS2\t7\n")
    assert source_fingerprint(source) != before


def _plays(users: list[str], first_row: int) -> pa.RecordBatch:
    columns = {
        s.USER_ID: pa.array(users),
        s.TRACK_ID: pa.array(["t"] * len(users)),
        s.PLAYS: pa.array(["1"] * len(users)),
    }
    return raw_batch(columns, "plays", "p.txt", list(range(first_row, first_row + len(users))))


def test_the_last_user_is_dropped_across_batches():
    batches = [
        _plays(["a", "b", "b"], 1),
        _plays(["b", "b"], 4),
        _plays(["b", "c"], 6),
        _plays(["c"], 8),
    ]
    stream = without_last_user(batches)
    kept = []
    while True:
        try:
            kept.append(next(stream))
        except StopIteration as done:
            dropped = done.value
            break
    rows = pa.Table.from_batches(kept).column(s.SOURCE_ROW).to_pylist()
    assert rows == [1, 2, 3, 4, 5, 6] and dropped == ("c", 2)


def test_metadata_with_other_columns_is_a_clear_error(tmp_path):
    folder = _folder(tmp_path / "echonest", metadata="song_id,name,artist\nS1,x,y\n")
    with pytest.raises(
        SourceError, match=r"song_metadata_derived\.csv: line 1: expected the song metadata columns"
    ):
        load_source(SourceConfig(kind="files", path=str(folder)))


def test_triplets_without_metadata_are_not_taken_for_the_layout(tmp_path):
    folder = _folder(tmp_path / "echonest")
    (folder / "song_metadata_derived.csv").unlink()
    with pytest.raises(SourceError, match=r"no plays file found .* song_metadata_derived\.csv"):
        load_source(SourceConfig(kind="files", path=str(folder)))


@requires_shared_data
@pytest.mark.shared_data
def test_the_real_folder_gives_the_evaluation_input_prepare_echonest_gives(tmp_path):
    published = SHARED_DATA / "echonest-taste-profile-subset"
    converted = prepare_echonest(published, tmp_path / "converted")
    direct_raw = load_source(SourceConfig(kind="files", path=str(published)))
    direct = validate_catalogue(direct_raw)
    expected = validate_catalogue(load_source(SourceConfig(kind="files", path=str(converted))))
    for table in s.TABLES:
        pd.testing.assert_frame_equal(
            _without_provenance(getattr(direct, table)),
            _without_provenance(getattr(expected, table)),
        )
    assert len(direct.plays) == len(direct_raw.plays) == 42_739 - 60
    direct_data = prepare(SourceConfig(kind="files", path=str(published)), SplitConfig())
    expected_data = prepare(SourceConfig(kind="files", path=str(converted)), SplitConfig())
    for name in ("users", "tracks", "interactions", "split"):
        pd.testing.assert_frame_equal(
            _without_provenance(getattr(direct_data, name)),
            _without_provenance(getattr(expected_data, name)),
            obj=name,
        )
