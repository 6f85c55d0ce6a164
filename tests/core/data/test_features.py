"""Temporal and interaction features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from musicrec_core.data import features
from musicrec_core.data import schema as s


def test_parse_release_year_accepts_three_forms_and_rejects_garbage():
    dates = pd.Series(
        ["2017-09-23", "2013-04", " 1999 ", "1800", "2101-01-01", "2017-13-01", "abc", "", None],
        index=range(10, 19),
    )
    years = features.parse_release_year(dates)
    assert str(years.dtype) == "Int64"
    assert years.index.equals(dates.index)
    assert years.iloc[:3].tolist() == [2017, 2013, 1999]
    assert years.iloc[3:].isna().all()


def test_parse_release_year_repeated_values_map_back_to_rows():
    dates = pd.Series(["2001", "bad", "2001-02-03", None, "2001"] * 3)
    expected = [2001, pd.NA, 2001, pd.NA, 2001] * 3
    assert features.parse_release_year(dates).tolist() == expected


@pytest.mark.parametrize(
    ("age", "label"),
    [
        (5, "Gen Z"),
        (26, "Gen Z"),
        (27, "Millennials"),
        (42, "Millennials"),
        (43, "Gen X"),
        (58, "Gen X"),
        (59, "Baby Boomers"),
        (77, "Baby Boomers"),
        (78, "Silent Generation"),
        (110, "Silent Generation"),
    ],
)
def test_age_group_upper_bound_inclusive(age, label):
    assert features.age_group(pd.Series([age])).tolist() == [label]


def test_age_group_missing_is_unknown():
    groups = features.age_group(pd.Series([np.nan, 30.0]))
    assert groups.tolist() == [s.AGE_GROUP_UNKNOWN, "Millennials"]
    assert groups.name == s.AGE_GROUP


def test_add_track_features():
    tracks = pd.DataFrame(
        {
            s.RELEASE_DATE: ["2000-05-01", "nope"],
            s.ENERGY: [0.5, 1.0],
            s.LOUDNESS: [-10.0, -2.0],
            s.DANCEABILITY: [0.2, 0.4],
            s.VALENCE: [0.5, 0.25],
        }
    )
    out = features.add_track_features(tracks, reference_year=2020)
    assert out[s.RELEASE_YEAR].tolist() == [2000, pd.NA]
    assert out[s.MUSIC_AGE].tolist() == [20, pd.NA]
    assert out[s.ENERGY_LOUDNESS].tolist() == [-5.0, -2.0]
    assert out[s.DANCE_VALENCE].tolist() == [0.1, 0.1]
    assert s.RELEASE_YEAR not in tracks  # input untouched


def test_add_track_features_keeps_existing_release_year():
    tracks = pd.DataFrame({s.RELEASE_DATE: ["garbage"], s.RELEASE_YEAR: [1990]})
    out = features.add_track_features(tracks, reference_year=2000)
    assert out[s.RELEASE_YEAR].tolist() == [1990]
    assert out[s.MUSIC_AGE].tolist() == [10]


def test_add_user_features_and_plays_log():
    users = features.add_user_features(pd.DataFrame({s.AGE: [20, 60]}))
    assert users[s.AGE_GROUP].tolist() == ["Gen Z", "Baby Boomers"]
    np.testing.assert_allclose(features.plays_log(pd.Series([0, 9])), [0.0, np.log(10)])
