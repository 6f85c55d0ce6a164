"""Tests for the synthetic catalogue generator: format, determinism, dirt and realism."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from musicrec_core.data import schema
from musicrec_core.data.sources.synthetic import (
    GroundTruth,
    SyntheticCatalogue,
    SyntheticConfig,
    generate,
)

TABLES = ("users", "tracks", "plays")
DATE_FORMS = {
    "YYYY-MM-DD": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "YYYY": re.compile(r"^\d{4}$"),
    "YYYY-MM": re.compile(r"^\d{4}-\d{2}$"),
}
PLAYED_AT_FORMAT = "%Y-%m-%d %H:%M:%S"


@pytest.fixture(scope="module")
def demo() -> SyntheticCatalogue:
    return generate(SyntheticConfig.preset("demo", dirty_rate=0.0))


@pytest.fixture(scope="module")
def tiny() -> SyntheticCatalogue:
    return generate(SyntheticConfig.preset("tiny"))


def _frame(catalogue: SyntheticCatalogue, table: str) -> pd.DataFrame:
    return getattr(catalogue.raw, table)


def _plays_with_tracks(catalogue: SyntheticCatalogue) -> pd.DataFrame:
    raw = catalogue.raw
    return raw.plays.merge(raw.users, on=schema.USER_ID).merge(raw.tracks, on=schema.TRACK_ID)


def _bad_rows(frame: pd.DataFrame, table: str) -> pd.Series:
    """Rows a validator must flag: missing, unparsable or out-of-range values, exact duplicates."""
    data = frame[schema.TABLE_COLUMNS[table]]
    missing = data.drop(columns=[schema.FEATURED_ARTISTS], errors="ignore")
    bad = (missing.isna() | (missing == "")).any(axis=1)
    bad |= data.duplicated(keep="first")
    for col, (lo, hi) in _numeric_ranges(table).items():
        values = pd.to_numeric(data[col], errors="coerce")
        bad |= data[col].notna() & (data[col] != "") & ~values.between(lo, hi)
    if table == "users":
        bad |= data[schema.GENDER].notna() & ~data[schema.GENDER].isin(schema.GENDER_VALUES)
    if table == "tracks":
        bad |= data[schema.RELEASE_DATE].notna() & _release_years(data).isna()
    if table == "plays":
        stamps = pd.to_datetime(data[schema.PLAYED_AT], format=PLAYED_AT_FORMAT, errors="coerce")
        bad |= data[schema.PLAYED_AT].notna() & stamps.isna()
    return bad


def _numeric_ranges(table: str) -> dict[str, tuple[float, float]]:
    if table == "users":
        return {schema.AGE: schema.AGE_RANGE}
    if table == "plays":
        return {schema.PLAYS: schema.PLAYS_RANGE}
    return {schema.DURATION: schema.DURATION_RANGE, **schema.AUDIO_RANGES, **schema.INTEGER_RANGES}


def _release_years(tracks: pd.DataFrame) -> pd.Series:
    dates = tracks[schema.RELEASE_DATE].fillna("")
    parsed = pd.Series(pd.NaT, index=tracks.index)
    for form, fmt in (("YYYY-MM-DD", "%Y-%m-%d"), ("YYYY", "%Y"), ("YYYY-MM", "%Y-%m")):
        matches = dates.str.match(DATE_FORMS[form])
        parsed[matches] = pd.to_datetime(dates[matches], format=fmt, errors="coerce")
    return parsed.dt.year


# --- format ----------------------------------------------------------------------------------
def test_same_seed_gives_identical_frames() -> None:
    first = generate(SyntheticConfig.preset("tiny", seed=7))
    second = generate(SyntheticConfig.preset("tiny", seed=7))
    for table in TABLES:
        pd.testing.assert_frame_equal(_frame(first, table), _frame(second, table))
    np.testing.assert_array_equal(first.truth.user_factors, second.truth.user_factors)
    assert first.dirty_kinds == second.dirty_kinds


def test_other_seed_gives_other_data(tiny: SyntheticCatalogue) -> None:
    other = generate(SyntheticConfig.preset("tiny", seed=43))
    for table in TABLES:
        assert not _frame(tiny, table).equals(_frame(other, table))


@pytest.mark.parametrize("table", TABLES)
def test_columns_and_provenance_follow_schema(tiny: SyntheticCatalogue, table: str) -> None:
    frame = _frame(tiny, table)
    assert list(frame.columns) == schema.RAW_COLUMNS[table]
    assert (frame[schema.SOURCE_FILE] == f"synthetic:{table}").all()
    assert frame[schema.SOURCE_ROW].dtype == "int64"
    assert frame[schema.SOURCE_ROW].tolist() == list(range(1, len(frame) + 1))
    values = frame[schema.TABLE_COLUMNS[table]].to_numpy().ravel()
    assert all(value is None or isinstance(value, str) for value in values)


def test_demo_preset_sizes() -> None:
    config = SyntheticConfig.preset("demo")
    catalogue = generate(config)
    assert (config.n_users, config.n_tracks) == (2_000, 5_000)
    assert len(catalogue.truth.user_ids) == 2_000
    assert len(catalogue.truth.track_ids) == 5_000
    for table in TABLES:
        clean_rows = len(_frame(catalogue, table)) - catalogue.dirty_kinds[table]["duplicate"]
        assert clean_rows == {"users": 2_000, "tracks": 5_000}.get(table, clean_rows)
    assert len(catalogue.raw.plays) >= 150_000


def test_scaled_keeps_demo_ratios() -> None:
    demo_config = SyntheticConfig.preset("demo")
    scaled = SyntheticConfig.scaled(160_000)
    assert (scaled.n_users, scaled.n_tracks, scaled.n_plays) == (
        demo_config.n_users,
        demo_config.n_tracks,
        demo_config.n_plays,
    )
    big = SyntheticConfig.scaled(10_000_000, seed=3)
    assert (big.n_users, big.n_tracks, big.seed) == (125_000, 312_500, 3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_users": 0, "n_tracks": 100, "n_plays": 100},
        {"n_users": 10, "n_tracks": 5, "n_plays": 100},
        {"n_users": 10, "n_tracks": 100, "n_plays": 5},
        {"n_users": 10, "n_tracks": 100, "n_plays": 100, "dirty_rate": 0.9},
    ],
)
def test_invalid_config_is_refused(kwargs: dict[str, int | float]) -> None:
    with pytest.raises(ValueError):
        SyntheticConfig(**kwargs)


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        SyntheticConfig.preset("huge")


# --- clean values ----------------------------------------------------------------------------
@pytest.mark.parametrize("table", TABLES)
def test_clean_values_parse_and_lie_in_schema_ranges(demo: SyntheticCatalogue, table: str) -> None:
    frame = _frame(demo, table)
    assert not _bad_rows(frame, table).any()
    assert demo.dirty_rows == {"users": 0, "tracks": 0, "plays": 0}


def test_clean_numbers_are_formatted_like_csv_text(demo: SyntheticCatalogue) -> None:
    tracks, plays = demo.raw.tracks, demo.raw.plays
    for col in (*schema.INTEGER_RANGES, schema.PLAYS):
        frame = plays if col == schema.PLAYS else tracks
        assert frame[col].str.fullmatch(r"-?\d+").all(), col
    assert demo.raw.users[schema.AGE].str.fullmatch(r"\d+").all()
    assert tracks[schema.ENERGY].str.fullmatch(r"[01]\.\d{1,4}").all()


def test_identifiers_are_unique_and_plays_reference_them(demo: SyntheticCatalogue) -> None:
    users, tracks, plays = demo.raw.users, demo.raw.tracks, demo.raw.plays
    assert users[schema.USER_ID].is_unique and tracks[schema.TRACK_ID].is_unique
    assert users[schema.USER_ID].str.fullmatch(r"u\d{6}").all()
    assert not plays.duplicated([schema.USER_ID, schema.TRACK_ID]).any()
    assert plays[schema.USER_ID].isin(users[schema.USER_ID]).all()
    assert plays[schema.TRACK_ID].isin(tracks[schema.TRACK_ID]).all()
    assert list(demo.truth.user_ids) == users[schema.USER_ID].tolist()
    assert list(demo.truth.track_ids) == tracks[schema.TRACK_ID].tolist()


def test_played_at_lies_in_configured_range(demo: SyntheticCatalogue) -> None:
    config = SyntheticConfig.preset("demo")
    stamps = pd.to_datetime(demo.raw.plays[schema.PLAYED_AT], format=PLAYED_AT_FORMAT)
    assert stamps.min() >= pd.Timestamp(config.start_date)
    assert stamps.max() < pd.Timestamp(config.end_date) + pd.Timedelta(days=1)
    assert stamps.dt.year.nunique() == 3


def test_every_user_has_several_rows_and_some_have_hundreds(demo: SyntheticCatalogue) -> None:
    rows = demo.raw.plays[schema.USER_ID].value_counts()
    assert len(rows) == 2_000
    assert rows.min() >= 5
    assert rows.max() >= 300


def test_users_are_mostly_young_and_mostly_male_or_female(demo: SyntheticCatalogue) -> None:
    users = demo.raw.users
    age = users[schema.AGE].astype(int)
    assert age.between(13, 80).all()
    assert age.between(16, 30).mean() > 0.35
    assert users[schema.GENDER].isin(["M", "F"]).mean() > 0.9
    assert (users[schema.GENDER] == "X").any()


# --- dirt ------------------------------------------------------------------------------------
def test_dirty_rows_are_injected_at_the_rate_and_all_detectable() -> None:
    config = SyntheticConfig(n_users=400, n_tracks=800, n_plays=12_000, dirty_rate=0.05, seed=5)
    catalogue = generate(config)
    clean_rows = {"users": 400, "tracks": 800, "plays": None}
    for table in TABLES:
        frame = _frame(catalogue, table)
        kinds = catalogue.dirty_kinds[table]
        assert sum(kinds.values()) == catalogue.dirty_rows[table]
        n_clean = clean_rows[table] or len(frame) - kinds["duplicate"]
        assert catalogue.dirty_rows[table] == round(0.05 * n_clean)
        assert _bad_rows(frame, table).sum() == catalogue.dirty_rows[table]
    plays_kinds = catalogue.dirty_kinds["plays"]
    assert all(count > 0 for count in plays_kinds.values()), plays_kinds
    genders = set(catalogue.raw.users[schema.GENDER].dropna()) - {""}
    assert genders - set(schema.GENDER_VALUES), "expected some unknown gender codes"


def test_zero_dirty_rate_gives_a_clean_catalogue() -> None:
    catalogue = generate(SyntheticConfig.preset("tiny", dirty_rate=0.0))
    assert catalogue.dirty_rows == {"users": 0, "tracks": 0, "plays": 0}
    for table in TABLES:
        assert not _bad_rows(_frame(catalogue, table), table).any()


# --- realism ---------------------------------------------------------------------------------
def test_play_counts_are_heavy_tailed(demo: SyntheticCatalogue) -> None:
    plays = demo.raw.plays
    per_track = plays[schema.PLAYS].astype(int).groupby(plays[schema.TRACK_ID]).sum()
    per_track = per_track.sort_values(ascending=False)
    top = per_track.iloc[: len(demo.truth.track_ids) // 10].sum()
    assert top / per_track.sum() > 0.4
    counts = plays[schema.PLAYS].astype(int)
    assert (counts == 1).mean() > 0.05
    assert counts.max() > 20 * counts.median()


def test_featured_artists_are_other_catalogue_artists(demo: SyntheticCatalogue) -> None:
    tracks = demo.raw.tracks
    featured = tracks[schema.FEATURED_ARTISTS]
    assert 0.2 < (featured != "").mean() < 0.4
    names = featured[featured != ""].str.split(", ")
    assert names.str.len().between(1, 3).all()
    assert names.str.len().max() == 3
    artists = set(tracks[schema.ARTIST_NAME])
    assert all(name in artists for group in names for name in group)
    main = tracks.loc[featured != "", schema.ARTIST_NAME]
    assert not any(a in group for a, group in zip(main, names, strict=True))


def test_artists_have_several_tracks_heavy_tailed(demo: SyntheticCatalogue) -> None:
    per_artist = demo.raw.tracks[schema.ARTIST_NAME].value_counts()
    assert 600 < len(per_artist) < 1_000  # about n_tracks / 6
    assert per_artist.max() >= 20


def test_release_dates_come_in_three_forms(demo: SyntheticCatalogue) -> None:
    dates = demo.raw.tracks[schema.RELEASE_DATE]
    shares = {form: dates.str.match(pattern).mean() for form, pattern in DATE_FORMS.items()}
    assert shares["YYYY-MM-DD"] > 0.6
    assert shares["YYYY"] > 0.02 and shares["YYYY-MM"] > 0.02
    years = _release_years(demo.raw.tracks)
    assert years.between(1960, 2025).all()
    assert years.median() > 2000


def test_time_signature_is_mostly_four(demo: SyntheticCatalogue) -> None:
    signatures = demo.raw.tracks[schema.TIME_SIGNATURE]
    assert (signatures == "4").mean() > 0.8
    assert {"3", "4"} <= set(signatures) <= {"0", "1", "3", "4", "5"}


def test_audio_features_depend_on_genre(demo: SyntheticCatalogue) -> None:
    tracks = demo.raw.tracks
    numbers = tracks[[schema.LOUDNESS, schema.EXPLICIT, schema.DURATION]].astype(float)
    by_genre = numbers.groupby(tracks[schema.GENRE]).mean()
    assert by_genre.loc["Metal", schema.LOUDNESS] > by_genre.loc["Classical", schema.LOUDNESS] + 5
    assert by_genre.loc["Hip-Hop", schema.EXPLICIT] > 3 * by_genre.loc["Classical", schema.EXPLICIT]
    assert by_genre.loc["Classical", schema.DURATION] > by_genre.loc["Pop", schema.DURATION]
    assert 15 <= tracks[schema.GENRE].nunique() <= 20


def test_older_users_play_older_music(demo: SyntheticCatalogue) -> None:
    plays = _plays_with_tracks(demo)
    age = plays[schema.AGE].astype(int)
    year = _release_years(plays)
    assert year[age >= 50].mean() < year[age <= 25].mean() - 3


def test_users_concentrate_on_their_preferred_genres(demo: SyntheticCatalogue) -> None:
    truth = demo.truth
    user_index = pd.Series(np.arange(len(truth.user_ids)), index=truth.user_ids)
    track_index = pd.Series(np.arange(len(truth.track_ids)), index=truth.track_ids)
    users = user_index[demo.raw.plays[schema.USER_ID]].to_numpy()
    genres = truth.track_genre[track_index[demo.raw.plays[schema.TRACK_ID]].to_numpy()]
    favourites = np.argsort(-truth.user_genre_preference, axis=1)[:, :3]
    in_favourites = (genres[:, None] == favourites[users]).any(axis=1).mean()
    catalogue_share = np.bincount(truth.track_genre, minlength=len(truth.genres)) / len(
        truth.track_ids
    )
    chance = catalogue_share[favourites].sum(axis=1)[users].mean()
    assert in_favourites > 1.8 * chance
    assert in_favourites < 0.9  # tastes are strong but not exclusive


def test_played_tracks_have_higher_true_affinity_than_random_ones(
    demo: SyntheticCatalogue,
) -> None:
    truth = demo.truth
    user_index = pd.Series(np.arange(len(truth.user_ids)), index=truth.user_ids)
    track_index = pd.Series(np.arange(len(truth.track_ids)), index=truth.track_ids)
    users = user_index[demo.raw.plays[schema.USER_ID]].to_numpy()
    tracks = track_index[demo.raw.plays[schema.TRACK_ID]].to_numpy()
    played = truth.affinity(users, tracks)
    shuffled = truth.affinity(users, np.random.default_rng(0).permutation(tracks))
    anything = np.random.default_rng(1).integers(len(truth.track_ids), size=len(users))
    uniform = truth.affinity(users, anything)
    assert played.mean() > shuffled.mean() + 0.3  # personal signal beyond popularity
    assert played.mean() > uniform.mean() + 1.0


def test_ground_truth_shapes_and_affinity_matrix(tiny: SyntheticCatalogue) -> None:
    truth: GroundTruth = tiny.truth
    n_users, n_tracks = len(truth.user_ids), len(truth.track_ids)
    assert truth.user_factors.shape[0] == n_users
    assert truth.track_factors.shape == (n_tracks, truth.user_factors.shape[1])
    assert truth.user_genre_preference.shape == (n_users, len(truth.genres))
    assert truth.user_preferred_year.shape == (n_users,)
    assert truth.track_genre.max() < len(truth.genres)
    assert truth.track_popularity.min() > 0
    users = np.array([0, 3, 7])
    matrix = truth.affinity_matrix(users)
    assert matrix.shape == (3, n_tracks)
    elementwise = truth.affinity(users[:, None], np.arange(n_tracks)[None, :])
    np.testing.assert_allclose(matrix, elementwise, rtol=1e-5, atol=1e-5)
    raw_genre = tiny.raw.tracks[schema.GENRE].iloc[:n_tracks].to_numpy()
    present = pd.notna(raw_genre) & (raw_genre != "")
    assert present.mean() > 0.9
    assert (np.asarray(truth.genres)[truth.track_genre][present] == raw_genre[present]).all()


def test_expected_affinity_from_demographics_is_what_age_and_gender_tell(
    demo: SyntheticCatalogue,
) -> None:
    truth: GroundTruth = demo.truth
    users = demo.raw.users.set_index(schema.USER_ID).loc[truth.user_ids]
    same = users.groupby([schema.AGE, schema.GENDER]).indices
    pair = next(rows for rows in same.values() if len(rows) >= 2)[:2]
    expected = truth.expected_affinity_from_demographics(pair)
    np.testing.assert_allclose(expected[0], expected[1])  # demographics alone, nothing personal
    assert not np.allclose(*truth.affinity_matrix(pair))
    # the users' own genre preferences and preferred years scatter around the expectation
    residual = truth.user_genre_preference - truth.user_genre_from_demographics
    assert np.abs(residual.mean(axis=0)).max() < 0.1 < residual.std()
    year_residual = truth.user_preferred_year - truth.user_expected_year
    assert abs(np.median(year_residual)) < 1.0 < year_residual.std()
    # ranked by it, each user's played tracks come out above the catalogue's average
    plays = demo.raw.plays
    first = pd.Index(truth.user_ids).get_indexer(plays[schema.USER_ID].iloc[:2000])
    track = pd.Index(truth.track_ids).get_indexer(plays[schema.TRACK_ID].iloc[:2000])
    rows = truth.expected_affinity_from_demographics(np.unique(first))
    place = pd.Index(np.unique(first)).get_indexer(first)
    assert rows[place, track].mean() > rows.mean() + 0.3
