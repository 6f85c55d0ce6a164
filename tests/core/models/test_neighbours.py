import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from musicrec_core.data import MusicPreprocessor, holdout
from musicrec_core.data import schema as s
from musicrec_core.metrics import ndcg_at_k
from musicrec_core.models import (
    EASE,
    EASE_FALLBACK_L2,
    EASE_L2_CHOICES,
    ContentKNN,
    ItemKNN,
    TrainingData,
    choose_ease_l2,
    weighted_matrix,
)

GROUP_A = ["a0", "a1", "a2", "a3"]
GROUP_B = ["b0", "b1", "b2", "b3"]
COLD = "cold"


def _block_data() -> TrainingData:
    """Two taste groups: user ai plays every group-A track but a{i}, likewise for group B.

    The catalogue also holds a track nobody played.
    """
    rows = []
    for group, tracks in (("a", GROUP_A), ("b", GROUP_B)):
        for i in range(len(tracks)):
            for j, track in enumerate(tracks):
                if i != j:
                    rows.append((f"{group}{i}", track, 1 + (i + j) % 3))
    plays = pd.DataFrame(rows, columns=[s.USER_ID, s.TRACK_ID, s.PLAYS])
    users = pd.DataFrame({s.USER_ID: [*(f"a{i}" for i in range(4)), *(f"b{i}" for i in range(4))]})
    tracks = pd.DataFrame({s.TRACK_ID: [*GROUP_A, *GROUP_B, COLD]})
    return TrainingData(plays, users, tracks)


def _models():
    return [ItemKNN(k_neighbours=3), ItemKNN(), EASE(l2=1.0), EASE(), ContentKNN()]


def test_weighted_matrix_binary_and_log():
    counts = sparse.csr_matrix(np.array([[0, 1, 9], [3, 0, 0]], dtype=np.float32))
    assert weighted_matrix(counts, "binary").toarray().tolist() == [[0, 1, 1], [1, 0, 0]]
    np.testing.assert_allclose(weighted_matrix(counts, "log").toarray(), np.log1p(counts.toarray()))
    assert counts[0, 2] == 9  # input untouched
    with pytest.raises(ValueError, match="weighting"):
        weighted_matrix(counts, "sqrt")


@pytest.mark.parametrize("model", [ItemKNN(k_neighbours=3), EASE(l2=1.0), EASE()])
def test_collaborative_models_recommend_the_missing_in_group_track_first(model):
    model.fit(_block_data())
    recs = model.recommend(["a0", "a2", "b1"], k=2)
    assert recs.track_ids[:, 0].tolist() == ["a0", "a2", "b1"]
    scores = model.score(np.array(["a0"], dtype=object))[0]
    columns = pd.Index(model.data.matrix.track_ids)
    assert scores[columns.get_loc("a0")] > scores[columns.get_indexer(GROUP_B)].max()


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.name)
def test_scores_cover_the_catalogue_and_played_tracks_are_never_recommended(model):
    data = _block_data()
    model.fit(data)
    user_ids = data.users[s.USER_ID].to_numpy()
    scores = model.score(user_ids)
    assert scores.shape == (len(user_ids), len(data.matrix.track_ids))
    assert np.isfinite(scores).all()
    recs = model.recommend(user_ids, k=len(data.matrix.track_ids))
    for user, tracks in zip(user_ids, recs.track_ids, strict=True):
        played = set(data.interactions.loc[data.interactions[s.USER_ID] == user, s.TRACK_ID])
        assert played.isdisjoint(t for t in tracks if t is not None)


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.name)
def test_unknown_users_get_a_full_row_of_zeros(model):
    data = _block_data()
    model.fit(data)
    scores = model.score(np.array(["nobody", "a1"], dtype=object))
    assert scores.shape == (2, len(data.matrix.track_ids))
    assert (scores[0] == 0).all() and np.isfinite(scores).all()
    recs = model.recommend(["nobody"], k=3)
    assert recs.track_ids.shape == (1, 3) and np.isfinite(recs.scores).all()


