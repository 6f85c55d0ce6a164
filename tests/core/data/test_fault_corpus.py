"""A corpus of bad delivery files: each gets a clear error or a quarantine reason naming the
file, row and column, nothing accepted is lost, and the counts reconcile."""

from pathlib import Path

import pytest

from musicrec_core.data import reconcile, validate_catalogue
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig, SourceError, load_source

GOOD = (
    "user_id,track_id,plays,played_at\nu1,t1,3,2024-01-01 10:00:00\nu2,t1,1,2024-01-02 11:00:00\n"
)


def _deliver(folder: Path, content: bytes | str, name: str = "plays.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _validate(folder: Path):
    raw = load_source(SourceConfig(kind="files", path=str(folder)))
    result = validate_catalogue(raw)
    counts = reconcile(len(raw.plays), result.plays, result.quarantine, "plays")
    assert counts["balanced"], counts
    return raw, result


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"empty \(0 bytes\)"),
        ("\n\n", "header line is empty"),
        ("user_id,plays\nu1,3\n", r"missing required column\(s\) track_id"),
        ("user_id|track_id|plays\nu1|t1|2\n".replace("|", " "), "missing required column"),
    ],
    ids=["zero_bytes", "blank_header", "missing_column", "wrong_delimiter"],
)
def test_unreadable_files_fail_with_the_file_named(tmp_path, content, message):
    path = _deliver(tmp_path, content)
    with pytest.raises(SourceError, match=message) as err:
        load_source(SourceConfig(kind="files", path=str(tmp_path)))
    assert str(path) in str(err.value)


def test_header_only_file_gives_no_rows_and_no_error(tmp_path):
    _deliver(tmp_path, "user_id,track_id,plays\n")
    raw, result = _validate(tmp_path)
    assert raw.plays.empty and result.plays.empty and result.quarantine.empty


@pytest.mark.parametrize(
    ("bad_line", "column", "reason"),
    [
        ("u3,t2,abc,", "plays", "not a number"),
        ("u3,t2,-4,", "plays", "below 1"),
        ("u3,t2,99999999999999999999,", "plays", "above"),
        ("u3,t2,2.5,", "plays", "whole number"),
        (",t2,2,", "user_id", "missing"),
        ("u3,,2,", "track_id", "missing"),
        ("u1,t1,3,2024-01-01 10:00:00", "user_id", "duplicate"),
        ("u3,t2", "plays", "missing"),
    ],
    ids=[
        "wrong_type",
        "negative_plays",
        "huge_number",
        "fractional",
        "no_user",
        "no_track",
        "duplicate_row",
        "truncated_last_line",
    ],
)
def test_bad_rows_are_quarantined_with_file_row_and_column(tmp_path, bad_line, column, reason):
    path = _deliver(tmp_path, GOOD + bad_line)
    _, result = _validate(tmp_path)
    assert len(result.plays) == 2
    rejected = result.quarantine[result.quarantine[s.QUARANTINE_ACTION] == s.ACTION_REJECTED]
    assert len(rejected) == 1
    row = rejected.iloc[0]
    assert row[s.SOURCE_FILE] == str(path) and row[s.SOURCE_ROW] == 3
    assert row[s.QUARANTINE_COLUMN] == column and reason in row[s.QUARANTINE_REASON]


def test_extra_columns_are_ignored_and_reported(tmp_path, caplog):
    _deliver(tmp_path, "user_id,track_id,plays,mood\nu1,t1,2,happy\n")
    with caplog.at_level("INFO"):
        _, result = _validate(tmp_path)
    assert len(result.plays) == 1
    assert "mood" in caplog.text


def test_non_utf8_bytes_quarantine_only_their_row(tmp_path):
    _deliver(tmp_path, GOOD.encode() + b"u\xff9,t1,2,\n")
    _, result = _validate(tmp_path)
    assert len(result.plays) == 2
    assert "UTF-8" in result.quarantine.iloc[0][s.QUARANTINE_REASON]


def test_plays_of_unknown_users_and_tracks_are_quarantined(tmp_path):
    _deliver(tmp_path, GOOD + "u9,t9,1,\n")
    _deliver(tmp_path, "user_id,age,gender\nu1,30,F\nu2,40,M\n", "users.csv")
    _deliver(tmp_path, "track_id,genre\nt1,Rock\n", "tracks.csv")
    _, result = _validate(tmp_path)
    reason = result.quarantine.iloc[0][s.QUARANTINE_REASON]
    assert len(result.plays) == 2 and "not in the users table" in reason


def test_out_of_range_content_is_imputed_not_lost(tmp_path):
    _deliver(tmp_path, GOOD)
    _deliver(tmp_path, "track_id,energy,tempo\nt1,7.5,120\n", "tracks.csv")
    _, result = _validate(tmp_path)
    imputed = result.quarantine[result.quarantine[s.QUARANTINE_ACTION] == s.ACTION_IMPUTED]
    assert imputed.iloc[0][s.QUARANTINE_VALUE] == "7.5"
    assert s.ENERGY in result.tracks.iloc[0][s.IMPUTED_COLUMNS]
