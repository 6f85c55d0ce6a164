"""Generated deliveries: new users and tracks with fresh ids, plays of known tracks only, the
same frames for the same seed, files written by write-then-rename and accepted by validation."""

import os
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from musicrec_core.data import (
    Delivery,
    deliveries,
    ingest_landing,
    plays_delivery,
    raw_generation,
    run_data_path,
    scan_landing,
    tracks_delivery,
    validate_catalogue,
    validate_pending,
    warehouse,
)
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.data.sources.synthetic import GENRE_NAMES, SyntheticConfig, generate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STAMP = "20260301T120000000000"


@pytest.fixture(scope="module")
def catalogue():
    """The tiny synthetic catalogue: raw tables and their validated users and tracks."""
    raw = generate(SyntheticConfig.preset("tiny")).raw
    return raw, validate_catalogue(raw)


def _plays(catalogue, seed=7, now=NOW, **kwargs) -> Delivery:
    _, valid = catalogue
    return plays_delivery(
        valid.users[s.USER_ID], valid.tracks[[s.TRACK_ID, s.GENRE]], seed=seed, now=now, **kwargs
    )


def test_plays_delivery_brings_new_users_with_demographics(catalogue):
    _, valid = catalogue

    delivery = _plays(catalogue, new_users=5, existing_listeners=10)

    users = delivery.frames["users"]
    assert list(users.columns) == s.USER_COLUMNS
    assert users[s.USER_ID].tolist() == [f"u-{STAMP}-{i:04d}" for i in range(5)]
    assert not users[s.USER_ID].isin(valid.users[s.USER_ID]).any()
    assert users[s.AGE].astype(int).between(*s.AGE_RANGE).all()
    assert users[s.GENDER].isin(s.GENDER_VALUES).all()
    assert delivery.stamp == STAMP


def test_plays_delivery_plays_only_known_tracks_by_known_or_new_users(catalogue):
    _, valid = catalogue

    delivery = _plays(catalogue, new_users=5, existing_listeners=10)

    plays = delivery.frames["plays"]
    new = set(delivery.frames["users"][s.USER_ID])
    known = set(valid.users[s.USER_ID])
    assert list(plays.columns) == s.PLAY_COLUMNS
    assert plays[s.TRACK_ID].isin(valid.tracks[s.TRACK_ID]).all()
    assert set(plays[s.USER_ID]) <= new | known
    assert new <= set(plays[s.USER_ID]), "every new user should have plays"
    assert 1 <= len(set(plays[s.USER_ID]) & known) <= 10
    assert (plays[s.PLAYS].astype(int) >= 1).all()
    assert not plays.duplicated([s.USER_ID, s.TRACK_ID]).any()
    played_at = pd.to_datetime(plays[s.PLAYED_AT])
    assert played_at.min() >= pd.Timestamp(NOW.date() - timedelta(days=7))
    assert played_at.max() < pd.Timestamp(NOW.date())


def test_plays_delivery_maps_generated_tracks_to_known_tracks_of_their_genre(catalogue):
    _, valid = catalogue
    one_per_genre = pd.DataFrame(
        {s.TRACK_ID: [f"k-{g}" for g in GENRE_NAMES], s.GENRE: GENRE_NAMES}
    )
    filler = pd.DataFrame({s.TRACK_ID: [f"f-{i}" for i in range(500)], s.GENRE: "Spoken Word"})

    delivery = plays_delivery(
        valid.users[s.USER_ID], pd.concat([one_per_genre, filler]), seed=5, now=NOW
    )

    played = delivery.frames["plays"][s.TRACK_ID]
    assert played.isin(one_per_genre[s.TRACK_ID]).all(), "a play of a genre never generated"
    assert played.nunique() > 5


def test_plays_delivery_is_deterministic_for_a_seed_and_time(catalogue):
    first = _plays(catalogue, seed=11)
    again = _plays(catalogue, seed=11)
    other = _plays(catalogue, seed=12)

    for table in ("users", "plays"):
        pd.testing.assert_frame_equal(first.frames[table], again.frames[table])
    assert not first.frames["plays"].equals(other.frames["plays"])


def test_plays_delivery_with_only_existing_listeners_adds_no_users(catalogue):
    _, valid = catalogue

    delivery = _plays(catalogue, new_users=0, existing_listeners=3)

    assert delivery.frames["users"].empty
    assert delivery.frames["plays"][s.USER_ID].nunique() == 3
    assert delivery.frames["plays"][s.USER_ID].isin(valid.users[s.USER_ID]).all()


