"""Landing folders: only complete files directly inside them are read, each content is
registered once by its SHA-256, unreadable files are registered as rejected, and the deliveries
follow the base tables."""

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from musicrec_core.data import (
    empty_registry,
    ingest_landing,
    is_pending,
    landing,
    scan_landing,
    with_deliveries,
)
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceError
from tests.conftest import raw_frame

PLAYS = "user_id,track_id,plays,played_at\nu1,t1,3,2024-01-01 10:00:00\nu2,t2,1,\n"
USERS = "user_id,age,gender\nu1,30,F\nu2,41,M\n"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _land(root: Path, table: str, name: str, content: str | bytes) -> Path:
    path = root / table / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _sha(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


@pytest.fixture
def dirs(tmp_path):
    return tmp_path / "landing", tmp_path / "archive"


@pytest.fixture
def opened(monkeypatch):
    """Every path the landing module archives (copies) or reads, in order."""
    seen: list[Path] = []
    archive, read = landing._archive, landing.read_table_file

    def spy_archive(path, archive_dir):
        seen.append(Path(path))
        return archive(path, archive_dir)

    def spy_read(path, *args, **kwargs):
        seen.append(Path(path))
        return read(path, *args, **kwargs)

    monkeypatch.setattr(landing, "_archive", spy_archive)
    monkeypatch.setattr(landing, "read_table_file", spy_read)
    return seen


@pytest.mark.parametrize(
    ("name", "pending"),
    [
        (".x.csv", True),
        ("x.csv.part", True),
        ("x.tmp", True),
        ("~x.csv", True),
        ("X.CSV.PART", True),
        ("x.csv", False),
        ("x.parquet", False),
        ("part.csv", False),
    ],
)
def test_is_pending(name, pending):
    assert is_pending(Path("landing/plays") / name) is pending


def test_scan_reads_only_complete_supported_files_directly_in_the_folders(dirs, opened):
    root, archive = dirs
    outside = _land(root.parent / "elsewhere", "plays", "secret.csv", PLAYS.replace("u1", "zz"))
    good = _land(root, "plays", "good.csv", PLAYS)
    users = _land(root, "users", "users.csv", USERS)
    for name in (".hidden.csv", "x.csv.part", "x.tmp", "notes.txt", "data.json"):
        _land(root, "plays", name, PLAYS)
    _land(root, "plays", "sub/inner.csv", PLAYS)
    (root / "plays" / "link-out.csv").symlink_to(outside)
    (root / "plays" / "link-in.csv").symlink_to(good)
    (root / "tracks").symlink_to(outside.parent, target_is_directory=True)

    found = scan_landing(root)

    assert [(f.table, f.path, f.landed_path) for f in found] == [
        ("users", users, "users/users.csv"),
        ("plays", good, "plays/good.csv"),
    ]
    assert found[1].size_bytes == len(PLAYS)
    result = ingest_landing(root, archive, empty_registry(), now=NOW)
    assert sorted(result.registry[s.LANDED_PATH]) == ["plays/good.csv", "users/users.csv"]
    assert {p.name for p in opened} == {
        "good.csv",
        "users.csv",
        f"{_sha(PLAYS)}.csv",
        f"{_sha(USERS)}.csv",
    }
    assert not any(outside.name in p.name or p.is_symlink() for p in opened)
    assert f"{_sha(PLAYS.replace('u1', 'zz'))}.csv" not in os.listdir(archive)


def test_new_files_are_archived_by_content_and_registered(dirs):
    root, archive = dirs
    _land(root, "plays", "plays-1.csv", PLAYS)
    _land(root, "users", "users-1.csv", USERS)

    result = ingest_landing(root, archive, empty_registry(), now=NOW)

    registry = result.registry.set_index(s.LANDED_PATH)
    assert list(result.registry.columns) == s.LANDING_REGISTRY_COLUMNS
    assert registry.loc["plays/plays-1.csv", s.SHA256] == _sha(PLAYS)
    assert registry.loc["users/users-1.csv", s.SHA256] == _sha(USERS)
    assert registry[s.QUARANTINE_TABLE].to_dict() == {
        "users/users-1.csv": "users",
        "plays/plays-1.csv": "plays",
    }
    assert registry[s.ROWS].tolist() == [2, 2]
    assert registry[s.STATUS].tolist() == [s.STATUS_INGESTED] * 2
    assert registry[s.QUARANTINE_REASON].tolist() == ["", ""]
    assert registry[s.INGESTED_AT].tolist() == [NOW.isoformat(timespec="seconds")] * 2
    assert registry.loc["plays/plays-1.csv", s.SIZE_BYTES] == len(PLAYS)
    assert sorted(os.listdir(archive)) == sorted([f"{_sha(PLAYS)}.csv", f"{_sha(USERS)}.csv"])
    assert registry.loc["plays/plays-1.csv", s.ARCHIVED_FILE] == f"{_sha(PLAYS)}.csv"
    assert (archive / f"{_sha(PLAYS)}.csv").read_text() == PLAYS
    assert len(result.added) == 2 and result.repeated == []
    assert result.summary().startswith("2 new file(s) ingested, 0 rejected")


def test_the_same_bytes_under_another_name_are_a_no_op(dirs):
    root, archive = dirs
    _land(root, "plays", "plays-1.csv", PLAYS)
    first = ingest_landing(root, archive, empty_registry(), now=NOW)
    _land(root, "plays", "plays-1-again.csv", PLAYS)

    second = ingest_landing(root, archive, first.registry, now=LATER)

    assert second.added.empty
    assert second.repeated == ["plays/plays-1-again.csv", "plays/plays-1.csv"]
    pd.testing.assert_frame_equal(second.registry, first.registry)
    assert os.listdir(archive) == [f"{_sha(PLAYS)}.csv"]


def test_a_corrected_file_under_a_new_name_is_ingested(dirs):
    root, archive = dirs
    broken = PLAYS + "u3,t3,abc,\n"
    corrected = PLAYS + "u3,t3,4,\n"
    _land(root, "plays", "plays-1.csv", broken)
    first = ingest_landing(root, archive, empty_registry(), now=NOW)
    _land(root, "plays", "plays-1-fixed.csv", corrected)

    second = ingest_landing(root, archive, first.registry, now=LATER)

    assert second.added[s.LANDED_PATH].tolist() == ["plays/plays-1-fixed.csv"]
    assert second.added[s.SHA256].tolist() == [_sha(corrected)]
    assert second.added[s.STATUS].tolist() == [s.STATUS_INGESTED]
    assert second.added[s.ROWS].tolist() == [3]
    assert second.repeated == ["plays/plays-1.csv"]
    assert len(second.registry) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"empty \(0 bytes\)"),
        (b"\n\n", "header line is empty"),
        (b"user_id,plays\nu1,3\n", r"missing required column\(s\) track_id"),
    ],
    ids=["zero_bytes", "blank_header", "missing_column"],
)
def test_an_unreadable_file_is_registered_rejected_and_not_retried(
    dirs, monkeypatch, content, message
):
    root, archive = dirs
    _land(root, "plays", "good.csv", PLAYS)
    _land(root, "plays", "bad.csv", content)

    first = ingest_landing(root, archive, empty_registry(), now=NOW)

    bad = first.registry.set_index(s.LANDED_PATH).loc["plays/bad.csv"]
    assert bad[s.STATUS] == s.STATUS_REJECTED
    assert bad[s.ROWS] == 0
    assert bad[s.SHA256] == hashlib.sha256(content).hexdigest()
    assert bad[s.QUARANTINE_REASON].startswith("plays/bad.csv: ")
    assert pd.Series([bad[s.QUARANTINE_REASON]]).str.contains(message).all()
    assert first.summary().startswith("1 new file(s) ingested, 1 rejected")
    raw = with_deliveries(_empty_base(), first.registry, archive)
    assert set(raw.plays[s.SOURCE_FILE]) == {"plays/good.csv"}

    def must_not_read(*args, **kwargs):
        raise AssertionError(f"read again: {args}")

    monkeypatch.setattr(landing, "read_table_file", must_not_read)
    second = ingest_landing(root, archive, first.registry, now=LATER)
    assert second.added.empty
    assert sorted(second.repeated) == ["plays/bad.csv", "plays/good.csv"]
    pd.testing.assert_frame_equal(second.registry, first.registry)


