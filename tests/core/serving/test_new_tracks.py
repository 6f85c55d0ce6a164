"""Lists of new tracks: only tracks nobody has played, in the order of the model that serves
new tracks, for the listeners that model can place, and the same whatever the batch size."""

import numpy as np
import pandas as pd
import pytest

from musicrec_core.data import fit_preprocessor, prepare, training_rows
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.models import Popularity, TrainingData, build_models
from musicrec_core.serving import new_track_recommendations, unplayed_columns, user_shards
from musicrec_core.serving import tables as serving_tables

K = 5
FRESH = 12  # tracks added to the catalogue without plays


@pytest.fixture(scope="module")
def catalogue():
    """The tiny catalogue, ``FRESH`` copies of its tracks under new ids that nobody has played,
    and one listener with no plays at all."""
    data = prepare(SourceConfig(kind="synthetic", size="tiny"))
    fresh = data.tracks.head(FRESH).assign(**{s.TRACK_ID: [f"fresh{i}" for i in range(FRESH)]})
    tracks = pd.concat([data.tracks, fresh], ignore_index=True)
    silent = data.users.head(1).assign(**{s.USER_ID: "silent"})
    users = pd.concat([data.users, silent], ignore_index=True)
    preprocessor, _, _ = fit_preprocessor(training_rows(data.split), users, tracks)
    return TrainingData(data.interactions, users, tracks), preprocessor


def _content_knn(catalogue):
    training, preprocessor = catalogue
    return build_models(["content_knn"], preprocessor)["content_knn"].fit(training)


def test_unplayed_columns_are_the_tracks_without_plays(catalogue):
    training, _ = catalogue
    columns = unplayed_columns(training.matrix)
    unplayed = set(training.matrix.track_ids[columns])
    assert {f"fresh{i}" for i in range(FRESH)} <= unplayed
    assert not unplayed & set(training.interactions[s.TRACK_ID])


def test_lists_hold_only_new_tracks_in_the_models_order(catalogue):
    training, _ = catalogue
    model = _content_knn(catalogue)
    frame = new_track_recommendations(model, "v1", training.users, K)
    assert list(frame.columns) == s.RECOMMENDATION_COLUMNS
    new = set(training.matrix.track_ids[unplayed_columns(training.matrix)])
    assert set(frame[s.TRACK_ID]) <= new
    assert (frame[s.MODEL_NAME] == "content_knn").all() and (frame[s.MODEL_VERSION] == "v1").all()
    # content kNN reads no demographics: the listener without plays gets no list.
    listeners = training.interactions[s.USER_ID].unique()
    assert set(frame[s.USER_ID]) == set(listeners)
    assert (frame.groupby(s.USER_ID).size() == K).all()
    user = listeners[0]
    columns = unplayed_columns(training.matrix)
    scores = model.score(np.array([user], dtype=object))[0, columns]
    expected = training.matrix.track_ids[columns[np.argsort(-scores, kind="stable")[:K]]]
    mine = frame[frame[s.USER_ID] == user].sort_values(s.RANK)
    assert mine[s.TRACK_ID].tolist() == expected.tolist()
    assert mine[s.SCORE].is_monotonic_decreasing


def test_a_baseline_serving_new_tracks_names_itself_and_lists_everyone_it_places(catalogue):
    training, _ = catalogue
    popularity = Popularity().fit(training)
    frame = new_track_recommendations(popularity, "v2", training.users, K)
    assert (frame[s.MODEL_NAME] == "popularity").all()
    assert set(frame[s.USER_ID]) == set(training.users[s.USER_ID])  # "silent" too


def test_batches_and_shards_give_the_same_lists(catalogue, monkeypatch):
    training, _ = catalogue
    model = _content_knn(catalogue)
    whole = new_track_recommendations(model, "v1", training.users, K)
    monkeypatch.setattr(serving_tables, "BATCH_SCORES", len(training.tracks) * 7)
    shards = user_shards(training.users[s.USER_ID], 3)
    parts = [
        new_track_recommendations(model, "v1", training.users[shards == shard], K)
        for shard in range(3)
    ]
    columns = [s.USER_ID, s.RANK, s.TRACK_ID, s.SCORE]
    order = [s.USER_ID, s.RANK]
    pd.testing.assert_frame_equal(
        pd.concat(parts)[columns].sort_values(order).reset_index(drop=True),
        whole[columns].sort_values(order).reset_index(drop=True),
    )


def test_no_new_tracks_gives_an_empty_table():
    data = prepare(SourceConfig(kind="synthetic", size="tiny"))
    played = data.tracks[data.tracks[s.TRACK_ID].isin(data.interactions[s.TRACK_ID])]
    training = TrainingData(data.interactions, data.users, played)
    frame = new_track_recommendations(Popularity().fit(training), "v", data.users, K)
    assert frame.empty and list(frame.columns) == s.RECOMMENDATION_COLUMNS
