"""Landing folders: only complete files directly inside them are read, each content is
registered once by its SHA-256 with a delivery number and appended to the raw tables without
reading anything already there, unreadable files are registered as rejected, and a rebuild of
the raw tables reads the source and then every archived delivery again."""

import gzip
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from musicrec_core.data import (
    ingest_landing,
    is_pending,
    landing,
    refresh_raw,
    registry_frame,
    scan_landing,
    warehouse,
)
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig, SourceError

PLAYS = "user_id,track_id,plays,played_at\nu1,t1,3,2024-01-01 10:00:00\nu2,t2,1,\n"
USERS = "user_id,age,gender\nu1,30,F\nu2,41,M\n"
_ROWS = "".join(f"u{i},t{i * 7},{i}\n" for i in range(50_000))
_GZIPPED = gzip.compress(f"user_id,track_id,plays\n{_ROWS}".encode())
TRUNCATED_GZIP = _GZIPPED[: len(_GZIPPED) // 2]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _land(root: Path, table: str, name: str, content: str | bytes) -> Path:
    path = root / table / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _sha(content: str | bytes) -> str:
    return hashlib.sha256(content.encode() if isinstance(content, str) else content).hexdigest()


@pytest.fixture
def dirs(tmp_path):
    return tmp_path / "landing", tmp_path / "archive"


@pytest.fixture
def con(tmp_path):
    """A warehouse whose raw tables hold a one-play base source (delivery 0)."""
    base = tmp_path / "base"
    _land(base, "plays", "base.csv", "user_id,track_id,plays\nu0,t1,5\n")
    with warehouse.connect(tmp_path / "warehouse.duckdb") as connection:
        refresh_raw(connection, SourceConfig(kind="files", path=str(base)), tmp_path / "archive")
        yield connection


@pytest.fixture
def opened(monkeypatch):
    """Every path the landing module archives (copies) or reads, in order."""
    seen: list[Path] = []
    archive, table_file = landing._archive, landing.TableFile

    def spy_archive(path, archive_dir):
        seen.append(Path(path))
        return archive(path, archive_dir)

    def spy_read(path, *args, **kwargs):
        seen.append(Path(path))
        return table_file(path, *args, **kwargs)

    monkeypatch.setattr(landing, "_archive", spy_archive)
    monkeypatch.setattr(landing, "TableFile", spy_read)
    return seen


def _raw(con, table: str) -> pd.DataFrame:
    return warehouse.table_frame(con, s.RAW_TABLES[table], order_by="rowid")


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


def test_scan_reads_only_complete_supported_files_directly_in_the_folders(con, dirs, opened):
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
    result = ingest_landing(con, root, archive, now=NOW)
    assert sorted(result.added[s.LANDED_PATH]) == ["plays/good.csv", "users/users.csv"]
    assert {p.name for p in opened} == {
        "good.csv",
        "users.csv",
        f"{_sha(PLAYS)}.csv",
        f"{_sha(USERS)}.csv",
    }
    assert not any(outside.name in p.name or p.is_symlink() for p in opened)
    assert f"{_sha(PLAYS.replace('u1', 'zz'))}.csv" not in os.listdir(archive)


def test_new_files_are_archived_registered_and_appended_as_deliveries(con, dirs):
    root, archive = dirs
    _land(root, "plays", "plays-1.csv", PLAYS)
    _land(root, "users", "users-1.csv", USERS)

    result = ingest_landing(con, root, archive, now=NOW)

    registry = registry_frame(con)
    assert list(registry.columns) == s.LANDING_REGISTRY_COLUMNS
    pd.testing.assert_frame_equal(registry, result.added, check_dtype=False)
    by_path = registry.set_index(s.LANDED_PATH)
    assert by_path[s.DELIVERY].to_dict() == {"users/users-1.csv": 1, "plays/plays-1.csv": 2}
    assert by_path.loc["plays/plays-1.csv", s.SHA256] == _sha(PLAYS)
    assert by_path[s.QUARANTINE_TABLE].to_dict() == {
        "users/users-1.csv": "users",
        "plays/plays-1.csv": "plays",
    }
    assert by_path[s.ROWS].tolist() == [2, 2]
    assert by_path[s.STATUS].tolist() == [s.STATUS_INGESTED] * 2
    assert by_path[s.QUARANTINE_REASON].tolist() == ["", ""]
    assert by_path[s.INGESTED_AT].tolist() == [NOW.isoformat(timespec="seconds")] * 2
    assert by_path.loc["plays/plays-1.csv", s.SIZE_BYTES] == len(PLAYS)
    assert sorted(os.listdir(archive)) == sorted([f"{_sha(PLAYS)}.csv", f"{_sha(USERS)}.csv"])
    assert (archive / f"{_sha(PLAYS)}.csv").read_text() == PLAYS
    plays = _raw(con, "plays")
    assert plays[[s.USER_ID, s.PLAYS, s.SOURCE_ROW, s.DELIVERY]].values.tolist() == [
        ["u0", "5", 1, 0],
        ["u1", "3", 1, 2],
        ["u2", "1", 2, 2],
    ]
    assert plays[s.SOURCE_FILE].tolist()[1:] == ["plays/plays-1.csv"] * 2
    assert _raw(con, "users")[s.DELIVERY].tolist() == [1, 1]
    assert result.repeated == []
    assert result.summary().startswith("2 new file(s) ingested, 0 rejected")


def test_the_same_bytes_under_another_name_are_a_no_op(con, dirs):
    root, archive = dirs
    _land(root, "plays", "plays-1.csv", PLAYS)
    ingest_landing(con, root, archive, now=NOW)
    before = (registry_frame(con), _raw(con, "plays"))
    _land(root, "plays", "plays-1-again.csv", PLAYS)

    second = ingest_landing(con, root, archive, now=LATER)

    assert second.added.empty
    assert second.repeated == ["plays/plays-1-again.csv", "plays/plays-1.csv"]
    pd.testing.assert_frame_equal(registry_frame(con), before[0])
    pd.testing.assert_frame_equal(_raw(con, "plays"), before[1])
    assert os.listdir(archive) == [f"{_sha(PLAYS)}.csv"]


def test_a_corrected_file_under_a_new_name_is_a_new_delivery(con, dirs):
    root, archive = dirs
    broken = PLAYS + "u3,t3,abc,\n"
    corrected = PLAYS + "u3,t3,4,\n"
    _land(root, "plays", "plays-1.csv", broken)
    ingest_landing(con, root, archive, now=NOW)
    _land(root, "plays", "plays-1-fixed.csv", corrected)

    second = ingest_landing(con, root, archive, now=LATER)

    assert second.added[s.LANDED_PATH].tolist() == ["plays/plays-1-fixed.csv"]
    assert second.added[[s.SHA256, s.STATUS, s.ROWS, s.DELIVERY]].values.tolist() == [
        [_sha(corrected), s.STATUS_INGESTED, 3, 2]
    ]
    assert second.repeated == ["plays/plays-1.csv"]
    assert len(registry_frame(con)) == 2


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", b"", r"empty \(0 bytes\)"),
        ("bad.csv", b"\n\n", "header line is empty"),
        ("bad.csv", b"user_id,plays\nu1,3\n", r"missing required column\(s\) track_id"),
        ("bad.csv.gz", TRUNCATED_GZIP, "damaged and cannot be read"),
    ],
    ids=["zero_bytes", "blank_header", "missing_column", "truncated_gzip"],
)
def test_an_unreadable_file_is_registered_rejected_and_not_retried(
    con, dirs, monkeypatch, name, content, message
):
    root, archive = dirs
    _land(root, "plays", "good.csv", PLAYS)
    _land(root, "plays", name, content)

    first = ingest_landing(con, root, archive, now=NOW)

    bad = first.added.set_index(s.LANDED_PATH).loc[f"plays/{name}"]
    assert bad[s.STATUS] == s.STATUS_REJECTED
    assert bad[s.ROWS] == 0
    assert bad[s.SHA256] == _sha(content)
    assert bad[s.QUARANTINE_REASON].startswith(f"plays/{name}: ")
    assert "\n" not in bad[s.QUARANTINE_REASON]
    assert pd.Series([bad[s.QUARANTINE_REASON]]).str.contains(message).all()
    assert first.summary().startswith("1 new file(s) ingested, 1 rejected")
    assert set(_raw(con, "plays")[s.SOURCE_FILE]) == {str(con_base(con)), "plays/good.csv"}

    def must_not_read(*args, **kwargs):
        raise AssertionError(f"read again: {args}")

    monkeypatch.setattr(landing, "TableFile", must_not_read)
    second = ingest_landing(con, root, archive, now=LATER)
    assert second.added.empty
    assert sorted(second.repeated) == sorted([f"plays/{name}", "plays/good.csv"])


