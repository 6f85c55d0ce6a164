import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse

from musicrec_core.data import (
    VALIDATION,
    InteractionMatrix,
    fit_preprocessor,
    prepare,
    training_rows,
)
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.evaluation import EvaluationData
from musicrec_core.models import build_models
from musicrec_core.models.hybrid import (
    VAL_CONTENT,
    VAL_NDCG,
    VAL_STOP,
    Hybrid,
    TrainConfig,
    storage,
    validation_ndcg,
)
from musicrec_core.models.hybrid.components import item_item_scores
from musicrec_core.models.hybrid.network import HybridRecommender
from musicrec_core.models.hybrid.sampling import ListSampler
from musicrec_core.models.hybrid.training import unique_rows
from musicrec_core.models.hybrid.validation import validation_users

KEYS = {
    *("epoch", "listnet", "ils", "total", "lr", "seconds", "lists_per_second"),
    *(VAL_NDCG, VAL_CONTENT, VAL_STOP),
}


def _config(**changes) -> TrainConfig:
    base = dict(epochs=3, embedding_dim=8, hidden_dim=16, n_candidates=20, progress=False)
    return TrainConfig(**{**base, **changes})


@pytest.fixture(scope="module")
def tiny():
    data = prepare(SourceConfig(kind="synthetic", size="tiny"))
    preprocessor, _, _ = fit_preprocessor(training_rows(data.split), data.users, data.tracks)
    evaluation = EvaluationData.from_split(data.split, data.users, data.tracks)
    validation = data.split[data.split[s.SPLIT] == VALIDATION]
    return evaluation.train, preprocessor, validation


@pytest.fixture(scope="module")
def fitted(tiny):
    train, preprocessor, validation = tiny
    epochs = []
    model = Hybrid(
        _config(patience=10), preprocessor, validation, on_epoch=lambda e, m: epochs.append(e)
    )
    model.fit(train)
    return model, epochs


def test_history_has_the_per_epoch_keys_and_the_callback_sees_each_epoch(fitted):
    model, epochs = fitted
    assert [h["epoch"] for h in model.history] == epochs == [1, 2, 3]
    assert all(set(h) == KEYS for h in model.history)


def test_kept_weights_are_those_of_the_best_stopping_score(fitted):
    model, _ = fitted
    history = model.history
    for row in history:
        assert row[VAL_STOP] == pytest.approx((row[VAL_NDCG] + row[VAL_CONTENT]) / 2)
    best = max(history, key=lambda row: row[VAL_STOP])
    matrix = model.data.matrix
    validation = InteractionMatrix.build(model.validation, matrix.user_ids, matrix.track_ids).matrix
    again = validation_ndcg(model.model, matrix.matrix, validation, model.config, model.device)
    assert again == pytest.approx(best[VAL_NDCG])


def test_training_loss_decreases(fitted):
    model, _ = fitted
    losses = [h["total"] for h in model.history]
    assert losses[-1] < losses[0]


def test_seeds_make_two_runs_identical(tiny):
    train, preprocessor, validation = tiny
    first = Hybrid(_config(epochs=1), preprocessor, validation).fit(train)
    second = Hybrid(_config(epochs=1), preprocessor, validation).fit(train)
    users = train.matrix.user_ids[:5]
    np.testing.assert_array_equal(first.score(users), second.score(users))
    assert first.history[0]["total"] == second.history[0]["total"]


def test_without_validation_rows_training_holds_out_its_own(tiny):
    train, preprocessor, _ = tiny
    model = Hybrid(_config(epochs=1), preprocessor).fit(train)
    assert np.isfinite(model.history[0][VAL_NDCG])


def test_save_and_load_round_trip_gives_identical_scores(fitted, tmp_path, monkeypatch):
    model, _ = fitted
    calls = []
    original = torch.load
    monkeypatch.setattr(
        torch, "load", lambda *a, **k: calls.append(k.get("weights_only")) or original(*a, **k)
    )
    model.save(tmp_path / "hybrid", metrics={"ndcg@10": 0.1})
    loaded = Hybrid.load(tmp_path / "hybrid", model.data, model.preprocessor)
    assert calls and all(calls)  # the weights, and the kept item-item factors
    users = model.data.matrix.user_ids[:6]
    np.testing.assert_array_equal(model.score(users), loaded.score(users))
    assert (tmp_path / "hybrid" / "metrics.json").exists()


def test_a_load_over_the_training_plays_reads_the_factors_saved_with_the_model(
    fitted, tmp_path, monkeypatch
):
    model, _ = fitted
    assert model.item_item is not None and model.item_item_weight > 0
    refit = item_item_scores(
        model.config,
        model.data.matrix.matrix,
        model.device,
        model.item_item_l2,
        model.item_item_rank,
    )  # what a load would fit: the same factors as training's
    torch.testing.assert_close(refit.sources, model.item_item.sources)
    torch.testing.assert_close(refit.targets, model.item_item.targets)
    model.save(tmp_path / "hybrid")

    def no_fit(*args, **kwargs):
        raise AssertionError("the factors were refitted")

    monkeypatch.setattr(storage, "item_item_scores", no_fit)
    loaded = Hybrid.load(tmp_path / "hybrid", model.data, model.preprocessor)
    torch.testing.assert_close(loaded.item_item.sources, model.item_item.sources)


