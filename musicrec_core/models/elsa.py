"""ELSA (Vančura et al., RecSys 2022), the scalable item-item model: EASE's ``x B`` with B kept
as ``A Aᵀ - I`` for an n_tracks x rank matrix A, so memory grows with the catalogue times the
rank and fitting with the plays, not with the catalogue squared."""

from __future__ import annotations

import logging

import numpy as np
import torch
from scipy import sparse
from torch.nn import functional as F

from musicrec_core.data.interactions import played_columns
from musicrec_core.models.adam import adam
from musicrec_core.models.play_rows import PlayRowRecommender, weighted_matrix
from musicrec_core.models.recommender import TrainingData

logger = logging.getLogger(__name__)

ELSA_RANK = 256
ELSA_EPOCHS = 20
# Users per step: at least this many, and enough for at most ``ELSA_STEPS_PER_EPOCH`` steps,
# so that an epoch's Gram work (tracks x rank² per step) does not grow with the users.
ELSA_BATCH_USERS = 1024
ELSA_STEPS_PER_EPOCH = 16
ELSA_LEARNING_RATE = 0.1
# Plays hidden from the input (not the target) per step, as a denoising autoencoder does: on
# the demo catalogue 0.5 lifted warm NDCG@10 from 0.093 to 0.097 (EASE 0.100), on Echo Nest it
# changed nothing (0.088); more epochs or rank fitted both worse (docs/benchmarks.md).
ELSA_DROPOUT = 0.5


class ELSA(PlayRowRecommender):
    """Scalable Linear Shallow Autoencoder: ``score = x A Aᵀ - x`` over binary plays.

    A's rows (one per played track) are L2-normalised, so ``diag(A Aᵀ - I) = 0`` as in EASE.
    A is trained with Adam on minibatches of users' rows by the paper's normalised MSE,
    ``|x/|x| - p/|p||²`` for ``p = y A Aᵀ - y``, y being x with ``dropout`` of its plays
    hidden at random (0: the paper's loss); its norms are taken through the rank x rank
    Gram matrix ``AᵀA``, so a step costs plays x rank + tracks x rank², and the dense
    users x tracks reconstruction is never built. Tracks nobody played score 0 and users
    without plays get zeros, as in ``EASE``. Seeded and deterministic on the CPU; ``device``
    "auto" picks CUDA.
    """

    name = "elsa"
    weighting = "binary"

    def __init__(
        self,
        rank: int = ELSA_RANK,
        epochs: int = ELSA_EPOCHS,
        batch_users: int = ELSA_BATCH_USERS,
        learning_rate: float = ELSA_LEARNING_RATE,
        seed: int = 0,
        device: str = "auto",
        dropout: float = ELSA_DROPOUT,
    ) -> None:
        if rank < 1 or epochs < 1 or batch_users < 1:
            raise ValueError(
                f"rank, epochs and batch_users must be positive; got {rank}, {epochs}, "
                f"{batch_users}"
            )
        self.rank = rank
        self.epochs = epochs
        self.batch_users = batch_users
        self.learning_rate = learning_rate
        self.seed = seed
        self.device = device
        self.dropout = dropout

    def _fit(self, data: TrainingData) -> None:
        x = weighted_matrix(data.matrix, self.weighting)
        self.n_tracks = x.shape[1]
        self.weighted = x
        self.items, factors = elsa_factors(
            x,
            self.rank,
            self.epochs,
            self.batch_users,
            self.learning_rate,
            self.seed,
            _device(self.device),
            self.dropout,
        )
        self.A = factors.cpu().numpy()
        logger.info(
            "elsa: %d of %d tracks played, rank %d, %d epochs",
            len(self.items),
            self.n_tracks,
            self.A.shape[1],
            self.epochs,
        )

    def _score_rows(self, x: sparse.csr_matrix) -> np.ndarray:
        out = np.zeros((x.shape[0], self.n_tracks), dtype=np.float32)
        if len(self.items):
            played = x[:, self.items]
            out[:, self.items] = (played @ self.A) @ self.A.T - played.toarray()
        return out


