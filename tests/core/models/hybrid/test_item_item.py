"""Item-item scores (EASE, low-rank EASE above the cap) of candidates and their fusion with the
head."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse

from musicrec_core.data import fit_preprocessor, prepare, training_rows
from musicrec_core.data.sources import SourceConfig
from musicrec_core.evaluation import EvaluationData
from musicrec_core.models import (
    EASE,
    EASE_FALLBACK_L2,
    EASE_L2_CHOICES,
    TrainingData,
    weighted_matrix,
)
from musicrec_core.models.hybrid import Hybrid, ItemItemScores, TrainConfig, components, item_item
from musicrec_core.models.hybrid.fusion import fuse, standardise
from musicrec_core.models.hybrid.sampling import flat_history
from musicrec_core.models.low_rank_ease import low_rank_ease_factors, low_rank_gram

CPU = torch.device("cpu")


@pytest.fixture
def plays() -> sparse.csr_matrix:
    """Six users x eight tracks with play counts; track 7 is never played, user 5 plays nothing."""
    rng = np.random.default_rng(3)
    dense = rng.integers(0, 4, size=(6, 8)) * (rng.random((6, 8)) < 0.6)
    dense[:, 7] = 0
    dense[5] = 0
    dense[0, :3] = [2, 1, 5]
    return sparse.csr_matrix(dense.astype(np.float32))


@pytest.fixture(scope="module")
def tiny_training() -> tuple[TrainingData, object]:
    data = prepare(SourceConfig(kind="synthetic", size="tiny"))
    preprocessor, _, _ = fit_preprocessor(training_rows(data.split), data.users, data.tracks)
    return EvaluationData.from_split(data.split, data.users, data.tracks).train, preprocessor


def _ease_scores(plays: sparse.csr_matrix, l2: float) -> np.ndarray:
    """Full-catalogue EASE (binary) scores of every row, from the baseline model."""
    users = [f"u{i}" for i in range(plays.shape[0])]
    tracks = [f"t{j}" for j in range(plays.shape[1])]
    coo = plays.tocoo()
    frame = pd.DataFrame(
        {
            "user_id": np.array(users, dtype=object)[coo.row],
            "track_id": np.array(tracks, dtype=object)[coo.col],
            "plays": coo.data.astype(np.int64),
        }
    )
    data = TrainingData(frame, pd.DataFrame({"user_id": users}), pd.DataFrame({"track_id": tracks}))
    return EASE(l2=l2).fit(data).score(np.array(users, dtype=object))


def test_candidate_scores_are_the_ease_scores_of_the_candidates(plays):
    scorer = ItemItemScores.fit(plays, l2=2.0, max_tracks=100, rank=16, device=CPU)
    index, offsets, _ = flat_history(plays, CPU)
    candidates = torch.tensor([[0, 3, 7], [1, 2, 4], [5, 6, 0], [7, 1, 3], [2, 2, 6], [0, 1, 2]])
    got = scorer.evidence(index, offsets).scores(candidates).numpy()
    ease = _ease_scores(plays, 2.0)
    played = np.flatnonzero(plays.getnnz(axis=0))
    ease[:, 7] = ease[:, played].mean(axis=1)  # an unplayed track: the user's average
    expected = np.take_along_axis(ease, candidates.numpy(), axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert (got[5] == 0).all()  # a user without plays has no evidence


def test_a_lower_rank_approximates_the_ease_scores(plays):
    index, offsets, _ = flat_history(plays, CPU)
    candidates = torch.arange(7).repeat(6, 1)  # the played tracks
    expected = _ease_scores(plays, 2.0)[:, :7]
    errors = []
    for rank in (2, 4, 7):
        scorer = ItemItemScores.fit(plays, l2=2.0, max_tracks=100, rank=rank, device=CPU)
        assert scorer.sources.shape == (8, rank)
        got = scorer.evidence(index, offsets).scores(candidates).numpy()
        errors.append(np.abs(got - expected).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-4  # seven played tracks: rank 7 is B itself


def test_a_truncation_keeps_the_leading_factors_of_the_fit(plays):
    index, offsets, _ = flat_history(plays, CPU)
    whole = ItemItemScores.fit(plays, l2=2.0, max_tracks=100, rank=16, device=CPU)
    low = whole.truncated(3)
    assert low.rank == 3 and whole.rank == 7  # no more factors than played tracks
    torch.testing.assert_close(low.sources, whole.sources[:, :3])
    evidence = low.evidence(index, offsets)
    direct = ItemItemScores.fit(plays, l2=2.0, max_tracks=100, rank=3, device=CPU)
    expected = direct.evidence(index, offsets)
    # the best rank-3 approximation either way, whatever the signs of the factors
    torch.testing.assert_close(
        evidence.pooled @ evidence.targets.T,
        expected.pooled @ expected.targets.T,
        atol=1e-4,
        rtol=1e-4,
    )


@pytest.mark.parametrize("l2", [2.0, None])
def test_above_the_cap_the_factors_are_low_rank_eases_ordered_by_eigenvalue(plays, l2):
    scorer = ItemItemScores.fit(plays, l2=l2, max_tracks=3, rank=4, device=CPU)
    assert scorer.kind == "low_rank_ease" and scorer.rank == 4
    gram = low_rank_gram(weighted_matrix(plays, "binary"), 4)
    sources, targets = low_rank_ease_factors(gram, EASE_FALLBACK_L2 if l2 is None else l2)
    played = slice(0, 7)  # track 7 is unplayed: no sources, the mean target
    product = scorer.sources[played] @ scorer.targets[played].T
    torch.testing.assert_close(product, torch.as_tensor(sources @ targets.T))
    assert (scorer.sources[7] == 0).all()
    weights = scorer.sources.norm(dim=0)
    assert (weights[:-1] >= weights[1:]).all()  # first columns: the best lower-rank truncation
    assert scorer.truncated(2).kind == "low_rank_ease"


def test_the_hybrid_takes_low_rank_factors_above_its_cap_with_l2_chosen(
    tiny_training, tmp_path, monkeypatch
):
    train, preprocessor = tiny_training
    found = []  # the plays whose eigenpairs were found: the λ search's are the fit's

    def counted_gram(x, rank, seed=0):
        found.append((x.shape, x.nnz))
        return low_rank_gram(x, rank, seed)

    monkeypatch.setattr(components, "low_rank_gram", counted_gram)
    monkeypatch.setattr(item_item, "low_rank_gram", counted_gram)
    config = TrainConfig(
        epochs=1,
        embedding_dim=8,
        hidden_dim=16,
        n_candidates=20,
        progress=False,
        item_item_max_tracks=10,
        item_item_low_rank=72,
        item_item_weight=1.0,
        item_item_retrieval_weight=1.0,
        content_weight=0.0,
    )
    model = Hybrid(config, preprocessor).fit(train)
    assert len(found) == len(set(found)) == 2  # the training plays', then every play's
    monkeypatch.undo()
    assert model.item_item_kind == "low_rank_ease" and model.item_item_rank in (64, 72)
    assert model.item_item_l2 in EASE_L2_CHOICES
    assert list(model.item_item_l2_validation) == list(EASE_L2_CHOICES)
    assert set(model.item_item_rank_validation) == {64, 72}  # no EASE rank above its own
    scores = model.score(train.matrix.user_ids[:3])
    assert scores.shape == (3, len(train.matrix.track_ids)) and np.isfinite(scores).all()
    loaded = Hybrid.load(model.save(tmp_path / "model"), model.data)  # factors found again
    assert loaded.item_item_kind == "low_rank_ease"
    np.testing.assert_array_equal(loaded.score(train.matrix.user_ids[:3]), scores)


def test_standardise_gives_zero_where_a_row_has_no_spread():
    values = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 4.0, 4.0, 4.0]])
    valid = torch.tensor([[True, True, True, False], [True, True, True, True]])
    out = standardise(values, valid)
    np.testing.assert_allclose(out[0, :3].numpy(), [-1.2247, 0.0, 1.2247], atol=1e-4)
    assert (out[1] == 0).all()


def test_fuse_without_prior_or_weight_keeps_the_head_scores():
    head = torch.tensor([[3.0, 1.0, 2.0]])
    valid = torch.ones_like(head, dtype=torch.bool)
    prior = torch.tensor([[0.0, 10.0, 0.0]])
    assert torch.equal(fuse(head, None, valid, 1.0), head)
    assert torch.equal(fuse(head, prior, valid, 0.0), head)
    fused = fuse(head, prior, valid, 4.0)
    assert int(fused.argmax()) == 1  # a strong enough prior reorders the head's list
