"""MusicPreprocessor: modes, partial frames, skipped features and the save/load round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from musicrec_core.data import MusicPreprocessor, encoded_column
from musicrec_core.data import schema as s

USER_COLS = [s.USER_ID, s.AGE, s.GENDER]


def merged_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """A seed-like merged frame: one row per user-track pair, user and track columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            s.USER_ID: [f"u{i % 50}" for i in range(n)],
            s.TRACK_ID: [f"t{i}" for i in range(n)],
            s.AGE: rng.integers(13, 80, n),
            s.GENDER: rng.choice(["M", "F"], n),
            s.ARTIST_NAME: rng.choice(["Adele", "Drake", "The xx", "Muse"], n),
            s.GENRE: rng.choice(["Pop", "Rock", "Unknown"], n),
            s.FEATURED_ARTISTS: rng.choice(["", "Birdy, Zoé", "Snoop Dogg", "Russ, Birdy"], n),
            s.RELEASE_DATE: rng.choice(["2017-09-23", "2013", "1999-04", "1985-01-01"], n),
            s.PLAYS: rng.integers(1, 3000, n),
            s.DURATION: rng.uniform(2.0, 6.0, n),
            s.TEMPO: rng.uniform(60.0, 180.0, n),
            s.TIME_SIGNATURE: rng.choice([3, 4, 4, 4, 4, 5, 0], n),
            s.KEY: rng.integers(0, 12, n),
            s.MODE: rng.integers(0, 2, n),
            s.EXPLICIT: rng.integers(0, 2, n),
        }
    )
    for col in s.AUDIO_FEATURES:
        if col not in frame:
            frame[col] = rng.uniform(0.0, 1.0, n)
    frame[s.LOUDNESS] = rng.normal(-9.0, 3.0, n)
    frame.loc[0, s.SPEECHINESS] = 50.0  # an extreme training value
    return frame


def test_invalid_handle_outliers_raises():
    with pytest.raises(ValueError, match="'robust', 'cap', 'none'"):
        MusicPreprocessor(handle_outliers="clip")


def test_transform_before_fit_raises():
    with pytest.raises(NotFittedError, match="not fitted"):
        MusicPreprocessor().transform(merged_frame(10))


@pytest.mark.parametrize("mode", ["robust", "cap", "none"])
def test_save_load_round_trip_is_exact(tmp_path, mode):
    train, test = merged_frame(seed=1), merged_frame(seed=2)
    pre = MusicPreprocessor(mode, reference_year=2024)
    pre.fit_transform(train)
    before = pre.transform(test)
    pre.save_preprocessors(tmp_path / "pre")

    loaded = MusicPreprocessor.load(tmp_path / "pre")
    pd.testing.assert_frame_equal(loaded.transform(test), before, check_exact=True)
    assert loaded.features_used == pre.features_used
    assert loaded.features_skipped == pre.features_skipped
    assert loaded.steps == pre.steps
    for col, matrix in pre.text_features(test).items():
        assert (loaded.text_features(test)[col] != matrix).nnz == 0
    np.testing.assert_array_equal(loaded.feature_matrix(test), pre.feature_matrix(test))

    other = MusicPreprocessor("none").load_preprocessors(tmp_path / "pre")
    assert other.handle_outliers == mode

    manifest = json.loads((tmp_path / "pre" / "manifest.json").read_text())
    assert manifest["config"] == {
        "handle_outliers": mode,
        "reference_year": 2024,
        "text_max_features": pre.text_max_features,
    }
    assert manifest["format_version"] == 1
    assert manifest["numeric_columns"] == pre.numeric_columns
    assert manifest["features_used"] == pre.features_used