def test_recommend_with_history_for_a_new_user(fitted):
    model, _ = fitted
    given = model.data.interactions.head(3)[[s.USER_ID, s.TRACK_ID, s.PLAYS]]
    histories = given.assign(**{s.USER_ID: "newcomer"})
    recs = model.recommend_with_history(["newcomer"], histories, k=5)
    assert recs.track_ids.shape == (1, 5) and pd.notna(recs.track_ids).all()
    assert not set(recs.track_ids[0]) & set(given[s.TRACK_ID])


def test_the_registry_builds_the_hybrid(tiny):
    _, preprocessor, _ = tiny
    assert isinstance(build_models(["hybrid"], preprocessor)["hybrid"], Hybrid)


def test_every_play_is_a_target_once_per_epoch():
    plays = sparse.random(30, 60, density=0.2, format="csr", random_state=0, dtype=np.float32)
    plays.data = np.ceil(plays.data * 5)
    config = TrainConfig(history_dropout=0.0, max_positives=1000, negatives=10)
    sampler = ListSampler(plays, config, np.random.default_rng(0))
    users, parts = sampler.lists()
    batch = sampler.batch(users, parts)
    targets = sparse.csr_matrix(
        (
            np.ones(batch.positive.sum()),
            (np.repeat(users, batch.positive.sum(1)), batch.items[batch.positive]),
        ),
        shape=plays.shape,
    )
    np.testing.assert_array_equal(targets.toarray(), (plays > 0).toarray())
    for row in range(len(users)):  # history and positives never overlap
        history = set(batch.history[row][batch.history_weight[row] > 0])
        assert not history & set(batch.items[row][batch.positive[row]])


def test_sampled_negatives_carry_the_log_of_how_often_they_are_drawn():
    plays = sparse.random(40, 80, density=0.15, format="csr", random_state=1, dtype=np.float32)
    plays.data = np.ceil(plays.data * 5)
    config = TrainConfig(negatives=50, popular_negative_share=0.5)
    sampler = ListSampler(plays, config, np.random.default_rng(0))
    users, parts = sampler.lists()
    batch = sampler.batch(users[:8], parts[:8])
    listeners = np.diff(sparse.csc_matrix(plays).indptr)
    known = listeners > 0
    share = 0.5 * listeners / listeners.sum() + 0.5 * known / known.sum()
    expected = np.log(config.negatives * share[batch.items])
    negative = ~batch.positive & (np.arange(batch.items.shape[1]) >= batch.positive.sum(1).max())
    np.testing.assert_allclose(batch.log_draws[negative], expected[negative], rtol=1e-5)
    assert (batch.log_draws[batch.positive] == 0).all()
    # the draw probabilities over the tracks negatives come from sum to one
    assert np.exp(sampler.log_draws[known]).sum() / config.negatives == pytest.approx(1.0)


def test_the_lists_of_a_batch_share_their_negatives():
    plays = sparse.random(40, 80, density=0.15, format="csr", random_state=2, dtype=np.float32)
    plays.data = np.ceil(plays.data * 5)
    sampler = ListSampler(plays, TrainConfig(negatives=20), np.random.default_rng(0))
    users, parts = sampler.lists()
    batch = sampler.batch(users[:8], parts[:8])
    negatives = batch.items[:, -20:]
    assert (negatives == negatives[0]).all()
    for row, user in enumerate(users[:8]):  # a negative the user played is masked out
        played = plays[user].indices
        np.testing.assert_array_equal(batch.mask[row, -20:], ~np.isin(negatives[row], played))


def test_a_training_step_computes_only_the_tracks_its_batch_reads(tiny, monkeypatch):
    train, preprocessor, validation = tiny
    model = Hybrid(_config(epochs=1, negatives=20, batch_size=8), preprocessor, validation)
    asked: list[int] = []
    item_vectors = HybridRecommender.item_vectors

    def counting(self, items=None, id_dropout=0.0):
        if self.training:
            asked.append(self.n_items if items is None else len(items))
        return item_vectors(self, items, id_dropout)

    monkeypatch.setattr(HybridRecommender, "item_vectors", counting)
    model.fit(train)
    assert asked and max(asked) < model.model.n_items


def test_validation_ranks_the_same_bounded_sample_of_users_each_time():
    validation = sparse.csr_matrix(np.eye(50, 10, dtype=np.float32) + np.eye(50, 10, k=-10))
    config = TrainConfig(validation_users=7, seed=3)
    first = validation_users(validation, config)
    assert len(first) == 7 and len(set(first)) == 7
    np.testing.assert_array_equal(first, validation_users(validation, config))
    assert set(first) <= set(np.flatnonzero(np.diff(validation.indptr) > 0))
    everyone = validation_users(validation, TrainConfig(validation_users=None))
    np.testing.assert_array_equal(everyone, np.flatnonzero(np.diff(validation.indptr) > 0))


def test_unique_rows_equals_torch_unique():
    generator = torch.Generator().manual_seed(0)
    for n in (1, 7, 300):
        rows = torch.randint(0, n, (16, 25), generator=generator)
        expected = torch.unique(rows, return_inverse=True)
        for mine, theirs in zip(unique_rows(rows, n), expected, strict=True):
            assert torch.equal(mine, theirs)