def test_ease_matches_the_closed_form():
    plays = pd.DataFrame(
        {
            s.USER_ID: ["u0", "u0", "u1", "u1", "u2", "u2", "u3", "u3", "u3"],
            s.TRACK_ID: ["t0", "t1", "t1", "t2", "t0", "t2", "t0", "t1", "t2"],
            s.PLAYS: [3, 1, 2, 1, 1, 5, 1, 1, 1],
        }
    )
    users = pd.DataFrame({s.USER_ID: ["u0", "u1", "u2", "u3"]})
    tracks = pd.DataFrame({s.TRACK_ID: ["t0", "t1", "t2"]})
    x = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)  # binary plays
    l2 = 2.0
    p = np.linalg.inv(x.T @ x + l2 * np.eye(3))
    expected = -p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)

    model = EASE(l2=l2, weighting="binary").fit(TrainingData(plays, users, tracks))
    np.testing.assert_allclose(model.B, expected, rtol=1e-5, atol=1e-7)
    assert model.B.dtype == np.float32
    assert (np.diag(model.B) == 0).all()
    np.testing.assert_allclose(
        model.score(np.array(["u1", "u0"], dtype=object)), x[[1, 0]] @ expected, rtol=1e-5
    )


def test_ease_diagonal_is_zero_and_unplayed_tracks_score_zero():
    model = EASE().fit(_block_data())
    assert (np.diag(model.B) == 0).all()
    cold = list(model.data.matrix.track_ids).index(COLD)
    assert (model.score(model.data.users[s.USER_ID].to_numpy())[:, cold] == 0).all()


def test_ease_refuses_more_items_than_max_items():
    with pytest.raises(ValueError, match="8 played tracks, above max_items=5; use low_rank_ease"):
        EASE(max_items=5).fit(_block_data())


def test_item_knn_similar_items_stay_in_group():
    model = ItemKNN(k_neighbours=3).fit(_block_data())
    ids, scores = model.similar_items(["a0", "b3", "unknown", COLD], n=3)
    assert set(ids[0]) == {"a1", "a2", "a3"} and set(ids[1]) == {"b0", "b1", "b2"}
    assert (np.diff(scores[0]) <= 0).all()
    assert ids[2].tolist() == [None] * 3 and ids[3].tolist() == [None] * 3
    assert model.neighbours.getnnz(axis=1).max() <= 3


@pytest.mark.parametrize("block_elements", [8_000_000, 50])
def test_item_knn_keeps_each_tracks_k_most_similar_tracks(monkeypatch, block_elements):
    """The sparse fit, in one block or in many, keeps what the dense similarity matrix ranks."""
    monkeypatch.setattr("musicrec_core.models.play_rows.BLOCK_ELEMENTS", block_elements)
    rng = np.random.default_rng(3)
    played = sparse.random(40, 60, density=0.15, random_state=rng, format="coo")
    plays = pd.DataFrame(
        {
            s.USER_ID: [f"u{i}" for i in played.row],
            s.TRACK_ID: [f"t{j}" for j in played.col],
            s.PLAYS: rng.integers(1, 1000, played.nnz),
        }
    )
    data = TrainingData(
        plays,
        pd.DataFrame({s.USER_ID: [f"u{i}" for i in range(40)]}),
        pd.DataFrame({s.TRACK_ID: [f"t{j}" for j in range(60)]}),
    )
    model = ItemKNN(k_neighbours=5, shrinkage=2.0).fit(data)

    x = weighted_matrix(data.matrix, "log").toarray().astype(np.float64)
    norms = np.linalg.norm(x, axis=0)
    sim = x.T @ x / (norms[:, None] * norms[None, :] + 2.0)
    np.fill_diagonal(sim, 0.0)
    kept = model.neighbours.toarray()
    for j in range(sim.shape[0]):
        expected = np.sort(sim[j][sim[j] > 0])[::-1][:5]
        np.testing.assert_allclose(np.sort(kept[j][kept[j] > 0])[::-1], expected, rtol=1e-5)