def test_cap_bounds_values_to_learned_fences():
    train = merged_frame()
    pre = MusicPreprocessor("cap", reference_year=2024)
    out = pre.fit_transform(train)
    low, high = pre.cap_bounds[s.SPEECHINESS]
    q1, q3 = train[s.SPEECHINESS].quantile([0.25, 0.75])
    assert high == pytest.approx(q3 + 1.5 * (q3 - q1))
    scaler = pre.scalers[s.SPEECHINESS]
    unscaled = out[s.SPEECHINESS] * scaler.scale_[0] + scaler.mean_[0]
    assert unscaled.max() == pytest.approx(high)
    assert unscaled.min() >= low - 1e-9
    capped = pre._cap_outliers(pd.Series([-100.0, 0.5, 100.0], name=s.SPEECHINESS))
    assert capped.tolist() == [low, 0.5, high]
    # The fences are reused at transform time, not relearned.
    extreme = merged_frame(seed=3)
    extreme[s.SPEECHINESS] = 1000.0
    assert pre.transform(extreme)[s.SPEECHINESS].max() == pytest.approx(out[s.SPEECHINESS].max())


def test_robust_centres_training_medians_on_zero():
    pre = MusicPreprocessor("robust", reference_year=2024)
    out = pre.fit_transform(merged_frame())
    medians = out[pre.numeric_columns].median()
    np.testing.assert_allclose(medians.to_numpy(), 0.0, atol=1e-12)


def test_none_leaves_extremes_extreme():
    train = merged_frame()
    capped = MusicPreprocessor("cap", reference_year=2024).fit_transform(train)
    uncapped = MusicPreprocessor("none", reference_year=2024).fit_transform(train)
    assert uncapped[s.SPEECHINESS].max() > 3 * capped[s.SPEECHINESS].max()
    assert uncapped[s.SPEECHINESS].idxmax() == 0


def test_engineered_and_encoded_columns():
    pre = MusicPreprocessor(reference_year=2024)
    out = pre.fit_transform(merged_frame())
    for col in (s.MUSIC_AGE, s.ENERGY_LOUDNESS, s.DANCE_VALENCE, s.ENERGY, s.LOUDNESS):
        assert col in pre.numeric_columns
    np.testing.assert_allclose(out[s.PLAYS_LOG], np.log1p(out[s.PLAYS]))
    assert set(out[s.TIME_SIGNATURE].unique()) <= set(
        pre.scalers[s.TIME_SIGNATURE].transform(np.array([[3.0], [4.0]])).ravel()
    )
    assert any("time_signature" in step for step in pre.steps)
    assert out[encoded_column(s.GENDER)].isin([0, 1]).all()
    assert out[encoded_column(s.AGE_GROUP)].between(0, len(s.age_group_labels()) - 1).all()
    matrix = pre.feature_matrix(merged_frame(seed=5))
    assert matrix.shape == (200, len(pre.numeric_columns))
    assert matrix.dtype == np.float32


def test_time_signatures_outside_three_and_four_become_four():
    pre = MusicPreprocessor()
    frame = pd.DataFrame({s.TIME_SIGNATURE: [0.0, 1.0, 3.0, 4.0, 5.0, np.nan]})
    out = pre._handle_time_signature_outliers(frame)
    assert out[s.TIME_SIGNATURE].tolist()[:5] == [4.0, 4.0, 3.0, 4.0, 4.0]
    assert pre.time_signature_changes == 3
    assert frame[s.TIME_SIGNATURE].tolist()[0] == 0.0  # input untouched


def test_unseen_and_missing_gender_get_reserved_index():
    pre = MusicPreprocessor(reference_year=2024)
    pre.fit_transform(merged_frame())
    assert pre.categories[s.GENDER] == ["F", "M"]
    users = pd.DataFrame(
        {s.USER_ID: ["a", "b", "c"], s.AGE: [20, 30, 40], s.GENDER: ["X", "M", None]}
    )
    out = pre.transform(users)
    assert out[encoded_column(s.GENDER)].tolist() == [2, 1, 2]


