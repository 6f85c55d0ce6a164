"""Streaming readers: a malformed row costs only itself, damaged files fail in one line that
names them, and the formats people export (decimal commas, epoch times) are understood."""

import gzip
from pathlib import Path

import pandas as pd
import pytest

from musicrec_core.data import reconcile, validate_catalogue
from musicrec_core.data import schema as s
from musicrec_core.data.sources import (
    BATCH_ROWS,
    SourceConfig,
    SourceError,
    TableFile,
    load_source,
    read_table_file,
)


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _validated(folder: Path):
    raw = load_source(SourceConfig(kind="files", path=str(folder)))
    result = validate_catalogue(raw)
    for table in s.TABLES:
        counts = reconcile(
            len(getattr(raw, table)), getattr(result, table), result.quarantine, table
        )
        assert counts["balanced"], (table, counts)
    return result


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("u3,t3,4,2024-01-03 10:00:00,surplus", "row 3 has 5 fields where the header has 4"),
        ('u3,"t3,4,2024-01-03 10:00:00', "row 3: unterminated quote"),
    ],
    ids=["extra_field", "unterminated_quote"],
)
def test_a_malformed_row_in_the_middle_of_a_file_is_the_only_row_lost(tmp_path, bad_line, reason):
    lines = ["user_id,track_id,plays,played_at", "u1,t1,3,2024-01-01 10:00:00", "u2,t1,1,"]
    lines += [bad_line, 'u4,"t2",5,', "u5,t2,2,2024-01-05 10:00:00"]
    path = _write(tmp_path / "plays.csv", "\n".join(lines) + "\n")

    result = _validated(tmp_path)

    rejected = result.quarantine[result.quarantine[s.QUARANTINE_ACTION] == s.ACTION_REJECTED]
    assert len(rejected) == 1
    row = rejected.iloc[0]
    assert row[s.SOURCE_FILE] == str(path) and row[s.SOURCE_ROW] == 3
    assert row[s.QUARANTINE_COLUMN] is None and reason in row[s.QUARANTINE_REASON]
    assert bad_line in row[s.QUARANTINE_REASON]
    kept = result.plays.set_index(s.USER_ID)
    assert kept[s.SOURCE_ROW].to_dict() == {"u1": 1, "u2": 2, "u4": 4, "u5": 5}
    assert kept.loc["u4", s.TRACK_ID] == "t2"


def test_good_rows_keep_their_row_numbers_across_batches_around_a_bad_row(tmp_path):
    n = BATCH_ROWS + 10
    lines = ["user_id,track_id,plays"] + [f"u{i},t1,1" for i in range(1, n + 1)]
    lines[BATCH_ROWS - 5] += ",surplus"  # data row BATCH_ROWS - 5
    path = _write(tmp_path / "plays.csv", "\n".join(lines) + "\n")

    frame = read_table_file(path, "plays").frame

    assert frame[s.SOURCE_ROW].tolist() == list(range(1, n + 1))
    bad = frame[frame[s.READ_ERROR].notna()]
    assert bad[s.SOURCE_ROW].tolist() == [BATCH_ROWS - 5]
    good = frame[frame[s.READ_ERROR].isna()]
    assert (good[s.USER_ID] == "u" + good[s.SOURCE_ROW].astype(str)).all()


def test_a_truncated_gzip_fails_in_one_line_naming_the_file(tmp_path):
    rows = "".join(f"u{i},t{i % 97},{1 + i % 5}\n" for i in range(100_000))
    data = gzip.compress(f"user_id,track_id,plays\n{rows}".encode())
    path = _write(tmp_path / "plays.csv.gz", data[: len(data) // 2])

    with pytest.raises(SourceError) as err:
        read_table_file(path, "plays")

    message = str(err.value)
    assert message.startswith(f"{path}: the file is damaged and cannot be read")
    assert "\n" not in message and "end-of-stream" in message


def test_a_file_that_is_not_gzip_at_all_fails_naming_it(tmp_path):
    path = _write(tmp_path / "plays.csv.gz", b"user_id,track_id,plays\nu1,t1,2\n")
    with pytest.raises(SourceError, match=f"{path}: the file is damaged"):
        list(TableFile(path, "plays").batches())


def test_epoch_seconds_and_milliseconds_are_timestamps(tmp_path):
    _write(
        tmp_path / "plays.csv",
        "user_id,track_id,plays,played_at\n"
        "u1,t1,3,1704448800\n"  # seconds
        "u1,t2,1,1704448800123\n"  # milliseconds
        "u2,t1,2,1704448800.5\n"  # seconds with a fraction
        "u2,t2,2,2024-01-05T12:00:00+02:00\n"  # ISO 8601 with an offset, to UTC
        "u3,t1,1,2024-01-05\n"  # a date alone
        "u3,t2,1,99999999999999999\n",  # too long for either: not a timestamp
    )

    result = _validated(tmp_path)

    stamps = result.plays.set_index([s.USER_ID, s.TRACK_ID])[s.PLAYED_AT]
    assert stamps[("u1", "t1")] == pd.Timestamp("2024-01-05 10:00:00")
    assert stamps[("u1", "t2")] == pd.Timestamp("2024-01-05 10:00:00.123")
    assert stamps[("u2", "t1")] == pd.Timestamp("2024-01-05 10:00:00.5")
    assert stamps[("u2", "t2")] == pd.Timestamp("2024-01-05 10:00:00")
    assert stamps[("u3", "t1")] == pd.Timestamp("2024-01-05")
    assert pd.isna(stamps[("u3", "t2")])
    imputed = result.quarantine[result.quarantine[s.QUARANTINE_ACTION] == s.ACTION_IMPUTED]
    assert imputed[s.QUARANTINE_VALUE].tolist() == ["99999999999999999"]
    assert "epoch seconds or milliseconds" in imputed.iloc[0][s.QUARANTINE_REASON]


def test_decimal_commas_are_read_in_semicolon_files_only(tmp_path):
    _write(tmp_path / "plays.csv", "user_id;track_id;plays\nu1;t1;3\nu1;t2;2\n")
    _write(
        tmp_path / "tracks.csv",
        "track_id;genre;energy;loudness;duration\nt1;Rock;0,5;-6,25;3,5\nt2;Pop, Soul;0.75;,5;4\n",
    )

    result = _validated(tmp_path)

    tracks = result.tracks.set_index(s.TRACK_ID)
    assert tracks.loc["t1", [s.ENERGY, s.LOUDNESS, s.DURATION]].tolist() == [0.5, -6.25, 3.5]
    assert tracks.loc["t2", [s.ENERGY, s.LOUDNESS]].tolist() == [0.75, 0.5]
    assert tracks.loc["t2", s.GENRE] == "Pop, Soul"  # text keeps its commas
    assert result.quarantine.empty


def test_a_comma_file_keeps_its_commas_as_field_separators(tmp_path):
    _write(tmp_path / "plays.csv", 'user_id,track_id,plays\nu1,t1,"2,5"\n')
    result = _validated(tmp_path)
    assert result.plays.empty
    assert "not a number" in result.quarantine.iloc[0][s.QUARANTINE_REASON]
