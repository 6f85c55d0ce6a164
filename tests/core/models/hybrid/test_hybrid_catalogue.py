"""The saved hybrid serves over grown, shrunk or reordered catalogues with its own preprocessor."""

import copy
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from musicrec_core.data import fit_preprocessor, prepare, training_rows
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.models import TrainingData
from musicrec_core.models.hybrid import (
    META_FILE,
    MODEL_FORMAT,
    PREPROCESSOR_DIR,
    Hybrid,
    TrainConfig,
)

CONFIG = TrainConfig(epochs=2, embedding_dim=8, hidden_dim=16, n_candidates=20, progress=False)
N_NEW_TRACKS = 30
N_NEW_USERS = 8


@pytest.fixture(scope="module")
def catalogues():
    """Training data on part of the tiny catalogue, and the whole catalogue with every play."""
    data = prepare(SourceConfig(kind="synthetic", size="tiny"))
    plays = data.split[[s.USER_ID, s.TRACK_ID, s.PLAYS]]
    rng = np.random.default_rng(0)
    new_tracks = rng.choice(data.tracks[s.TRACK_ID].to_numpy(), N_NEW_TRACKS, replace=False)
    new_users = rng.choice(data.users[s.USER_ID].to_numpy(), N_NEW_USERS, replace=False)
    old_tracks = data.tracks[~data.tracks[s.TRACK_ID].isin(new_tracks)]
    old_users = data.users[~data.users[s.USER_ID].isin(new_users)]
    train_rows = training_rows(data.split)
    train_rows = train_rows[
        train_rows[s.TRACK_ID].isin(old_tracks[s.TRACK_ID])
        & train_rows[s.USER_ID].isin(old_users[s.USER_ID])
    ]
    old = TrainingData(train_rows[[s.USER_ID, s.TRACK_ID, s.PLAYS]], old_users, old_tracks)
    grown = TrainingData(plays, data.users, data.tracks)
    return data, old, grown, new_tracks, new_users


@pytest.fixture(scope="module")
def saved(catalogues, tmp_path_factory):
    data, old, *_ = catalogues
    preprocessor, _, _ = fit_preprocessor(training_rows(data.split), data.users, data.tracks)
    model = Hybrid(CONFIG, preprocessor).fit(old)
    folder = model.save(tmp_path_factory.mktemp("hybrid") / "model")
    # The platform refits its preprocessor on a different catalogue: the model must not care.
    preprocessor.fit_transform(data.tracks.head(40))
    return model, folder


def test_save_writes_the_models_own_preprocessor(saved):
    model, folder = saved
    assert (folder / PREPROCESSOR_DIR / "manifest.json").exists()
    loaded = Hybrid.load(folder, model.data)
    users = model.data.matrix.user_ids[:6]
    np.testing.assert_array_equal(model.score(users), loaded.score(users))


def test_reordered_catalogue_gives_the_same_scores_per_track(saved):
    model, folder = saved
    data = model.data
    shuffled = TrainingData(
        data.interactions, data.users.iloc[::-1], data.tracks.sample(frac=1.0, random_state=1)
    )
    loaded = Hybrid.load(folder, shuffled)
    users = data.matrix.user_ids[:6]
    order = pd.Index(shuffled.matrix.track_ids).get_indexer(data.matrix.track_ids)
    # the item-item factors of a refit are the same up to sign: compare retrieval scores
    np.testing.assert_allclose(
        model.user_vectors(users) @ model.item_vectors().T,
        (loaded.user_vectors(users) @ loaded.item_vectors().T)[:, order],
        rtol=1e-4,
        atol=1e-4,
    )


def test_grown_catalogue_scores_and_recommends_new_tracks(saved, catalogues):
    _, folder = saved
    _, _, grown, new_tracks, _ = catalogues
    loaded = Hybrid.load(folder, grown)
    is_new = np.isin(grown.matrix.track_ids, new_tracks)
    scores = loaded.score(grown.matrix.user_ids)
    assert scores.shape == (len(grown.matrix.user_ids), len(grown.matrix.track_ids))
    assert np.isfinite(scores[:, is_new]).all()
    recs = loaded.recommend(grown.matrix.user_ids, k=20)
    assert np.isin(recs.track_ids, new_tracks).any()


def test_new_user_with_plays_gets_recommendations_without_those_plays(saved, catalogues):
    _, folder = saved
    _, _, grown, _, new_users = catalogues
    loaded = Hybrid.load(folder, grown)
    recs = loaded.recommend(new_users, k=10)
    played = grown.interactions.groupby(s.USER_ID)[s.TRACK_ID].agg(set)
    for user, tracks in zip(recs.user_ids, recs.track_ids, strict=True):
        assert pd.notna(tracks).all()
        assert not set(tracks) & played[user]
    # their vectors come from their plays: two new users with different plays differ
    vectors = loaded.user_vectors(new_users[:2])
    assert np.isfinite(vectors).all() and not np.allclose(vectors[0], vectors[1])


def test_every_play_in_data_is_history_and_is_masked(saved, catalogues):
    model, folder = saved
    _, _, grown, _, _ = catalogues
    loaded = Hybrid.load(folder, grown)
    user = model.data.matrix.user_ids[0]
    trained = set(
        model.data.interactions.loc[model.data.interactions[s.USER_ID] == user, s.TRACK_ID]
    )
    everything = set(grown.interactions.loc[grown.interactions[s.USER_ID] == user, s.TRACK_ID])
    assert everything > trained
    recs = loaded.recommend([user], k=50)
    assert not set(recs.track_ids[0]) & everything


def test_removed_tracks_are_no_longer_served(saved, catalogues):
    model, folder = saved
    data = model.data
    kept = data.tracks.iloc[10:]
    shrunk = TrainingData(data.interactions, data.users, kept)
    loaded = Hybrid.load(folder, shrunk)
    recs = loaded.recommend(data.matrix.user_ids[:5], k=10)
    assert not np.isin(recs.track_ids, data.tracks[s.TRACK_ID].iloc[:10]).any()
    assert np.isfinite(loaded.score(data.matrix.user_ids[:5])).all()


def test_a_folder_without_preprocessor_serves_only_its_catalogue(saved, catalogues, tmp_path):
    model, _ = saved
    _, _, grown, _, _ = catalogues
    bare = tmp_path / "bare"
    model.save(bare)
    shutil.rmtree(bare / PREPROCESSOR_DIR)
    users = model.data.matrix.user_ids[:3]
    loaded = Hybrid.load(bare, model.data)
    assert loaded.content_weight == 0.0  # content vectors need the preprocessor
    without_content = copy.copy(model)
    without_content.content_weight = 0.0
    np.testing.assert_array_equal(loaded.score(users), without_content.score(users))
    with pytest.raises(ValueError, match="no saved preprocessor"):
        Hybrid.load(bare, grown)


def test_a_folder_of_another_model_format_is_refused_with_what_to_do(saved, tmp_path):
    model, _ = saved
    folder = model.save(tmp_path / "older")
    meta = json.loads((folder / META_FILE).read_text())
    meta["format"] = MODEL_FORMAT - 1
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=f"{folder}.*format {MODEL_FORMAT - 1}.*retrain"):
        Hybrid.load(folder, model.data)
