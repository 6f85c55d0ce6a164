import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from musicrec_core.data import features, fit_preprocessor, prepare, training_rows
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.evaluation import EvaluationData
from musicrec_core.models import TrainingData, mask_played
from musicrec_core.models.hybrid import (
    CONTENT_WEIGHTS,
    ITEM_ITEM_WEIGHTS,
    CatalogueInputs,
    Hybrid,
    HybridRecommender,
    TrainConfig,
)
from musicrec_core.models.hybrid.components import ITEM_ITEM_RANKS
from musicrec_core.models.hybrid.fusion import (
    ContentBoost,
    boost_content,
    reassign_numpy,
    reassign_torch,
)
from musicrec_core.models.hybrid.inputs import user_ages
from musicrec_core.models.hybrid.network import AGE_CENTRES, age_basis
from musicrec_core.models.hybrid.sampling import flat_history
from musicrec_core.models.hybrid.two_stage import (
    LIKELY_FIRST_MIN_USERS,
    build_retrieval,
    head_scores,
    two_stage,
    two_stage_top,
)

CONFIG = TrainConfig(epochs=1, embedding_dim=8, hidden_dim=16, n_candidates=20, progress=False)


@pytest.fixture(scope="module")
def tiny():
    data = prepare(SourceConfig(kind="synthetic", size="tiny"))
    preprocessor, _, _ = fit_preprocessor(training_rows(data.split), data.users, data.tracks)
    evaluation = EvaluationData.from_split(data.split, data.users, data.tracks)
    return evaluation.train, preprocessor


@pytest.fixture(scope="module")
def fitted(tiny):
    train, preprocessor = tiny
    return Hybrid(CONFIG, preprocessor).fit(train)


def test_towers_and_head_shapes(tiny):
    train, preprocessor = tiny
    inputs = CatalogueInputs.build(train.tracks, train.users, preprocessor)
    model = HybridRecommender(inputs, embedding_dim=8, hidden_dim=16).eval()
    items = model.item_vectors()
    assert items.shape == (len(train.tracks), 9)
    users = torch.arange(3)
    history = torch.tensor([[0, 1], [2, 0], [0, 0]])
    weight = torch.tensor([[1.0, 2.0], [1.0, 0.0], [0.0, 0.0]])
    vectors = model.user_vectors(users, history, weight, items)
    assert vectors.shape == (3, 8)
    assert model.dot(vectors, items).shape == (3, len(train.tracks))
    assert model(vectors, items[torch.tensor([[0, 1], [2, 3], [4, 5]])]).shape == (3, 2)


def test_item_id_dropout_changes_vectors_and_unplayed_tracks_use_content(tiny):
    train, preprocessor = tiny
    model = HybridRecommender(CatalogueInputs.build(train.tracks, train.users, preprocessor))
    model.item_known[:] = True
    model.item_known[0] = False
    model.train()
    torch.manual_seed(0)
    all_ids = model.item_vectors(torch.arange(64))
    torch.manual_seed(0)
    dropped = model.item_vectors(torch.arange(64), id_dropout=1.0)
    assert not torch.allclose(all_ids, dropped)
    model.eval()
    unknown = model.item_vectors(torch.tensor([0]))
    assert torch.isfinite(unknown).all()


def test_never_played_tracks_have_vectors_and_scores(fitted):
    played = np.asarray(fitted.data.matrix.matrix.sum(axis=0)).ravel() > 0
    assert (~played).any()
    vectors = fitted.item_vectors()
    assert vectors.shape[0] == len(played) and np.isfinite(vectors[~played]).all()
    scores = fitted.score(fitted.data.matrix.user_ids[:5])
    assert np.isfinite(scores[:, ~played]).all()


def test_two_stage_score_puts_the_reranked_candidates_on_top(fitted):
    user_ids = fitted.data.matrix.user_ids[:4]
    scores = fitted.score(user_ids)
    rows = fitted.data.matrix.user_index(user_ids)
    dot = torch.from_numpy(fitted.user_vectors(user_ids) @ fitted.item_vectors().T)
    retrieval = boost_content(dot, fitted._boost(fitted.data.matrix.matrix[rows])).numpy()
    n = CONFIG.n_candidates
    for row, user_scores, dot in zip(rows, scores, retrieval, strict=True):
        played = fitted.data.matrix.matrix[row].toarray().ravel() > 0
        dot = np.where(played, -np.inf, dot)
        candidates = np.argsort(-dot, kind="stable")[:n]
        top = np.argsort(-user_scores, kind="stable")[:n]
        assert set(top) == set(candidates)
        head = fitted.rerank([fitted.data.matrix.user_ids[row]], candidates[None, :])[0]
        order = candidates[np.argsort(-head, kind="stable")]
        assert user_scores[order[0]] == user_scores[candidates].max()