def _content_data() -> TrainingData:
    """User 'fan' plays two loud rock tracks by Band; 'new' is one more, never played."""
    tracks = pd.DataFrame(
        {
            s.TRACK_ID: ["rock1", "rock2", "new", "jazz1", "jazz2", "pop1"],
            s.ARTIST_NAME: ["Band", "Band", "Band", "Trio", "Trio", "Singer"],
            s.FEATURED_ARTISTS: ["", "Guest", "Guest", "", "", "Guest2"],
            s.GENRE: ["rock", "rock", "rock", "jazz", "jazz", "pop"],
            s.RELEASE_DATE: ["2001-01-01", "2002-05-01", "2002-01-01", "1960", "1962", "2020"],
            s.ENERGY: [0.9, 0.85, 0.88, 0.2, 0.25, 0.6],
            s.LOUDNESS: [-4.0, -5.0, -4.5, -15.0, -14.0, -7.0],
            s.ACOUSTICNESS: [0.05, 0.1, 0.07, 0.9, 0.8, 0.3],
            s.TEMPO: [140.0, 135.0, 138.0, 90.0, 95.0, 118.0],
        }
    )
    plays = pd.DataFrame(
        {
            s.USER_ID: ["fan", "fan", "cat", "cat", "other"],
            s.TRACK_ID: ["rock1", "rock2", "jazz1", "pop1", "jazz2"],
            s.PLAYS: [5, 2, 1, 1, 3],
        }
    )
    users = pd.DataFrame({s.USER_ID: ["fan", "cat", "other", "silent"]})
    return TrainingData(plays, users, tracks)


def _preprocessor(tracks: pd.DataFrame) -> MusicPreprocessor:
    pre = MusicPreprocessor(handle_outliers="none", reference_year=2025)
    pre.fit_transform(tracks)
    return pre


@pytest.mark.parametrize("neighbourhood", ["profile", "nearest"])
@pytest.mark.parametrize("with_preprocessor", [False, True])
def test_content_knn_ranks_a_never_played_lookalike_first(neighbourhood, with_preprocessor):
    data = _content_data()
    pre = _preprocessor(data.tracks) if with_preprocessor else None
    model = ContentKNN(preprocessor=pre, neighbourhood=neighbourhood).fit(data)
    recs = model.recommend(["fan", "silent", "nobody"], k=4)
    assert recs.track_ids[0, 0] == "new"
    assert {"rock1", "rock2"}.isdisjoint(recs.track_ids[0])
    scores = model.score(np.array(["fan", "silent", "nobody"], dtype=object))
    columns = pd.Index(data.matrix.track_ids)
    new = scores[0, columns.get_loc("new")]
    assert new > scores[0, columns.get_indexer(["jazz1", "jazz2", "pop1"])].max()
    assert new > 0.8
    assert (scores[1:] == 0).all()


def test_content_knn_similar_items_work_for_unplayed_tracks():
    model = ContentKNN().fit(_content_data())
    ids, scores = model.similar_items(["new", "jazz1"], n=2)
    assert set(ids[0]) == {"rock1", "rock2"} and ids[1, 0] == "jazz2"
    assert "new" not in ids[0] and (np.diff(scores, axis=1) <= 0).all()


