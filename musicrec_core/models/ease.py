"""EASE (Steck 2019), the closed-form dense item-item model, and the choice of its λ on held-out
plays; its weights also feed the hybrid's item-item evidence."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.linalg
from scipy import sparse
from threadpoolctl import threadpool_limits

from musicrec_core import metrics as m
from musicrec_core.data.interactions import holdout, played_columns
from musicrec_core.models.play_rows import (
    WEIGHTINGS,
    PlayRowRecommender,
    _block_rows,
    _check_choice,
    _gram_row_blocks,
    weighted_matrix,
)
from musicrec_core.models.recommender import CatalogueTooLarge, TrainingData, top_k

logger = logging.getLogger(__name__)

# EASE's λ is chosen from these on held-out plays (``choose_ease_l2``), ranking the held-out
# users in blocks of this many by NDCG at this k.
EASE_L2_CHOICES = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
EASE_FALLBACK_L2 = 500.0  # Steck's value for MovieLens-20M, where nothing is held out
SCORE_BLOCK_USERS = 1024
# The λ search factors one Gram matrix per choice in this precision (about twice as fast as
# float64, with λ ≥ 50 keeping XᵀX + λI well conditioned); the chosen λ is fitted in float64.
SEARCH_DTYPE = np.float32
VALIDATION_K = 10


class EASE(PlayRowRecommender):
    """Embarrassingly Shallow Autoencoder (Steck 2019): a closed-form item-item linear model.

    ``G = XᵀX + λI``, ``P = G⁻¹``, ``B = -P / diag(P)`` (column-wise), ``diag(B) = 0``;
    ``score = x_user @ B``. Solved in float64 (float32 while searching λ) by Cholesky (LAPACK
    potrf/potri, in place, about half the work of a general inverse); B is stored dense in
    float32.

    Only tracks with at least one training play enter B (the others would get an all-zero
    column and score 0 anyway), so the dense cost is ``n_played_tracks²``: about 12 bytes per
    entry at the peak of fitting (3 GB at 15k tracks, 4.8 GB at 20k) and 4 bytes per entry
    kept. ``max_items`` bounds that count (16,384 by default, 3.2 GB while fitting): above it
    fitting raises ValueError before allocating; use ``LowRankEASE`` there.

    ``l2`` (λ) is absolute, not scaled: diag(XᵀX) counts listeners per track, so how much a
    given λ regularises depends on the data (500 was best on the demo catalogue, 50 on Echo
    Nest's sparser plays). By default (None) it is the best of ``EASE_L2_CHOICES`` by NDCG@10
    on a holdout of the training plays (``choose_ease_l2``), then B is fitted on all of them.
    "binary" is the weighting EASE was published with. Users without training plays get zeros
    (see module notes).
    """

    name = "ease"

    def __init__(
        self,
        l2: float | None = None,
        weighting: str = "binary",
        max_items: int = 16_384,
        seed: int = 0,
    ) -> None:
        if l2 is not None and l2 <= 0:
            raise ValueError(f"l2 must be positive (it keeps XᵀX + λI invertible); got {l2}")
        self.l2_setting = l2
        self.weighting = _check_choice("weighting", weighting, WEIGHTINGS)
        self.max_items = max_items
        self.seed = seed
        self.l2_validation: dict[float, float] = {}

    def _fit(self, data: TrainingData) -> None:
        x = weighted_matrix(data.matrix, self.weighting)
        self.n_tracks = x.shape[1]
        self.weighted = x
        self.l2 = self.l2_setting
        if self.l2 is None:
            kept, held = holdout(x, np.random.default_rng(self.seed))
            self.l2, self.l2_validation = choose_ease_l2(kept, held, self.max_items)
        self.items, self.B = ease_weights(x, self.l2, self.max_items)
        logger.info(
            "ease: %d of %d tracks played, l2=%g, %s weighting",
            len(self.items),
            self.n_tracks,
            self.l2,
            self.weighting,
        )

    def _score_rows(self, x: sparse.csr_matrix) -> np.ndarray:
        out = np.zeros((x.shape[0], self.n_tracks), dtype=np.float32)
        if len(self.items):
            out[:, self.items] = x[:, self.items] @ self.B
        return out


def choose_ease_l2(
    x: sparse.csr_matrix,
    validation: sparse.csr_matrix,
    max_items: int,
    choices: Sequence[float] = EASE_L2_CHOICES,
) -> tuple[float, dict[float, float]]:
    """The λ of ``choices`` whose EASE, fitted on ``x`` (users x tracks weights), ranks each
    user's ``validation`` plays best among the tracks they have not played (mean NDCG@10), and
    every choice's score (``EASE_FALLBACK_L2`` where no user has validation plays). Raises
    ValueError as ``ease_weights`` does."""
    users = np.flatnonzero(np.diff(validation.indptr) > 0)
    if not len(users):
        logger.info("ease: no held-out plays to choose l2 by; l2 %g", EASE_FALLBACK_L2)
        return EASE_FALLBACK_L2, {}
    items = _checked_items(x, max_items)
    gram = _gram(x[:, items], SEARCH_DTYPE)
    scores = {}
    for l2 in choices:
        shifted = gram.copy()
        shifted[np.diag_indices(len(items))] += l2
        weights = _ease_weights(shifted)
        total = 0.0
        for start in range(0, len(users), SCORE_BLOCK_USERS):
            rows = users[start : start + SCORE_BLOCK_USERS]
            known = x[rows]
            predicted = np.zeros(known.shape, dtype=np.float32)  # as EASE scores them
            predicted[:, items] = known[:, items] @ weights
            predicted[known.nonzero()] = -np.inf
            top = top_k(predicted, min(VALIDATION_K, predicted.shape[1]))[0]
            total += float(m.ndcg_of_rows(top, validation[rows]).sum())
        scores[l2] = total / len(users)
    best = max(scores, key=scores.get)
    logger.info("ease: l2 %g chosen on held-out NDCG@10 %s", best, _rounded(scores))
    return best, scores


def _rounded(scores: Mapping[float, float]) -> dict[float, float]:
    return {key: round(value, 4) for key, value in scores.items()}


def ease_weights(x: sparse.csr_matrix, l2: float, max_items: int) -> tuple[np.ndarray, np.ndarray]:
    """EASE's played-track columns of ``x`` and its B over them (see ``EASE``).

    Raises CatalogueTooLarge, before allocating, when more than ``max_items`` tracks were
    played.
    """
    items = _checked_items(x, max_items)
    gram = _gram(x[:, items], np.float64)
    gram[np.diag_indices(len(items))] += l2
    return items, _ease_weights(gram)  # gram is overwritten


def _checked_items(x: sparse.csr_matrix, max_items: int) -> np.ndarray:
    """The played tracks' columns, or CatalogueTooLarge when there are more than ``max_items``."""
    items = played_columns(x)
    n = len(items)
    if n > max_items:
        raise CatalogueTooLarge(
            f"EASE needs a dense {n} x {n} item-item matrix (~{12 * n * n / 1e9:.1f} GB while "
            f"fitting) for {n} played tracks, above max_items={max_items}; use low_rank_ease "
            "for a catalogue this size, or raise max_items if the memory is there"
        )
    return items


def _gram(x: sparse.csr_matrix, dtype: type) -> np.ndarray:
    """The dense ``XᵀX`` of ``x``'s columns in ``dtype``, built a block of rows at a time."""
    n = x.shape[1]
    gram = np.empty((n, n), dtype=dtype)
    for start, stop, block in _gram_row_blocks(x, dtype=dtype):
        gram[start:stop] = block
    return gram


def _ease_weights(gram: np.ndarray) -> np.ndarray:
    """EASE's B (float32, C order) from ``G = XᵀX + λI`` (float64 or float32, SPD; destroyed).

    Cholesky factor and inverse are computed in place in ``gram``'s memory, so the peak is the
    float64 matrix plus the float32 result (12 bytes per entry); in float32, the matrix, the
    caller's unshifted copy and the result (12 bytes per entry).
    """
    n = gram.shape[0]
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    potrf, potri = scipy.linalg.lapack.get_lapack_funcs(("potrf", "potri"), (gram,))
    # LAPACK wants Fortran order: gram.T is that view of the same memory (and G is symmetric).
    # OpenBLAS's threaded Cholesky (dpotrf_U_parallel) dies with a segmentation fault from
    # about 16,000 tracks on two threads; on one it is sound and only about 1.5x slower.
    with threadpool_limits(1, user_api="blas"):
        factor, info = potrf(gram.T, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: Cholesky of XᵀX + λI failed (LAPACK info {info})")
    p, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: inverse of XᵀX + λI failed (LAPACK info {info})")
    # potri leaves only the upper triangle valid: mirror it, a block of rows at a time.
    step = _block_rows(n)
    for start in range(0, n, step):
        stop = min(start + step, n)
        p[start:stop, :start] = p[:start, start:stop].T
        diagonal = np.triu(p[start:stop, start:stop])
        p[start:stop, start:stop] = diagonal + np.triu(diagonal, 1).T
    p /= -np.diag(p).copy()[None, :]
    p[np.diag_indices(n)] = 0.0
    return p.astype(np.float32, order="C")