def elsa_factors(
    x: sparse.csr_matrix,
    rank: int,
    epochs: int,
    batch_users: int,
    learning_rate: float,
    seed: int,
    device: torch.device,
    dropout: float = ELSA_DROPOUT,
) -> tuple[np.ndarray, torch.Tensor]:
    """The played-track columns of ``x`` (users x tracks, binary) and ELSA's row-normalised A
    over them (float32, on ``device``), trained as ``ELSA`` describes in batches of at least
    ``batch_users`` users."""
    items = played_columns(x)
    x = sparse.csr_matrix(x[:, items])
    x = x[np.flatnonzero(np.diff(x.indptr) > 0)]  # users without plays carry no loss
    generator = torch.Generator().manual_seed(seed)
    weights = torch.empty(len(items), rank)
    torch.nn.init.xavier_uniform_(weights, generator=generator)
    weights = weights.to(device).requires_grad_()
    optimiser = adam([weights], device, learning_rate)
    rng = np.random.default_rng(seed)
    batch_users = max(batch_users, -(-x.shape[0] // ELSA_STEPS_PER_EPOCH))
    for epoch in range(epochs):
        total = 0.0
        order = rng.permutation(x.shape[0])
        for start in range(0, len(order), batch_users):
            block = x[order[start : start + batch_users]]
            index, offsets = _bags(block, device)
            kept = _bags(_dropped(block, dropout, rng), device) if dropout else (index, offsets)
            optimiser.zero_grad(set_to_none=True)
            loss = _normalised_mse(F.normalize(weights, dim=1), index, offsets, *kept)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(offsets)
        logger.debug("elsa: epoch %d loss %.5f", epoch + 1, total / max(x.shape[0], 1))
    return items, F.normalize(weights.detach(), dim=1)


def _normalised_mse(
    a: torch.Tensor,
    index: torch.Tensor,
    offsets: torch.Tensor,
    kept_index: torch.Tensor,
    kept_offsets: torch.Tensor,
) -> torch.Tensor:
    """Mean over the users of ``|x/|x| - p/|p||² = 2 - 2 <x, p> / (|x| |p|)`` for binary rows
    x and ``p = y A Aᵀ - y`` from their kept plays y (a subset of x): with ``h = y A``,
    ``<x, p> = x A hᵀ - |y|²`` and ``|p|² = h AᵀA hᵀ - 2 |h|² + |y|²`` (A's rows have unit
    norm)."""
    full = F.embedding_bag(index, a, offsets, mode="sum")
    h = F.embedding_bag(kept_index, a, kept_offsets, mode="sum")
    plays, kept = _counts(index, offsets, a.dtype), _counts(kept_index, kept_offsets, a.dtype)
    hh = (h * h).sum(dim=1)
    pp = ((h @ (a.T @ a)) * h).sum(dim=1) - 2 * hh + kept
    cosine = ((full * h).sum(dim=1) - kept) / (plays.sqrt() * pp.clamp_min(1e-12).sqrt())
    return (2 - 2 * cosine).mean()


def _counts(index: torch.Tensor, offsets: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return torch.diff(offsets, append=offsets.new_tensor([len(index)])).to(dtype)


def _dropped(x: sparse.csr_matrix, dropout: float, rng: np.random.Generator) -> sparse.csr_matrix:
    """``x`` with each play dropped at random with probability ``dropout``."""
    out = x.copy()
    out.data = (rng.random(x.nnz) >= dropout).astype(np.float32)
    out.eliminate_zeros()
    return out


def _bags(x: sparse.csr_matrix, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A CSR block's column indices and row starts, in ``embedding_bag``'s layout."""
    index = torch.as_tensor(x.indices.astype(np.int64), device=device)
    offsets = torch.as_tensor(x.indptr[:-1].astype(np.int64), device=device)
    return index, offsets


def _device(name: str) -> torch.device:
    """CUDA when available for "auto", else the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