def test_tracks_delivery_brings_new_tracks_with_genre_and_audio_features(catalogue):
    _, valid = catalogue

    delivery = tracks_delivery(8, seed=3, now=NOW)

    tracks = delivery.frames["tracks"]
    assert list(delivery.frames) == ["tracks"]
    assert list(tracks.columns) == s.TRACK_COLUMNS
    assert len(tracks) == 8 and tracks[s.TRACK_ID].is_unique
    assert tracks[s.TRACK_ID].str.startswith(f"t-{STAMP}-").all()
    assert not tracks[s.TRACK_ID].isin(valid.tracks[s.TRACK_ID]).any()
    assert tracks[s.GENRE].notna().all() and (tracks[s.GENRE] != "").all()
    for col, (low, high) in s.AUDIO_RANGES.items():
        assert tracks[col].astype(float).between(low, high).all(), col
    pd.testing.assert_frame_equal(tracks, tracks_delivery(8, seed=3, now=NOW).frames["tracks"])


def test_deliveries_pass_validation_with_the_base_tables(catalogue, tmp_path):
    _, valid = catalogue
    landing_root, archive = tmp_path / "landing", tmp_path / "archive"
    with warehouse.connect(tmp_path / "warehouse.duckdb") as con:
        run_data_path(con, SourceConfig(size="tiny"), archive)
        _plays(catalogue, new_users=5, existing_listeners=10).write(landing_root)
        tracks_delivery(8, seed=3, now=NOW + timedelta(seconds=1)).write(landing_root)
        registry = ingest_landing(con, landing_root, archive, now=NOW).added
        assert (registry[s.STATUS] == s.STATUS_INGESTED).all() and len(registry) == 3

        validate_pending(con, raw_generation(con))

        tables = {t: warehouse.table_frame(con, s.VALIDATED_TABLES[t]) for t in s.TABLES}
        quarantine = warehouse.table_frame(con, s.QUARANTINE_TABLE_NAME)
    delivered = set(registry[s.LANDED_PATH])
    assert quarantine[quarantine[s.SOURCE_FILE].isin(delivered)].empty
    for table in s.TABLES:
        landed = registry.loc[registry[s.QUARANTINE_TABLE] == table, s.ROWS].sum()
        accepted = tables[table][s.SOURCE_FILE].isin(delivered).sum()
        assert accepted == landed > 0, table
    assert len(tables["users"]) == len(valid.users) + 5
    assert len(tables["tracks"]) == len(valid.tracks) + 8


def test_write_lands_complete_files_under_the_table_folders(catalogue, tmp_path):
    delivery = _plays(catalogue)

    written = delivery.write(tmp_path)

    assert written == [
        tmp_path / "users" / f"users-{STAMP}.csv",
        tmp_path / "plays" / f"plays-{STAMP}.csv",
    ]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")) == [
        f"plays/plays-{STAMP}.csv",
        f"users/users-{STAMP}.csv",
    ]
    back = pd.read_csv(written[1], dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, delivery.frames["plays"].reset_index(drop=True))


def test_an_interrupted_write_leaves_only_a_pending_file(catalogue, tmp_path, monkeypatch):
    def crash(*args):
        raise OSError("killed before the rename")

    monkeypatch.setattr(deliveries.os, "replace", crash)
    with pytest.raises(OSError, match="before the rename"):
        _plays(catalogue).write(tmp_path)
    monkeypatch.setattr(deliveries.os, "replace", os.replace)

    assert [p.name for p in (tmp_path / "users").iterdir()] == [f".users-{STAMP}.csv.part"]
    assert scan_landing(tmp_path) == []


def test_a_plays_delivery_needs_tracks_and_listeners(catalogue):
    _, valid = catalogue
    no_tracks = valid.tracks[[s.TRACK_ID, s.GENRE]].head(0)
    with pytest.raises(ValueError, match="needs known tracks"):
        plays_delivery(valid.users[s.USER_ID], no_tracks, seed=1, now=NOW)
    with pytest.raises(ValueError, match="at least one new user or existing listener"):
        _plays(catalogue, new_users=0, existing_listeners=0)
    with pytest.raises(ValueError, match="at least one new user or existing listener"):
        plays_delivery(
            pd.Series([], dtype=object), valid.tracks, new_users=0, existing_listeners=5, now=NOW
        )
    with pytest.raises(ValueError, match="at least one track"):
        tracks_delivery(0, seed=1, now=NOW)
