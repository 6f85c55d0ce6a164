"""Low-rank EASE, the scalable item-item model: EASE's closed form over the leading
eigenvectors of the Gram matrix, so memory grows with the catalogue times the rank and fitting
with the plays, not with the catalogue squared.

With ``XᵀX ≈ V diag(s²) Vᵀ`` (the top ``rank`` right singular vectors of the plays, found by
randomized SVD), ``P = (XᵀX + λI)⁻¹ = (I - V diag(d) Vᵀ) / λ`` exactly for that Gram, where
``d = s² / (s² + λ)``. EASE's ``B = I - P / diag(P)`` then scores a user's plays x as
``(x V diag(d)) · (V / (1 - q))ᵀ - x q / (1 - q)`` with ``q = (V² d)`` per track: a pooled
vector per user against a target vector per track, and nothing tracks x tracks is built.
Directions the rank leaves out have ``s²`` below the last kept one; where ``s² ≪ λ`` EASE
itself nearly ignores them, and when the rank reaches the plays' own rank it is exact EASE.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
import torch
from scipy import sparse
from sklearn.utils.extmath import randomized_svd

from musicrec_core import metrics as m
from musicrec_core.data.interactions import holdout, played_columns
from musicrec_core.models.ease import EASE_FALLBACK_L2, EASE_L2_CHOICES, VALIDATION_K
from musicrec_core.models.play_rows import PlayRowRecommender, weighted_matrix
from musicrec_core.models.recommender import TrainingData

logger = logging.getLogger(__name__)

# Eigenvectors kept. Warm NDCG@10 against exact EASE: 0.990x on the demo and 0.988x on Echo
# Nest at 512, 0.98x and 0.90x at 256 (docs/benchmarks.md); memory is 8 bytes per track and
# rank (the two factor matrices), with float32 working copies of the same size while fitting.
LOW_RANK_EASE_RANK = 512
POWER_ITERATIONS = 4  # randomized SVD's, enough for the leading spectrum of sparse plays
# λ is chosen on at most this many held-out users, ranked a block of this many at a time.
L2_SEARCH_USERS = 5_000
SCORE_BLOCK_USERS = 256
OWN_BLOCK_TRACKS = 16_384  # tracks per float64 block of each track's own-play weight


class LowRankGram(NamedTuple):
    """The played tracks' columns and the leading eigenpairs of their Gram matrix ``XᵀX``:
    eigenvectors (tracks x rank, float32) and eigenvalues (the squared singular values, high
    to low)."""

    items: np.ndarray
    vectors: np.ndarray
    eigenvalues: np.ndarray


def low_rank_gram(x: sparse.csr_matrix, rank: int, seed: int = 0) -> LowRankGram:
    """The leading ``rank`` eigenpairs of the Gram of ``x``'s played columns (users x tracks
    weights), at most one fewer than the matrix's smaller side."""
    items = played_columns(x)
    played = sparse.csr_matrix(x[:, items], dtype=np.float32)
    width = min(rank, min(played.shape) - 1)
    if width < 1:
        return LowRankGram(items, np.zeros((len(items), 0), np.float32), np.zeros(0))
    _, singular, vt = randomized_svd(
        played, width, n_iter=POWER_ITERATIONS, random_state=seed, flip_sign=False
    )
    vectors = np.ascontiguousarray(vt.T, dtype=np.float32)
    return LowRankGram(items, vectors, singular.astype(np.float64) ** 2)