def test_scores_of_some_tracks_are_those_columns_of_the_full_scores(fitted):
    """Candidates are still drawn from every track: the re-ranked ones among the columns keep
    their lifted scores, in any order of columns."""
    user_ids = fitted.data.matrix.user_ids[:6]
    full = fitted.score(user_ids)
    columns = np.arange(fitted.model.n_items)[::-3]
    some = fitted.score_tracks(user_ids, columns)
    np.testing.assert_array_equal(some, full[:, columns])
    candidates = np.argsort(-full, axis=1, kind="stable")[:, : CONFIG.n_candidates]
    assert np.isin(candidates, columns).any()


def test_recommend_never_returns_a_played_track(fitted):
    user_ids = fitted.data.matrix.user_ids
    recs = fitted.recommend(user_ids, k=10)
    played = fitted.data.interactions.groupby(s.USER_ID)[s.TRACK_ID].agg(set)
    for user, tracks in zip(recs.user_ids, recs.track_ids, strict=True):
        assert not set(tracks) & played.get(user, set())


def test_cold_user_gets_a_demographic_vector(fitted):
    vectors = fitted.user_vectors(np.array(["nobody"], dtype=object))
    assert np.isfinite(vectors).all()
    recs = fitted.recommend(np.array(["nobody"], dtype=object), k=5)
    assert pd.notna(recs.track_ids).all()


def test_recommend_is_the_top_of_the_full_two_stage_ranking(fitted):
    user_ids = np.append(fitted.data.matrix.user_ids[:10], "nobody")
    scores = fitted.score(user_ids).astype(np.float64)
    mask_played(scores, fitted.data.matrix, user_ids)
    k = CONFIG.n_candidates + 10  # past the re-ranked band, into dot-product order
    expected = fitted.best(user_ids, scores, k)
    got = fitted.recommend(user_ids, k=k)
    np.testing.assert_array_equal(got.track_ids, expected.track_ids)
    np.testing.assert_allclose(got.scores, expected.scores, rtol=1e-5)


def test_a_listener_alone_gets_the_list_they_get_in_a_large_batch(fitted):
    user_ids = fitted.data.matrix.user_ids[: 2 * LIKELY_FIRST_MIN_USERS]
    batch = fitted.recommend(user_ids, k=CONFIG.n_candidates + 10)
    for row in range(0, len(user_ids), 7):
        alone = fitted.recommend(user_ids[row : row + 1], k=CONFIG.n_candidates + 10)
        np.testing.assert_array_equal(alone.track_ids[0], batch.track_ids[row])
        np.testing.assert_allclose(alone.scores[0], batch.scores[row], rtol=1e-5)


def test_eval_head_with_folded_batchnorm_matches_the_modules(fitted):
    model = fitted.model.eval()
    torch.manual_seed(0)
    users = torch.randn(5, model.dim)
    items = torch.randn(5, 7, model.dim + 1)
    with torch.no_grad():
        d = model.dim
        item = items[..., :d]
        pairs = torch.cat([users.unsqueeze(1).expand_as(item), item, users.unsqueeze(1) * item], -1)
        expected = model.head(pairs.reshape(-1, 3 * d)).reshape(5, 7)
        np.testing.assert_allclose(model.correction(users, items), expected, rtol=1e-4, atol=1e-5)


def test_item_item_rank_and_weights_are_chosen_on_validation_and_kept_by_save(fitted, tmp_path):
    assert fitted.item_item_rank in ITEM_ITEM_RANKS
    assert set(fitted.item_item_rank_validation) == set(ITEM_ITEM_RANKS)
    assert fitted.item_item_weight in ITEM_ITEM_WEIGHTS
    assert fitted.item_item_retrieval_weight in ITEM_ITEM_WEIGHTS
    assert set(fitted.item_item_validation) == set(ITEM_ITEM_WEIGHTS)
    assert set(fitted.item_item_retrieval_validation) == set(ITEM_ITEM_WEIGHTS)
    # the retrieval weight is searched with the head's at its choice: no fusion in retrieval
    # scores what the head's search found best
    head_best = fitted.item_item_validation[fitted.item_item_weight]
    assert fitted.item_item_retrieval_validation[0.0] == pytest.approx(head_best)
    loaded = Hybrid.load(fitted.save(tmp_path / "model"), fitted.data)
    chosen = ("item_item_rank", "item_item_weight", "item_item_retrieval_weight")
    assert [getattr(loaded, name) for name in chosen] == [getattr(fitted, name) for name in chosen]
    users = fitted.data.matrix.user_ids[:8]
    np.testing.assert_array_equal(fitted.score(users), loaded.score(users))