def test_track_only_frame_transforms():
    pre = MusicPreprocessor(reference_year=2024)
    train = merged_frame()
    pre.fit_transform(train)
    tracks = train.drop(columns=[*USER_COLS, s.PLAYS])
    out = pre.transform(tracks)
    assert encoded_column(s.GENDER) not in out
    track_cols = [col for col in pre.numeric_columns if col != s.AGE]
    expected = pre.transform(train)[track_cols]
    pd.testing.assert_frame_equal(out[track_cols], expected)
    assert set(pre.text_features(tracks)) == set(s.TEXT_FEATURE_COLS)
    assert pre.feature_matrix(tracks, track_cols).shape == (len(tracks), len(track_cols))
    with pytest.raises(KeyError, match=s.AGE):
        pre.feature_matrix(tracks)


def test_fit_on_users_only_lists_track_features_as_absent():
    users = merged_frame()[USER_COLS]
    pre = MusicPreprocessor(reference_year=2024)
    pre.fit_transform(users)
    assert pre.numeric_columns == [s.AGE]
    assert pre.features_used == [s.AGE, s.GENDER, s.AGE_GROUP]
    assert pre.features_skipped[s.ENERGY] == "absent from the fit frame"
    assert pre.text_features(users) == {}


def test_constant_audio_features_are_skipped():
    catalogue = merged_frame()
    for col in (*s.AUDIO_FEATURES, s.KEY, s.MODE):
        catalogue[col] = 0.5  # every value imputed: no information
    catalogue[s.FEATURED_ARTISTS] = ""
    pre = MusicPreprocessor(reference_year=2024)
    out = pre.fit_transform(catalogue)
    for col in (s.ENERGY, s.LOUDNESS, s.SPEECHINESS, s.ENERGY_LOUDNESS, s.DANCE_VALENCE, s.MODE):
        assert "constant" in pre.features_skipped[col]
        assert col not in pre.numeric_columns
    assert pre.features_skipped[s.FEATURED_ARTISTS].startswith("constant")
    assert s.FEATURED_ARTISTS not in pre.text_features(catalogue)
    assert s.DURATION in pre.features_used
    assert (out[s.ENERGY] == 0.5).all()  # passed through untouched


def test_text_column_with_empty_vocabulary_is_skipped():
    frame = merged_frame()
    frame[s.GENRE] = np.where(np.arange(len(frame)) % 2, s.GENRE_UNKNOWN, " ")
    pre = MusicPreprocessor(reference_year=2024)
    pre.fit_transform(frame)
    assert pre.features_skipped[s.GENRE] == "empty vocabulary"


def test_text_features_are_sparse_and_bounded():
    pre = MusicPreprocessor(reference_year=2024, text_max_features={s.ARTIST_NAME: 2})
    frame = merged_frame()
    pre.fit_transform(frame)
    matrices = pre.text_features(frame)
    assert all(sp.issparse(m) and m.shape[0] == len(frame) for m in matrices.values())
    assert matrices[s.ARTIST_NAME].shape[1] == 2
    featured = pre.vectorizers[s.FEATURED_ARTISTS].get_feature_names_out().tolist()
    assert sorted(featured) == ["birdy", "russ", "snoop dogg", "zoé"]
    assert pre.vectorizers[s.GENRE].get_feature_names_out().tolist() == ["pop", "rock"]


def test_default_vocabulary_keeps_every_artist_of_a_large_catalogue():
    frame = merged_frame()
    frame = frame.iloc[np.arange(3000) % len(frame)].reset_index(drop=True)
    frame[s.ARTIST_NAME] = [f"artist {i}" for i in range(len(frame))]
    pre = MusicPreprocessor(reference_year=2024)
    pre.fit_transform(frame)
    assert len(pre.vectorizers[s.ARTIST_NAME].vocabulary_) == 3000


def test_fit_on_empty_frame_raises():
    with pytest.raises(ValueError, match="empty"):
        MusicPreprocessor().fit_transform(merged_frame().iloc[:0])