def test_a_header_only_file_is_ingested_with_no_rows(dirs):
    root, archive = dirs
    _land(root, "plays", "empty-week.csv", "user_id,track_id,plays\n")

    result = ingest_landing(root, archive, empty_registry(), now=NOW)

    assert result.registry[[s.STATUS, s.ROWS]].values.tolist() == [[s.STATUS_INGESTED, 0]]
    assert with_deliveries(_empty_base(), result.registry, archive).plays.empty


def test_ingesting_twice_gives_the_same_registry_and_archive(dirs):
    root, archive = dirs
    _land(root, "plays", "plays-1.csv", PLAYS)
    _land(root, "users", "users-1.csv", USERS)
    _land(root, "tracks", "tracks-1.csv", b"")
    first = ingest_landing(root, archive, empty_registry(), now=NOW)
    archived = {p.name: p.read_bytes() for p in archive.iterdir()}

    second = ingest_landing(root, archive, first.registry, now=LATER)

    pd.testing.assert_frame_equal(second.registry, first.registry)
    assert {p.name: p.read_bytes() for p in archive.iterdir()} == archived
    assert (
        second.summary()
        == "0 new file(s) ingested, 0 rejected, 3 already-registered content skipped"
    )


def _empty_base() -> s.RawTables:
    return s.RawTables(*(s.empty_raw_frame(table) for table in ("users", "tracks", "plays")))