def con_base(con) -> str:
    """The source file of the base delivery."""
    return con.execute(
        f"SELECT DISTINCT {s.SOURCE_FILE} FROM {s.RAW_TABLES['plays']} WHERE {s.DELIVERY} = 0"
    ).fetchone()[0]


def test_a_header_only_file_is_a_delivery_with_no_rows(con, dirs):
    root, archive = dirs
    _land(root, "plays", "empty-week.csv", "user_id,track_id,plays\n")

    result = ingest_landing(con, root, archive, now=NOW)

    assert result.added[[s.STATUS, s.ROWS]].values.tolist() == [[s.STATUS_INGESTED, 0]]
    assert _raw(con, "plays")[s.DELIVERY].tolist() == [0]


def test_a_rebuild_reads_the_source_and_every_archived_delivery_again(con, dirs, tmp_path):
    root, archive = dirs
    _land(root, "plays", "plays-a.csv", PLAYS)
    _land(root, "users", "users-a.csv", USERS)
    _land(root, "plays", "plays-b.csv", "user_id,track_id,plays\nu1,t2,7\n")
    ingest_landing(con, root, archive, now=NOW)
    before = _raw(con, "plays")

    rebuilt = refresh_raw(
        con, SourceConfig(kind="files", path=str(tmp_path / "base")), archive, full_refresh=True
    )

    assert rebuilt.rebuilt and rebuilt.generation == 2
    pd.testing.assert_frame_equal(_raw(con, "plays"), before)
    assert before[[s.USER_ID, s.TRACK_ID, s.PLAYS, s.SOURCE_FILE, s.DELIVERY]].values.tolist() == [
        ["u0", "t1", "5", con_base(con), 0],
        ["u1", "t1", "3", "plays/plays-a.csv", 2],
        ["u2", "t2", "1", "plays/plays-a.csv", 2],
        ["u1", "t2", "7", "plays/plays-b.csv", 3],
    ]
    assert before[s.PLAYED_AT].tolist() == [None, "2024-01-01 10:00:00", None, None]
    assert list(before.columns) == [*s.RAW_COLUMNS["plays"], s.DELIVERY]


