"""The hybrid's optimiser: sparse id tables updated where read, clipping over both kinds."""

import torch
from torch import nn

from musicrec_core.models.hybrid.optimiser import (
    HybridOptimiser,
    clip_grad_norm,
    sparse_parameters,
)


class _Tiny(nn.Module):
    def __init__(self, sparse: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.ids = nn.Embedding(50, 4, sparse=sparse)
        self.text = nn.EmbeddingBag(30, 4, mode="sum", sparse=sparse)
        self.out = nn.Linear(4, 1)

    def forward(self, ids: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        weights = torch.ones(words.shape)
        return self.out(self.ids(ids) + self.text(words, per_sample_weights=weights)).sum()


def _backward(model: _Tiny) -> None:
    ids = torch.tensor([3, 7, 7, 12])
    words = torch.tensor([[1, 2], [2, 2], [5, 9], [1, 1]])
    (model(ids, words) * 40).backward()


def test_sparse_parameters_are_the_sparse_tables():
    model = _Tiny(sparse=True)
    assert sparse_parameters(model) == [model.ids.weight, model.text.weight]
    assert sparse_parameters(_Tiny(sparse=False)) == []


def test_clipping_matches_torch_on_the_same_gradients():
    sparse, dense = _Tiny(sparse=True), _Tiny(sparse=False)
    _backward(sparse)
    _backward(dense)
    expected = torch.nn.utils.clip_grad_norm_(dense.parameters(), 0.5)
    total = clip_grad_norm(list(sparse.parameters()), 0.5)
    assert torch.isclose(total, expected)
    assert expected > 0.5  # the gradients were clipped
    for mine, theirs in zip(sparse.parameters(), dense.parameters(), strict=True):
        assert torch.allclose(mine.grad.to_dense(), theirs.grad, atol=1e-6)


def test_a_step_changes_only_the_rows_it_read():
    model = _Tiny(sparse=True)
    before = model.ids.weight.detach().clone(), model.text.weight.detach().clone()
    optimiser = HybridOptimiser(model, learning_rate=0.1, weight_decay=0.01)
    optimiser.zero_grad()
    _backward(model)
    optimiser.step(grad_clip=5.0)
    changed_ids = (model.ids.weight != before[0]).any(dim=1).nonzero().ravel().tolist()
    changed_words = (model.text.weight != before[1]).any(dim=1).nonzero().ravel().tolist()
    assert changed_ids == [3, 7, 12]
    assert changed_words == [1, 2, 5, 9]
    assert optimiser.learning_rate == 0.1


def test_plateaus_cut_every_learning_rate():
    model = _Tiny(sparse=True)
    optimiser = HybridOptimiser(model, learning_rate=0.1, weight_decay=0.0)
    for score in (1.0, 0.5, 0.5, 0.5):
        optimiser.end_epoch(score)
    rates = [group["lr"] for o in optimiser.optimisers for group in o.param_groups]
    assert len(rates) == 2
    assert all(abs(rate - 0.01) < 1e-12 for rate in rates)
