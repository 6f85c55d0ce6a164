import numpy as np
import pandas as pd
import pytest

import musicrec_core.serving.tables as tables
from musicrec_core.data import schema as s
from musicrec_core.models import Popularity, Recommendations, TrainingData
from musicrec_core.models.diversity import mmr_rerank, personal_strength
from musicrec_core.serving import (
    content_vectors,
    recommend_all,
    segment_popularity,
    servable_users,
    served_recommendations,
)
from tests.core.fused_hybrid import fused_tiny_hybrid

COMPARED = [s.USER_ID, s.RANK, s.TRACK_ID, s.SCORE, s.MODEL_NAME, s.MODEL_VERSION]


@pytest.fixture(scope="module")
def served():
    """A hybrid fitted on the tiny catalogue's training plays that fuses item-item evidence in
    both stages and content similarity, served over every play; one user has no plays and no
    demographics, so the fallback serves them."""
    model, data, preprocessor = fused_tiny_hybrid()
    stranger = data.users.iloc[[0]].assign(
        **{s.USER_ID: "stranger", s.AGE_GROUP: s.AGE_GROUP_UNKNOWN, s.GENDER: s.GENDER_UNKNOWN}
    )
    users = pd.concat([data.users, stranger], ignore_index=True)
    vectors = content_vectors(data.tracks, preprocessor)
    return model, data.interactions.sample(frac=1.0, random_state=0), users, data.tracks, vectors


def _per_batch_search(model, fallback, interactions, users, tracks, vectors, batch_users):
    """served_recommendations as it searched every play and every user's genres per batch."""
    served = servable_users(users, interactions, demographics=True)
    genres = interactions.merge(tracks[[s.TRACK_ID, s.GENRE]], on=s.TRACK_ID)
    catalogue = model.data.matrix.track_ids
    parts = []
    for start in range(0, len(served), batch_users):
        batch = served[start : start + batch_users]
        history = interactions[interactions[s.USER_ID].isin(batch)]
        recs = model.recommend_with_history(batch, history, k=30)
        candidates = pd.Index(catalogue).get_indexer(recs.track_ids.ravel())
        strength = personal_strength(genres, 0.3, batch, s.USER_ID, s.GENRE)
        picked, scores = mmr_rerank(
            candidates.reshape(recs.track_ids.shape), recs.scores, vectors, 10, strength
        )
        track_ids = np.where(picked >= 0, catalogue[np.maximum(picked, 0)], None)
        parts.append(Recommendations(batch, track_ids, scores).to_frame(model.name, "v1"))
    user_ids = users[s.USER_ID].to_numpy(dtype=object)
    rest = user_ids[~np.isin(user_ids, served)]
    if len(rest):
        parts.append(recommend_all(fallback, rest, 10, "fallback"))
    return pd.concat(parts, ignore_index=True)


def test_served_recommendations_are_those_of_a_search_of_every_play_per_batch(served, monkeypatch):
    """Batches take their plays as slices of the plays sorted once and the diversity strength
    comes from one pass over every play: the lists are those of searching every play for each
    batch, whatever the batch size."""
    model, interactions, users, tracks, vectors = served
    fallback = segment_popularity(interactions, users, tracks)
    monkeypatch.setattr(tables, "HYBRID_BATCH_USERS", 7)
    got = served_recommendations(
        model, "v1", fallback, interactions, users, tracks, vectors, 10, 0.3, n_candidates=30
    )
    expected = _per_batch_search(model, fallback, interactions, users, tracks, vectors, 1024)
    assert len(got) > 10 * (len(users) - 1) * 0.9
    assert (got[s.USER_ID] == "stranger").sum() == 10
    assert (got[s.MODEL_NAME] == model.name).sum() > 0
    got, expected = got[COMPARED], expected[COMPARED]
    got[s.MODEL_VERSION] = got[s.MODEL_VERSION].where(got[s.MODEL_NAME] == model.name, "fallback")
    pd.testing.assert_frame_equal(got, expected, rtol=1e-5)


def test_plays_by_batch_gives_each_batch_its_plays_and_no_others():
    interactions = pd.DataFrame(
        {
            s.USER_ID: ["b", "x", "a", "c", "b", "a", "x", "c", "c"],
            s.TRACK_ID: ["t1", "t2", "t3", "t1", "t2", "t1", "t3", "t2", "t3"],
            s.PLAYS: [1, 2, 3, 4, 5, 6, 7, 8, 9],
        }
    )
    user_ids = np.array(["c", "a", "b", "d"], dtype=object)
    plays, bounds = tables.plays_by_batch(interactions, user_ids, 3)
    assert bounds.tolist() == [0, 7, 7]
    for number, start in enumerate(range(0, len(user_ids), 3)):
        batch = plays.iloc[bounds[number] : bounds[number + 1]]
        expected = interactions[interactions[s.USER_ID].isin(user_ids[start : start + 3])]
        assert sorted(batch[s.PLAYS]) == sorted(expected[s.PLAYS])
    assert plays[s.USER_ID].tolist()[:3] == ["c", "c", "c"]


def test_models_scoring_the_whole_catalogue_get_batches_of_bounded_scores(served, monkeypatch):
    model, interactions, users, tracks, _ = served
    popularity = Popularity().fit(TrainingData(interactions, users, tracks))
    n_tracks = len(tracks)
    assert tables.users_per_batch(popularity) == min(tables.BATCH_SCORES // n_tracks, 1024)
    assert tables.users_per_batch(model) == tables.HYBRID_BATCH_USERS
    user_ids = users[s.USER_ID].to_numpy(dtype=object)
    whole = recommend_all(popularity, user_ids, 5, "v")
    monkeypatch.setattr(tables, "BATCH_SCORES", 3 * n_tracks + 1)
    assert tables.users_per_batch(popularity) == 3
    pd.testing.assert_frame_equal(
        recommend_all(popularity, user_ids, 5, "v")[COMPARED], whole[COMPARED]
    )


def test_a_few_users_are_served_as_among_every_user(served):
    """A shard of users gets the lists it gets among every user: the diversity strength
    counts every played genre, not only those of the shard's plays."""
    model, interactions, users, tracks, vectors = served
    fallback = segment_popularity(interactions, users, tracks)
    few = users.iloc[[3, 5, 8]]
    genres = interactions[interactions[s.USER_ID].isin(few[s.USER_ID])].merge(tracks)
    assert genres[s.GENRE].nunique() < tracks[s.GENRE].nunique()
    got = served_recommendations(
        model, "v1", fallback, interactions, few, tracks, vectors, 10, 0.3, n_candidates=30
    )
    expected = _per_batch_search(model, fallback, interactions, few, tracks, vectors, 1024)
    pd.testing.assert_frame_equal(got[COMPARED[:4]], expected[COMPARED[:4]], rtol=1e-5)
