"""What every play-row model shares: play counts as confidence weights, a base that scores any
user from a row of them, and the block-wise gram and similar-items helpers the kNN models use."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from musicrec_core.data.interactions import InteractionMatrix
from musicrec_core.models.recommender import Recommendations, Recommender, top_k

WEIGHTINGS = ("binary", "log")
# Work arrays (dense gram or similarity blocks, sparse co-play blocks) are cut to about this many
# elements.
BLOCK_ELEMENTS = 8_000_000


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        choices = ", ".join(repr(v) for v in allowed)
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def weighted_matrix(
    matrix: InteractionMatrix | sparse.spmatrix | sparse.sparray, weighting: str = "log"
) -> sparse.csr_matrix:
    """Confidence weights of a user x track play-count matrix, as a float32 CSR copy.

    ``"binary"``: 1 for every played track; ``"log"``: ``log1p(plays)`` (1 play → 0.69,
    10 → 2.4, 1000 → 6.9). Zeros stay structural zeros.
    """
    _check_choice("weighting", weighting, WEIGHTINGS)
    counts = matrix.matrix if isinstance(matrix, InteractionMatrix) else matrix
    out = sparse.csr_matrix(counts, dtype=np.float32, copy=True)
    out.eliminate_zeros()
    if weighting == "binary":
        out.data[:] = 1.0
    else:
        out.data = np.log1p(out.data)
    return out


def _user_rows(
    matrix: InteractionMatrix, weighted: sparse.csr_matrix, user_ids: np.ndarray
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Positions (within ``user_ids``) of the users the matrix knows, and their weighted rows."""
    rows = matrix.user_index(np.asarray(user_ids, dtype=object))
    known = np.flatnonzero(rows >= 0)
    return known, weighted[rows[known]]


def _gram_row_blocks(
    x: sparse.csr_matrix, dtype: type = np.float32
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Row blocks ``(start, stop, (XᵀX)[start:stop])`` of the dense item-item gram matrix."""
    n_items = x.shape[1]
    x = sparse.csr_matrix(x)
    xt = sparse.csr_matrix(x.T)  # items x users
    step = _block_rows(n_items)
    for start in range(0, n_items, step):
        stop = min(start + step, n_items)
        block = (xt[start:stop] @ x).toarray().astype(dtype, copy=False)
        yield start, stop, block


def _co_play_row_blocks(x: sparse.csr_matrix) -> Iterator[tuple[int, int, sparse.csr_matrix]]:
    """Row blocks ``(start, stop, (XᵀX)[start:stop])`` of the item-item gram matrix, kept sparse.

    Its entries are the pairs of tracks some user played both of, so the work grows with those
    co-plays rather than with the catalogue squared. A block is cut at about BLOCK_ELEMENTS
    products (a bound on its entries: the sum, over its tracks' listeners, of their play rows).
    """
    x = sparse.csr_matrix(x)
    xt = sparse.csr_matrix(x.T)
    per_user = np.diff(x.indptr)
    products = np.bincount(
        x.indices, weights=np.repeat(per_user, per_user).astype(np.float64), minlength=x.shape[1]
    )
    ends = np.cumsum(products)
    start = 0
    while start < x.shape[1]:
        before = ends[start - 1] if start else 0.0
        stop = max(start + 1, int(np.searchsorted(ends, before + BLOCK_ELEMENTS, side="right")))
        yield start, stop, sparse.csr_matrix(xt[start:stop] @ x)
        start = stop


def _block_rows(n_cols: int) -> int:
    """Rows per block so that a dense block of ``n_cols`` columns has ~BLOCK_ELEMENTS entries."""
    return max(1, min(n_cols, BLOCK_ELEMENTS // max(n_cols, 1)))


def _catalogue_index(track_ids: np.ndarray | list, catalogue: np.ndarray) -> np.ndarray:
    """Column of each track id in the catalogue, -1 for ids it does not hold."""
    return pd.Index(catalogue).get_indexer(pd.Index(np.asarray(track_ids, dtype=object)))


def _similar(
    index: np.ndarray, catalogue: np.ndarray, rows: sparse.csr_matrix, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-n tracks per requested track from its similarity row (one row per known request).

    ``index`` holds the catalogue column of each request (-1: unknown, no row in ``rows``).
    Non-positive similarities and the track itself never count; empty slots are None / -inf.
    """
    scores = np.full((len(index), len(catalogue)), -np.inf)
    known = np.flatnonzero(index >= 0)
    block = rows.tocoo()
    scores[known[block.row], block.col] = block.data
    scores[known, index[known]] = -np.inf
    scores[scores <= 0] = -np.inf
    idx, top = top_k(scores, n)
    return np.where(np.isfinite(top), catalogue[idx], None), top


class PlayRowRecommender(Recommender):
    """A model that scores any user from a row of weighted plays, with no per-user parameters.

    Scoring a user the model never saw is the same computation as scoring a known one, so new
    users get recommendations from a handful of plays without retraining.
    """

    weighting: str = "log"
    test_sets = ("warm",)

    @abstractmethod
    def _score_rows(self, x: sparse.csr_matrix) -> np.ndarray:
        """Scores of every catalogue track for each row of weighted plays (n_rows, n_tracks)."""

    def score(self, user_ids: np.ndarray) -> np.ndarray:
        known, rows = _user_rows(self.data.matrix, self.weighted, user_ids)
        return self._score_rows(_place_rows(rows, known, len(user_ids)))

    def recommend_with_history(
        self, user_ids: np.ndarray | list, histories: pd.DataFrame, k: int = 20
    ) -> Recommendations:
        """Top-k for users known only by the plays given here (schema play columns)."""
        user_ids = np.asarray(user_ids, dtype=object)
        given = InteractionMatrix.build(histories, user_ids, self.data.matrix.track_ids)
        x = weighted_matrix(given, self.weighting)
        scores = self._score_rows(x).astype(np.float64)
        r, c = x.nonzero()
        scores[r, c] = -np.inf
        return self.best(user_ids, scores, k)


def _place_rows(rows: sparse.csr_matrix, positions: np.ndarray, n_rows: int) -> sparse.csr_matrix:
    """A CSR matrix of n_rows whose rows at ``positions`` are ``rows`` and the rest empty."""
    coo = rows.tocoo()
    return sparse.csr_matrix(
        (coo.data, (positions[coo.row], coo.col)), shape=(n_rows, rows.shape[1]), dtype=np.float32
    )
