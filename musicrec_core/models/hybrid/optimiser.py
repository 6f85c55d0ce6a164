"""The hybrid's optimiser: Adam for the network, lazy Adam for the catalogue-sized id tables.

Dense Adam reads and writes every row of the item, history and user id tables (and of the
text vocabularies) on every step, with their gradients and both moments, while a step reads a
few thousand of those rows: a cost per step that grows with the catalogue, so that an epoch
grows with plays times catalogue. The tables give sparse gradients and ``torch.optim.SparseAdam``
updates only the rows a step read, with their moments; the rest of the network keeps Adam with
weight decay. Gradients are clipped by their joint norm, sparse and dense together.
"""

from __future__ import annotations

import torch
from torch import nn


def sparse_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The weights of the model's embeddings declared ``sparse=True``."""
    return [
        module.weight
        for module in model.modules()
        if isinstance(module, nn.Embedding | nn.EmbeddingBag) and module.sparse
    ]


def clip_grad_norm(parameters: list[nn.Parameter], max_norm: float) -> torch.Tensor:
    """Scale the gradients so that their joint L2 norm is at most ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_`` does for dense ones (which it requires); returns the
    norm before clipping. Sparse gradients are coalesced first, so a row read twice counts
    once with its summed gradient."""
    norms = []
    for parameter in parameters:
        if parameter.grad is None:
            continue
        if parameter.grad.is_sparse:
            parameter.grad = parameter.grad.coalesce()
            norms.append(torch.linalg.vector_norm(parameter.grad.values()))
        else:
            norms.append(torch.linalg.vector_norm(parameter.grad))
    if not norms:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack(norms))
    scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for parameter in parameters:
        if parameter.grad is None:
            continue
        values = parameter.grad.values() if parameter.grad.is_sparse else parameter.grad
        values.mul_(scale)
    return total


class HybridOptimiser:
    """Adam (with weight decay) over the dense parameters and SparseAdam over the sparse id
    tables, stepped together, with one learning rate cut on plateaus of a score to maximise."""

    def __init__(self, model: nn.Module, learning_rate: float, weight_decay: float) -> None:
        sparse = sparse_parameters(model)
        sparse_ids = {id(p) for p in sparse}
        dense = [p for p in model.parameters() if id(p) not in sparse_ids]
        self.parameters = [*dense, *sparse]
        self.optimisers: list[torch.optim.Optimizer] = [
            torch.optim.Adam(dense, lr=learning_rate, weight_decay=weight_decay)
        ]
        if sparse:
            self.optimisers.append(torch.optim.SparseAdam(sparse, lr=learning_rate))
        self.schedulers = [
            torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, mode="max", patience=1)
            for optimiser in self.optimisers
        ]

    @property
    def learning_rate(self) -> float:
        return self.optimisers[0].param_groups[0]["lr"]

    def zero_grad(self) -> None:
        for optimiser in self.optimisers:
            optimiser.zero_grad(set_to_none=True)

    def step(self, grad_clip: float) -> None:
        """Clip the gradients by their joint norm, then update every parameter."""
        clip_grad_norm(self.parameters, grad_clip)
        for optimiser in self.optimisers:
            optimiser.step()

    def end_epoch(self, score: float) -> None:
        """Cut the learning rate tenfold after two epochs without a better ``score``."""
        for scheduler in self.schedulers:
            scheduler.step(score)