def test_item_item_evidence_changes_retrieval_and_the_top_is_that_of_the_full_ranking(tiny):
    train, preprocessor = tiny
    off = {"item_item_weight": 0.0, "item_item_retrieval_weight": 0.0}
    on = {"item_item_weight": 8.0, "item_item_retrieval_weight": 8.0}
    plain = Hybrid(dataclasses.replace(CONFIG, **off), preprocessor).fit(train)
    fused = Hybrid(dataclasses.replace(CONFIG, **on), preprocessor).fit(train)
    assert plain.item_item is None and fused.item_item is not None
    users = train.matrix.user_ids
    n = CONFIG.n_candidates
    plain_top = plain.recommend(users, k=n).track_ids
    fused_top = fused.recommend(users, k=n).track_ids
    assert any(set(a) != set(b) for a, b in zip(plain_top, fused_top, strict=True))
    scores = fused.score(users).astype(np.float64)
    mask_played(scores, fused.data.matrix, users)
    np.testing.assert_array_equal(fused.best(users, scores, n).track_ids, fused_top)


def test_fused_retrieval_ranks_as_the_sum_of_z_scores_and_gives_back_the_dot(fitted):
    users = fitted.data.matrix.user_ids[:8]
    history = flat_history(fitted._training_rows(users), fitted.device)
    with torch.no_grad():
        vectors = fitted._user_vectors(users, history)
        table = fitted.item_table()
        evidence = fitted.item_item.evidence(history[0], history[1], retrieval_weight=2.0)
        retrieval = build_retrieval(fitted.model, vectors, table, evidence)
        fused = retrieval.users @ retrieval.items.T
        dot = fitted.model.dot(vectors, table)
        scores = evidence.pooled @ evidence.targets.T

    def z(x: torch.Tensor) -> torch.Tensor:
        return (x - x.mean(dim=1, keepdim=True)) / x.std(dim=1, correction=0, keepdim=True)

    expected = z(dot) + 2.0 * z(scores)
    torch.testing.assert_close(
        fused - fused.mean(dim=1, keepdim=True), expected, rtol=1e-3, atol=1e-3
    )
    back = retrieval.scaled_dot(fused) - retrieval.evidence_weight * scores
    torch.testing.assert_close(back, dot, rtol=1e-3, atol=1e-3)


def test_content_boost_reorders_only_its_tracks_and_keeps_their_scores():
    torch.manual_seed(0)
    scores = torch.randn(3, 10)
    columns = torch.tensor([2, 5, 7])
    similarity = torch.randn(3, 3)
    out = boost_content(scores.clone(), ContentBoost(columns, lambda rows: similarity[rows], 2.0))
    others = torch.ones(10, dtype=torch.bool)
    others[columns] = False
    torch.testing.assert_close(out[:, others], scores[:, others])
    before, after = scores[:, columns], out[:, columns]
    assert torch.equal(after.sort(1).values, before.sort(1).values)

    def z(x):
        return (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True)

    mixed = z(before) + 2.0 * z(similarity)
    assert torch.equal(after.argsort(1), mixed.argsort(1))
    off = ContentBoost(columns, lambda rows: similarity[rows], 0.0)
    assert torch.equal(boost_content(scores.clone(), off), scores)


def test_the_rank_mapping_agrees_on_the_cpu_and_accelerator_routes():
    """Serving on the CPU sorts with numpy, elsewhere with torch: both must place the same
    values, excluded places (-inf) staying excluded."""
    torch.manual_seed(0)
    values = torch.randn(6, 9)
    order_by = torch.randn(6, 9)
    values[1, 3] = order_by[1, 3] = float("-inf")
    cpu, accelerator = reassign_numpy(values, order_by), reassign_torch(values, order_by)
    torch.testing.assert_close(cpu, accelerator)
    assert cpu[1, 3] == float("-inf")
    assert torch.equal(cpu.argsort(1), order_by.argsort(1))