def test_an_unchanged_source_is_not_read_again(con, tmp_path, monkeypatch):
    source = SourceConfig(kind="files", path=str(tmp_path / "base"))

    def must_not_read(*args, **kwargs):
        raise AssertionError("the unchanged source was read again")

    monkeypatch.setattr("musicrec_core.data.raw.source_batches", must_not_read)
    result = refresh_raw(con, source, tmp_path / "archive")
    assert not result.rebuilt and result.generation == 1


def test_a_missing_archived_copy_fails_the_rebuild_naming_the_file(con, dirs, tmp_path):
    root, archive = dirs
    _land(root, "plays", "plays-1.csv", PLAYS)
    ingest_landing(con, root, archive, now=NOW)
    (archive / f"{_sha(PLAYS)}.csv").unlink()

    with pytest.raises(SourceError, match=r"plays/plays-1\.csv: its archived copy .* is missing"):
        refresh_raw(
            con, SourceConfig(kind="files", path=str(tmp_path / "base")), archive, full_refresh=True
        )


def test_registered_content_is_not_copied_again(con, dirs, opened):
    root, archive = dirs
    _land(root, "plays", "plays-1.csv", PLAYS)
    ingest_landing(con, root, archive, now=NOW)
    opened.clear()
    _land(root, "plays", "plays-1-resent.csv", PLAYS)

    second = ingest_landing(con, root, archive, now=LATER)

    assert second.repeated == ["plays/plays-1-resent.csv", "plays/plays-1.csv"]
    assert opened == [], "a file whose content is registered was copied or read again"


def test_a_registry_from_before_delivery_numbers_gets_them_in_its_order(con, dirs):
    root, archive = dirs
    old_columns = [c for c in s.LANDING_REGISTRY_COLUMNS if c != s.DELIVERY]
    con.execute(
        f"CREATE TABLE {s.REGISTRY_TABLE} AS SELECT * FROM (VALUES "
        "('aa', 'plays', 'plays/a.csv', 'aa.csv', 10, 1, 'ingested', '', '2026-01-01'), "
        "('bb', 'plays', 'plays/b.csv', 'bb.csv', 12, 0, 'rejected', 'bad', '2026-01-02')) "
        f"AS t({', '.join(old_columns)})"
    )
    _land(root, "plays", "c.csv", PLAYS)

    added = ingest_landing(con, root, archive, now=NOW).added

    assert added[s.DELIVERY].tolist() == [3]
    registry = registry_frame(con)
    assert list(registry.columns) == s.LANDING_REGISTRY_COLUMNS
    assert registry[[s.DELIVERY, s.LANDED_PATH]].values.tolist() == [
        [1, "plays/a.csv"],
        [2, "plays/b.csv"],
        [3, "plays/c.csv"],
    ]