def low_rank_ease_factors(gram: LowRankGram, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Sources ``V diag(d)`` and targets ``V / (1 - q)`` (played tracks x rank, float32) of
    low-rank EASE at λ ``l2``: a user's scores of the tracks they have not played are the
    sum of their plays' sources dotted with each track's target. Computed in float32, so that
    no float64 copy of the eigenvectors is made."""
    shrink, own = _shrink_and_own(gram, l2)
    sources = gram.vectors * shrink.astype(np.float32)
    targets = gram.vectors / (1.0 - own).astype(np.float32)[:, None]
    return sources, targets


def _shrink_and_own(gram: LowRankGram, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """``d = s² / (s² + λ)`` per eigenvector and ``q``, each played track's
    ``(V diag(d) Vᵀ)`` diagonal, below 1 for λ > 0: in float64 a block of tracks at a time,
    so the working copy stays small beside the eigenvectors."""
    shrink = gram.eigenvalues / (gram.eigenvalues + l2)
    own = np.empty(len(gram.vectors))
    for start in range(0, len(own), OWN_BLOCK_TRACKS):
        block = gram.vectors[start : start + OWN_BLOCK_TRACKS].astype(np.float64)
        own[start : start + OWN_BLOCK_TRACKS] = np.square(block, out=block) @ shrink
    return shrink, own


def choose_low_rank_l2(
    x: sparse.csr_matrix,
    validation: sparse.csr_matrix,
    rank: int,
    seed: int = 0,
    choices: tuple[float, ...] = EASE_L2_CHOICES,
    gram: LowRankGram | None = None,
) -> tuple[float, dict[float, float]]:
    """The λ of ``choices`` whose low-rank EASE on ``x`` ranks a seeded sample of at most
    ``L2_SEARCH_USERS`` users' ``validation`` plays best (mean NDCG@10 among the played tracks
    they have not played: the others score 0), and every choice's score. The eigenpairs do not
    depend on λ: they are found once, or taken from ``gram`` (``x``'s, of this rank)."""
    users = np.flatnonzero(np.diff(validation.indptr) > 0)
    if not len(users):
        logger.info("low-rank EASE: no held-out plays to choose l2 by; l2 %g", EASE_FALLBACK_L2)
        return EASE_FALLBACK_L2, {}
    if len(users) > L2_SEARCH_USERS:
        rng = np.random.default_rng(seed)
        users = np.sort(rng.choice(users, L2_SEARCH_USERS, replace=False))
    gram = low_rank_gram(x, rank, seed) if gram is None else gram
    scores = {}
    for l2 in choices:
        sources, targets = low_rank_ease_factors(gram, l2)
        total = 0.0
        for start in range(0, len(users), SCORE_BLOCK_USERS):
            rows = users[start : start + SCORE_BLOCK_USERS]
            known = x[rows][:, gram.items]
            predicted = torch.from_numpy((known @ sources) @ targets.T)
            predicted[known.nonzero()] = -torch.inf
            top = predicted.topk(min(VALIDATION_K, predicted.shape[1]), dim=1).indices
            total += float(m.ndcg_of_rows(gram.items[top.numpy()], validation[rows]).sum())
        scores[l2] = total / len(users)
    best = max(scores, key=scores.get)
    logger.info(
        "low-rank EASE: l2 %g chosen on held-out NDCG@10 %s",
        best,
        {key: round(value, 4) for key, value in scores.items()},
    )
    return best, scores


class LowRankEASE(PlayRowRecommender):
    """EASE over the leading ``rank`` eigenvectors of the Gram matrix (see module notes).

    ``l2`` (λ) as in ``EASE``: by default (None) the best of ``EASE_L2_CHOICES`` on a holdout
    of the training plays, then the factors are found again on all of them. Binary plays, as
    EASE; users without plays get zeros. Deterministic for a ``seed``.
    """

    name = "low_rank_ease"
    weighting = "binary"

    def __init__(self, rank: int = LOW_RANK_EASE_RANK, l2: float | None = None, seed: int = 0):
        if rank < 1:
            raise ValueError(f"rank must be positive; got {rank}")
        if l2 is not None and l2 <= 0:
            raise ValueError(f"l2 must be positive (it keeps XᵀX + λI invertible); got {l2}")
        self.rank = rank
        self.l2_setting = l2
        self.seed = seed
        self.l2_validation: dict[float, float] = {}

    def _fit(self, data: TrainingData) -> None:
        x = weighted_matrix(data.matrix, self.weighting)
        self.n_tracks = x.shape[1]
        self.weighted = x
        self.l2 = self.l2_setting
        if self.l2 is None:
            kept, held = holdout(x, np.random.default_rng(self.seed))
            self.l2, self.l2_validation = choose_low_rank_l2(kept, held, self.rank, self.seed)
        gram = low_rank_gram(x, self.rank, self.seed)
        self.items = gram.items
        self.sources, self.targets = low_rank_ease_factors(gram, self.l2)
        own = _shrink_and_own(gram, self.l2)[1]
        self.own_scale = (own / (1.0 - own)).astype(np.float32)
        logger.info(
            "low-rank EASE: %d of %d tracks played, rank %d, l2=%g",
            len(self.items),
            self.n_tracks,
            self.sources.shape[1],
            self.l2,
        )

    def _score_rows(self, x: sparse.csr_matrix) -> np.ndarray:
        out = np.zeros((x.shape[0], self.n_tracks), dtype=np.float32)
        if len(self.items):
            played = x[:, self.items]
            scores = (played @ self.sources) @ self.targets.T
            out[:, self.items] = scores - played.multiply(self.own_scale).toarray()
        return out