def test_content_knn_without_content_columns_scores_zero():
    data = _block_data()  # tracks frame holds ids only
    model = ContentKNN().fit(data)
    assert model.blocks == []
    assert (model.score(data.users[s.USER_ID].to_numpy()) == 0).all()


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="neighbourhood"):
        ContentKNN(neighbourhood="global")
    with pytest.raises(ValueError, match="content blocks"):
        ContentKNN(block_weights={"lyrics": 1.0})
    with pytest.raises(ValueError, match="l2"):
        EASE(l2=0.0)
    with pytest.raises(ValueError, match="k_neighbours"):
        ItemKNN(k_neighbours=0)


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.name)
def test_a_new_user_with_given_plays_is_scored_like_a_known_user_with_them(model):
    data = _block_data()
    model.fit(data)
    known = data.matrix.user_ids[0]
    plays = data.interactions[data.interactions[s.USER_ID] == known]
    given = plays.assign(**{s.USER_ID: "newcomer"})
    as_new = model.recommend_with_history(["newcomer"], given, k=3)
    as_known = model.recommend([known], k=3)
    np.testing.assert_array_equal(as_new.track_ids, as_known.track_ids)
    np.testing.assert_allclose(as_new.scores, as_known.scores, rtol=1e-5)
    assert not set(as_new.track_ids[0]) & set(plays[s.TRACK_ID])


def _taste_plays(n_users: int = 60, n_tracks: int = 40, seed: int = 0) -> sparse.csr_matrix:
    """Users of four tastes, each playing about half of its group's ten tracks."""
    rng = np.random.default_rng(seed)
    group = np.arange(n_users) % 4
    dense = (rng.random((n_users, n_tracks)) < 0.5) & (
        np.arange(n_tracks)[None, :] // 10 == group[:, None]
    )
    return sparse.csr_matrix(dense.astype(np.float32))


def test_each_l2_is_scored_by_the_ndcg_of_its_ease_on_the_held_out_plays():
    kept, held = holdout(_taste_plays(), np.random.default_rng(0))
    l2, scores = choose_ease_l2(kept, held, max_items=100, choices=(0.5, 5.0, 5000.0))
    assert set(scores) == {0.5, 5.0, 5000.0} and scores[l2] == max(scores.values())
    users, tracks = [f"u{i}" for i in range(kept.shape[0])], [f"t{j}" for j in range(40)]
    coo = kept.tocoo()
    frame = pd.DataFrame(
        {s.USER_ID: np.array(users)[coo.row], s.TRACK_ID: np.array(tracks)[coo.col], s.PLAYS: 1}
    )
    data = TrainingData(frame, pd.DataFrame({s.USER_ID: users}), pd.DataFrame({s.TRACK_ID: tracks}))
    lenders = np.flatnonzero(np.diff(held.indptr))
    for choice in scores:
        recs = EASE(l2=choice).fit(data).recommend(np.array(users, dtype=object)[lenders], k=10)
        expected = np.mean(
            [
                ndcg_at_k(list(ranked), {tracks[j] for j in held[row].indices}, 10)
                for row, ranked in zip(lenders, recs.track_ids, strict=True)
            ]
        )
        assert scores[choice] == pytest.approx(expected, rel=1e-6)


def test_without_held_out_plays_l2_falls_back_to_the_usual_value():
    plays = _taste_plays()
    empty = sparse.csr_matrix(plays.shape, dtype=np.float32)
    assert choose_ease_l2(plays, empty, max_items=100) == (EASE_FALLBACK_L2, {})


def test_ease_chooses_its_l2_unless_given_one():
    data = _block_data()
    chosen = EASE().fit(data)
    assert chosen.l2 in EASE_L2_CHOICES or chosen.l2 == EASE_FALLBACK_L2
    assert EASE(l2=3.0).fit(data).l2 == 3.0


def test_the_holdout_lends_only_part_of_some_users_plays():
    plays = _taste_plays(n_users=200)
    kept, held = holdout(plays, np.random.default_rng(1))
    np.testing.assert_array_equal((kept + held).toarray(), plays.toarray())
    assert kept.multiply(held).nnz == 0
    lenders = np.flatnonzero(np.diff(held.indptr))
    assert 0 < len(lenders) <= 0.3 * plays.shape[0]
    assert (np.diff(kept.indptr)[lenders] > 0).all()  # every lender keeps some plays
