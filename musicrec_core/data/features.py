"""Temporal features as pure pandas functions, for the preprocessor and the models.

Each function leaves its input untouched and returns a new Series or DataFrame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from musicrec_core.data import schema

# "YYYY", "YYYY-MM" or "YYYY-MM-DD" (surrounding spaces allowed); group 1 is the year.
_RELEASE_DATE_PATTERN = r"^\s*(\d{4})(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?\s*$"


def parse_release_year(release_date: pd.Series) -> pd.Series:
    """Year of each release date ("YYYY-MM-DD", "YYYY-MM" or "YYYY") as Int64.

    Anything else, or a year outside ``schema.YEAR_RANGE``, is <NA>. The regex runs once per
    distinct value, so millions of rows with repeated dates parse in well under a second.
    """
    codes, uniques = pd.factorize(release_date, use_na_sentinel=True)
    years = (
        pd.Series(uniques, dtype=object)
        .astype("string")
        .str.extract(_RELEASE_DATE_PATTERN, expand=False)
    )
    years = pd.to_numeric(years).astype("Int64")
    low, high = schema.YEAR_RANGE
    years = years.where(years.between(low, high))
    parsed = years.array.take(codes, allow_fill=True)
    return pd.Series(parsed, index=release_date.index, name=schema.RELEASE_YEAR, dtype="Int64")


def age_group(age: pd.Series) -> pd.Series:
    """Generation label of each age (``schema.AGE_GROUPS``, upper bound inclusive).

    Missing ages, and ages above the last bound, get ``schema.AGE_GROUP_UNKNOWN``.
    """
    uppers = np.array([float(upper) for upper, _ in schema.AGE_GROUPS])
    labels = np.array([*(label for _, label in schema.AGE_GROUPS), schema.AGE_GROUP_UNKNOWN])
    numeric = pd.to_numeric(age, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    # The first group whose upper bound the age does not exceed; missing, infinite or above
    # every bound: the last label, unknown.
    group = np.where(np.isfinite(numeric), np.searchsorted(uppers, numeric), len(uppers))
    return pd.Series(labels[group].astype(object), index=age.index, name=schema.AGE_GROUP)


def music_age(release_year: pd.Series, reference_year: int) -> pd.Series:
    """Years between release and ``reference_year`` (nullable Int64; <NA> where the year is)."""
    return (reference_year - release_year.astype("Int64")).rename(schema.MUSIC_AGE)


def plays_log(plays: pd.Series) -> pd.Series:
    """``log1p`` of play counts, to tame their heavy right tail."""
    return np.log1p(pd.to_numeric(plays).astype(float)).rename(schema.PLAYS_LOG)


def add_track_features(tracks: pd.DataFrame, reference_year: int) -> pd.DataFrame:
    """Tracks plus release year (when absent), music age, energy×loudness and dance×valence.

    Each feature is added only when its inputs are present, so partial frames are fine.
    """
    out = tracks.copy()
    if schema.RELEASE_YEAR not in out and schema.RELEASE_DATE in out:
        out[schema.RELEASE_YEAR] = parse_release_year(out[schema.RELEASE_DATE])
    if schema.RELEASE_YEAR in out:
        out[schema.MUSIC_AGE] = music_age(out[schema.RELEASE_YEAR], reference_year)
    if schema.ENERGY in out and schema.LOUDNESS in out:
        out[schema.ENERGY_LOUDNESS] = out[schema.ENERGY] * out[schema.LOUDNESS]
    if schema.DANCEABILITY in out and schema.VALENCE in out:
        out[schema.DANCE_VALENCE] = out[schema.DANCEABILITY] * out[schema.VALENCE]
    return out


def add_user_features(users: pd.DataFrame) -> pd.DataFrame:
    """Users plus their age group (recomputed from ``age`` when that column is present)."""
    out = users.copy()
    if schema.AGE in out:
        out[schema.AGE_GROUP] = age_group(out[schema.AGE])
    return out