@pytest.mark.parametrize("blocks", [False, True], ids=["one-block", "blocks"])
def test_two_stage_top_with_a_content_boost_is_the_top_of_the_boosted_ranking(
    fitted, monkeypatch, blocks
):
    """The top path fuses only the users whose top the boost can change; its result must be
    the full ranking's top for every user, those with a boosted track in reach and those
    without, whether users are served in one block or several (exclusions in any order)."""
    import musicrec_core.models.hybrid.two_stage as two_stage_module

    if blocks:
        monkeypatch.setattr(
            two_stage_module, "RETRIEVAL_BLOCK", 16 * fitted.model.n_items
        )  # 16 users
        monkeypatch.setattr(two_stage_module, "RETRIEVAL_MIN_USERS", 1)
        monkeypatch.setattr(two_stage_module, "HEAD_BLOCK", 7 * 10)
    model = fitted.model.eval()
    n_users, n_items = 40, model.n_items
    torch.manual_seed(0)
    with torch.no_grad():
        table = fitted.item_table()
        users = torch.randn(1, model.dim).repeat(n_users, 1)
        users[1::2] = -users[1::2]
        users += 0.01 * torch.randn(n_users, model.dim)
        dot = model.dot(users, table)
        # tracks within the even users' reach, at the foot of the odd users' ranking
        order = dot[0].argsort(descending=True)
        columns = order[5:15]
        similarity = torch.rand(n_users, len(columns))
        fused_rows = []

        def similarity_of(rows):
            fused_rows.append(rows)
            return similarity[rows]

        boost = ContentBoost(columns, similarity_of, 4.0)
        exclude = torch.zeros(n_users, n_items, dtype=torch.bool)
        exclude[::3, order[:8]] = True
        exclude[1::4, columns[:3]] = True
        exclude[2::4, columns[3:5]] = True
        full = two_stage(model, users, table, exclude, 10, boost=boost)
        rows, cols = exclude.nonzero(as_tuple=True)
        if blocks:
            shuffled = torch.randperm(len(rows))
            rows, cols = rows[shuffled], cols[shuffled]
        top, values = two_stage_top(model, users, table, (rows, cols), 10, 25, boost=boost)
    expected = full.masked_fill(exclude, float("-inf")).topk(25, dim=1)
    np.testing.assert_array_equal(top.numpy(), expected.indices.numpy())
    np.testing.assert_allclose(values.numpy(), expected.values.numpy(), rtol=1e-5)
    # the full ranking fused every user, the top path only even ones, in every block
    assert len(fused_rows) == 2 and len(fused_rows[0]) == n_users
    assert len(fused_rows[1]) and set(fused_rows[1].tolist()) <= set(range(0, n_users, 2))
    assert fused_rows[1].max() >= 32


def test_content_weight_is_chosen_on_validation_and_kept_by_save(fitted, tmp_path):
    assert fitted.content_weight in CONTENT_WEIGHTS
    assert set(fitted.content_validation) == set(CONTENT_WEIGHTS)
    loaded = Hybrid.load(fitted.save(tmp_path / "model"), fitted.data)
    assert loaded.content_weight == fitted.content_weight


def test_content_fusion_reorders_only_tracks_known_by_content(tiny):
    train, preprocessor = tiny
    config = dataclasses.replace(CONFIG, n_candidates=0)  # the dot scores themselves
    plain = Hybrid(dataclasses.replace(config, content_weight=0.0), preprocessor).fit(train)
    fused = Hybrid(dataclasses.replace(config, content_weight=4.0), preprocessor).fit(train)
    unknown = ~plain.model.item_known.cpu().numpy()
    users = train.matrix.user_ids
    before, after = plain.score(users), fused.score(users)
    np.testing.assert_array_equal(before[:, ~unknown], after[:, ~unknown])
    assert (before[:, unknown].argsort(1) != after[:, unknown].argsort(1)).any()
    nobody = np.array(["nobody"], dtype=object)  # no plays, no similarity: nothing moves
    np.testing.assert_allclose(plain.score(nobody), fused.score(nobody), rtol=1e-5, atol=1e-5)


def test_only_tracks_nobody_has_played_are_ranked_by_content_similarity(fitted, tmp_path):
    data = fitted.data
    listeners = np.asarray((data.matrix.matrix > 0).sum(axis=0)).ravel()
    unknown = np.flatnonzero(~fitted.model.item_known.cpu().numpy() & (listeners == 0))
    assert len(unknown) > 1
    assert sorted(fitted._never_played().tolist()) == unknown.tolist()
    since_training = data.interactions.iloc[:1].assign(
        **{s.TRACK_ID: data.matrix.track_ids[unknown[0]]}
    )
    grown = TrainingData(pd.concat([data.interactions, since_training]), data.users, data.tracks)
    loaded = Hybrid.load(fitted.save(tmp_path / "model"), grown)
    assert sorted(loaded._never_played().tolist()) == unknown[1:].tolist()


