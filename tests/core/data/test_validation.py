import pandas as pd
import pytest

from musicrec_core.data import DERIVED_SOURCE, reconcile, validate_catalogue
from musicrec_core.data import schema as s
from tests.conftest import raw_frame


def _catalogue(users, tracks, plays) -> s.RawTables:
    return s.RawTables(
        users=raw_frame("users", users) if users is not None else s.empty_raw_frame("users"),
        tracks=raw_frame("tracks", tracks) if tracks is not None else s.empty_raw_frame("tracks"),
        plays=raw_frame("plays", plays),
    )


GOOD_TRACK = {
    "track_id": "t1",
    "track_name": "Song",
    "artist_name": "Band",
    "genre": "Rock",
    "release_date": "2001-05-02",
    "duration": "3.5",
    "energy": "0.7",
    "loudness": "-6",
    "tempo": "120",
    "time_signature": "4.0",
    "explicit": "True",
}


def test_good_rows_pass_the_validated_schemas():
    result = validate_catalogue(
        _catalogue(
            [{"user_id": "u1", "age": "25", "gender": "female"}],
            [GOOD_TRACK],
            [{"user_id": "u1", "track_id": "t1", "plays": "3", "played_at": "2024-01-02 10:00:00"}],
        )
    )
    for table in ("users", "tracks", "plays"):
        s.VALIDATED_SCHEMAS[table].validate(getattr(result, table))
    assert result.users.loc[0, s.GENDER] == "F"
    assert result.tracks.loc[0, s.RELEASE_YEAR] == 2001
    assert result.tracks.loc[0, s.EXPLICIT] == 1
    assert result.tracks.loc[0, s.TIME_SIGNATURE] == 4
    assert result.quarantine.empty


@pytest.mark.parametrize(
    ("plays_value", "reason_part"),
    [
        (None, "missing"),
        ("abc", "not a number"),
        ("-2", "below"),
        ("2.5", "whole"),
        ("1e12", "above"),
    ],
)
def test_unusable_play_counts_are_rejected_with_file_row_and_column(plays_value, reason_part):
    result = validate_catalogue(
        _catalogue(
            None,
            None,
            [
                {"user_id": "u1", "track_id": "t1", "plays": "1"},
                {"user_id": "u1", "track_id": "t2", "plays": plays_value},
            ],
        )
    )
    assert len(result.plays) == 1
    rejected = result.quarantine[result.quarantine[s.QUARANTINE_ACTION] == s.ACTION_REJECTED]
    assert len(rejected) == 1
    row = rejected.iloc[0]
    assert (row[s.SOURCE_FILE], row[s.SOURCE_ROW], row[s.QUARANTINE_COLUMN]) == (
        "test.csv",
        2,
        "plays",
    )
    assert reason_part in row[s.QUARANTINE_REASON]


def test_rows_without_ids_are_rejected():
    result = validate_catalogue(
        _catalogue(None, None, [{"user_id": None, "track_id": "t1", "plays": "1"}])
    )
    assert result.plays.empty
    assert result.quarantine.iloc[0][s.QUARANTINE_COLUMN] == "user_id"


def test_invalid_optional_values_are_imputed_flagged_and_logged():
    track = {**GOOD_TRACK, "energy": "1.7", "tempo": "fast", "release_date": "someday"}
    track2 = {**GOOD_TRACK, "track_id": "t2", "energy": "0.5"}
    result = validate_catalogue(
        _catalogue(
            [{"user_id": "u1", "age": "250", "gender": "robot"}],
            [track, track2],
            [{"user_id": "u1", "track_id": "t1", "plays": "1"}],
        )
    )
    tracks = result.tracks.set_index(s.TRACK_ID)
    assert tracks.loc["t1", s.ENERGY] == 0.5  # median of the valid values
    assert set(tracks.loc["t1", s.IMPUTED_COLUMNS].split(",")) >= {
        "energy",
        "tempo",
        "release_date",
    }
    t2_imputed = set(tracks.loc["t2", s.IMPUTED_COLUMNS].split(","))
    assert not t2_imputed & {"energy", "tempo", "release_date", "duration", "genre"}
    user = result.users.iloc[0]
    assert user[s.GENDER] == s.GENDER_UNKNOWN and s.AGE in user[s.IMPUTED_COLUMNS]
    imputed = result.quarantine[result.quarantine[s.QUARANTINE_ACTION] == s.ACTION_IMPUTED]
    assert set(imputed[s.QUARANTINE_COLUMN]) == {"energy", "tempo", "release_date", "age", "gender"}
    assert set(imputed[s.QUARANTINE_VALUE]) == {"1.7", "fast", "someday", "250", "robot"}


def test_duplicates_and_unknown_references_are_rejected_and_counts_reconcile():
    users = [
        {"user_id": "u1", "age": "30", "gender": "M"},
        {"user_id": "u1", "age": "31", "gender": "M"},
    ]
    plays = [
        {"user_id": "u1", "track_id": "t1", "plays": "2", "played_at": "2024-01-01T00:00:00"},
        {"user_id": "u1", "track_id": "t1", "plays": "2", "played_at": "2024-01-01T00:00:00"},
        {"user_id": "u9", "track_id": "t1", "plays": "2"},
        {"user_id": "u1", "track_id": "t9", "plays": "2"},
    ]
    raw = _catalogue(users, [GOOD_TRACK], plays)
    result = validate_catalogue(raw)
    assert len(result.users) == 1 and len(result.plays) == 1
    reasons = " | ".join(result.quarantine[s.QUARANTINE_REASON])
    assert "duplicate" in reasons
    assert "not in the users table" in reasons and "not in the tracks table" in reasons
    for table in ("users", "tracks", "plays"):
        counts = reconcile(
            len(getattr(raw, table)), getattr(result, table), result.quarantine, table
        )
        assert counts["balanced"], counts


def test_plays_only_catalogue_derives_users_and_tracks_with_imputed_fields():
    result = validate_catalogue(
        _catalogue(None, None, [{"user_id": "u1", "track_id": "t1", "plays": "1"}])
    )
    assert result.derived == {"users": 1, "tracks": 1}
    assert (result.users[s.SOURCE_FILE] == DERIVED_SOURCE).all()
    s.VALIDATED_TRACKS.validate(result.tracks)
    assert s.GENRE in result.tracks.loc[0, s.IMPUTED_COLUMNS]


def test_schema_rejects_bad_validated_rows():
    good = validate_catalogue(
        _catalogue(
            [{"user_id": "u1", "age": "25", "gender": "F"}],
            [GOOD_TRACK],
            [{"user_id": "u1", "track_id": "t1", "plays": "1"}],
        )
    )
    bad_users = good.users.assign(**{s.GENDER: "Q", s.AGE: 400})
    with pytest.raises(Exception, match=r"gender|age"):
        s.VALIDATED_USERS.validate(bad_users, lazy=True)
    bad_tracks = pd.concat([good.tracks, good.tracks])  # duplicated track_id
    with pytest.raises(Exception, match="track_id"):
        s.VALIDATED_TRACKS.validate(bad_tracks, lazy=True)
    bad_plays = good.plays.assign(**{s.PLAYS: 0})
    with pytest.raises(Exception, match="plays"):
        s.VALIDATED_PLAYS.validate(bad_plays, lazy=True)


def test_invalid_utf8_text_is_rejected():
    result = validate_catalogue(
        _catalogue(None, None, [{"user_id": "u\ufffd1", "track_id": "t1", "plays": "1"}])
    )
    assert result.plays.empty
    assert "UTF-8" in result.quarantine.iloc[0][s.QUARANTINE_REASON]