def test_deliveries_follow_the_base_rows_with_their_landed_path(dirs):
    root, archive = dirs
    base = s.RawTables(
        users=raw_frame("users", [{"user_id": "u0", "age": 20, "gender": "F"}], "base.csv"),
        tracks=raw_frame("tracks", [{"track_id": "t1"}, {"track_id": "t2"}], "base.csv"),
        plays=raw_frame("plays", [{"user_id": "u0", "track_id": "t1", "plays": 5}], "base.csv"),
    )
    _land(root, "plays", "plays-a.csv", PLAYS)
    _land(root, "plays", "plays-b.csv", "user_id,track_id,plays\nu1,t2,7\n")
    _land(root, "users", "users-a.csv", USERS)
    registry = ingest_landing(root, archive, empty_registry(), now=NOW).registry

    raw = with_deliveries(base, registry, archive)

    assert raw.plays[
        [s.USER_ID, s.TRACK_ID, s.PLAYS, s.SOURCE_FILE, s.SOURCE_ROW]
    ].values.tolist() == [
        ["u0", "t1", "5", "base.csv", 1],
        ["u1", "t1", "3", "plays/plays-a.csv", 1],
        ["u2", "t2", "1", "plays/plays-a.csv", 2],
        ["u1", "t2", "7", "plays/plays-b.csv", 1],
    ]
    assert raw.plays[s.PLAYED_AT].tolist() == [None, "2024-01-01 10:00:00", None, None]
    assert raw.users[s.USER_ID].tolist() == ["u0", "u1", "u2"]
    assert raw.users[s.SOURCE_FILE].tolist() == [
        "base.csv",
        "users/users-a.csv",
        "users/users-a.csv",
    ]
    pd.testing.assert_frame_equal(raw.tracks, base.tracks)
    assert list(raw.plays.columns) == [*s.PLAY_COLUMNS, *s.PROVENANCE_COLUMNS]
    assert raw.plays[s.SOURCE_ROW].dtype == "int64"


def test_a_missing_archived_copy_fails_naming_the_file(dirs):
    root, archive = dirs
    _land(root, "plays", "plays-1.csv", PLAYS)
    registry = ingest_landing(root, archive, empty_registry(), now=NOW).registry
    (archive / f"{_sha(PLAYS)}.csv").unlink()

    with pytest.raises(SourceError, match=r"plays/plays-1\.csv: its archived copy .* is missing"):
        with_deliveries(_empty_base(), registry, archive)


def test_registered_content_is_not_copied_again(dirs, opened):
    root, archive = dirs
    _land(root, "plays", "plays-1.csv", PLAYS)
    first = ingest_landing(root, archive, empty_registry(), now=NOW)
    opened.clear()
    _land(root, "plays", "plays-1-resent.csv", PLAYS)

    second = ingest_landing(root, archive, first.registry, now=LATER)

    assert second.repeated == ["plays/plays-1-resent.csv", "plays/plays-1.csv"]
    assert opened == [], "a file whose content is registered was copied or read again"