def test_head_scores_in_blocks_of_users_match_one_pass(fitted, monkeypatch):
    import musicrec_core.models.hybrid.two_stage as two_stage_module

    users = fitted.data.matrix.user_ids[:10]
    plays = fitted._training_rows(users)
    history = flat_history(plays, fitted.device)
    with torch.no_grad():
        vectors = fitted._user_vectors(users, history)
        table = fitted.item_table()
        dot, candidates = fitted.model.dot(vectors, table).topk(6, dim=1)
        prior = fitted.item_item.evidence(history[0], history[1])
        whole = head_scores(fitted.model, vectors, table, candidates, dot, prior)
        monkeypatch.setattr(two_stage_module, "HEAD_BLOCK", 3 * 6)
        blocks = head_scores(fitted.model, vectors, table, candidates, dot, prior)
    torch.testing.assert_close(blocks[0], whole[0])
    torch.testing.assert_close(blocks[1], whole[1])
    torch.testing.assert_close(whole[1], prior.scores(candidates))


def test_ages_are_read_in_years_and_unknown_ones_are_nan():
    users = pd.DataFrame({s.AGE: [25, "31", None, "old", 300]})
    np.testing.assert_array_equal(
        user_ages(users), np.array([25, 31, np.nan, np.nan, s.AGE_RANGE[1]], np.float32)
    )
    assert np.isnan(user_ages(pd.DataFrame(index=range(2)))).all()


def test_the_age_basis_peaks_at_its_centre_and_is_zero_for_an_unknown_age():
    basis = age_basis(torch.tensor([float(AGE_CENTRES[3]), float("nan")]))
    assert basis[0].argmax() == 3 and basis[0, 3] == pytest.approx(1.0)
    assert (basis[1] == 0).all()


def test_the_user_tower_tells_ages_within_one_age_group_apart(tiny):
    train, preprocessor = tiny
    users = pd.DataFrame(
        {s.USER_ID: ["a", "b", "c"], s.AGE: [28, 40, 28], s.GENDER: ["F", "F", "F"]}
    )
    users[s.AGE_GROUP] = features.age_group(users[s.AGE])
    assert users[s.AGE_GROUP].nunique() == 1
    inputs = CatalogueInputs.build(train.tracks, users, preprocessor)
    model = HybridRecommender(inputs, embedding_dim=8, hidden_dim=16).eval()
    model.user_embedding.weight.data[:] = 0.0  # only demographics tell the three apart
    no_plays = torch.zeros(3, 1, dtype=torch.long), torch.zeros(3, 1)
    vectors = model.user_vectors(torch.arange(3), *no_plays, model.item_vectors())
    torch.testing.assert_close(vectors[0], vectors[2])
    assert not torch.allclose(vectors[0], vectors[1])


def _listeners(*rows: tuple[str, float, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[s.USER_ID, s.AGE, s.GENDER])
    return frame.assign(**{s.AGE_GROUP: features.age_group(frame[s.AGE]).astype(object)})


def test_a_new_listener_is_placed_by_the_age_and_gender_given(fitted):
    no_plays = pd.DataFrame(columns=[s.USER_ID, s.TRACK_ID, s.PLAYS])
    young, old = (
        fitted.recommend_new(_listeners(("new", age, "F")), no_plays, k=10).track_ids[0]
        for age in (19.0, 75.0)
    )
    assert list(young) != list(old)
    unknown = fitted.recommend_new(_listeners(("new", np.nan, "U")), no_plays, k=10)
    default = fitted.recommend_with_history(np.array(["new"], dtype=object), no_plays, k=10)
    np.testing.assert_array_equal(unknown.track_ids, default.track_ids)


def test_a_new_listeners_given_plays_are_never_recommended(fitted):
    played = fitted.data.matrix.track_ids[:3]
    history = pd.DataFrame({s.USER_ID: "new", s.TRACK_ID: played, s.PLAYS: 1})
    recs = fitted.recommend_new(_listeners(("new", 30.0, "M")), history, k=20)
    assert pd.notna(recs.track_ids).all() and not set(recs.track_ids[0]) & set(played)
