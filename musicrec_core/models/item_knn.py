"""Item-based k-nearest-neighbours on the user x track matrix: a sparse item-item model, so it
fits catalogues too large for EASE's dense one, at a cost that grows with the co-plays."""

from __future__ import annotations

import logging

import numpy as np
from scipy import sparse

from musicrec_core.models.play_rows import (
    WEIGHTINGS,
    PlayRowRecommender,
    _catalogue_index,
    _check_choice,
    _co_play_row_blocks,
    _similar,
    weighted_matrix,
)
from musicrec_core.models.recommender import TrainingData

logger = logging.getLogger(__name__)


def _top_n_per_row(block: sparse.csr_matrix, values: np.ndarray, n: int) -> np.ndarray:
    """Positions, among the block's stored entries, of each row's ``n`` largest positive values.

    ``values`` (one per stored entry, in [0, 1]) are sorted within their row in one stable sort
    of ``2 * row + 1 - value``; ties keep column order.
    """
    counts = np.diff(block.indptr)
    rows = np.repeat(np.arange(block.shape[0], dtype=np.float64), counts)
    order = np.argsort(2.0 * rows + (1.0 - values), kind="stable")
    rank = np.arange(len(values)) - np.repeat(block.indptr[:-1], counts)
    best = order[rank < n]
    return best[values[best] > 0]


class ItemKNN(PlayRowRecommender):
    """Item-based k-nearest-neighbours on the user x track matrix (Sarwar et al. 2001).

    ``sim(i, j) = x_i · x_j / (|x_i| |x_j| + shrinkage)`` over the weighted item columns: cosine
    shrunk toward 0 for items with few listeners, so a pair sharing one listener does not look
    identical. Each track keeps only its ``k_neighbours`` most similar tracks (sparse, about
    ``k_neighbours x n_tracks`` entries). A user's score for track j is the sum of the user's
    weights on j's neighbours: ``score = x_user @ S``. The gram ``XᵀX`` is computed sparse, a
    block of tracks at a time, so the fit grows with the co-plays, not the catalogue squared.

    Defaults: 100 neighbours is the usual range (50-200) and keeps S small; shrinkage 10 damps
    pairs with norms below ~3 (a handful of listeners) while leaving popular pairs near cosine;
    "log" weighting lets repeat plays count without letting them dominate. Tracks without plays
    have no neighbours and score 0; users without training plays get zeros (see module notes).
    """

    name = "item_knn"

    def __init__(
        self, k_neighbours: int = 100, shrinkage: float = 10.0, weighting: str = "log"
    ) -> None:
        if k_neighbours < 1:
            raise ValueError(f"k_neighbours must be at least 1; got {k_neighbours}")
        if shrinkage < 0:
            raise ValueError(f"shrinkage must be non-negative; got {shrinkage}")
        self.k_neighbours = k_neighbours
        self.shrinkage = shrinkage
        self.weighting = _check_choice("weighting", weighting, WEIGHTINGS)

    def _fit(self, data: TrainingData) -> None:
        x = weighted_matrix(data.matrix, self.weighting)
        self.weighted = x
        n_items = x.shape[1]
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel()).astype(np.float32)
        shrinkage = np.float32(self.shrinkage)
        rows, cols, vals = [], [], []
        for start, stop, dots in _co_play_row_blocks(x):
            row = np.repeat(np.arange(start, stop), np.diff(dots.indptr))
            denom = norms[row] * norms[dots.indices] + shrinkage
            sim = np.divide(dots.data, denom, out=np.zeros_like(dots.data), where=denom > 0)
            sim[row == dots.indices] = 0.0
            best = _top_n_per_row(dots, sim, self.k_neighbours)
            rows.append(row[best])
            cols.append(dots.indices[best])
            vals.append(sim[best])
        # neighbours[j, i] = sim(i, j) for the k tracks i nearest to j
        self.neighbours = sparse.csr_matrix(
            (
                np.concatenate(vals) if vals else np.zeros(0, np.float32),
                (
                    np.concatenate(rows) if rows else np.zeros(0, np.int64),
                    np.concatenate(cols) if cols else np.zeros(0, np.int64),
                ),
            ),
            shape=(n_items, n_items),
            dtype=np.float32,
        )
        self.similarity = sparse.csr_matrix(self.neighbours.T)  # score = x_user @ similarity
        logger.info(
            "item_knn: %d tracks, %d neighbour links (k=%d, shrinkage=%g, %s weighting)",
            n_items,
            self.neighbours.nnz,
            self.k_neighbours,
            self.shrinkage,
            self.weighting,
        )

    def _score_rows(self, x: sparse.csr_matrix) -> np.ndarray:
        return (x @ self.similarity).toarray()

    def similar_items(
        self, track_ids: np.ndarray | list, n: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` nearest tracks to each track (ids and similarities, best first).

        Only the ``k_neighbours`` kept per track can appear; missing slots (unknown or unplayed
        tracks, fewer neighbours) hold None and -inf, as in ``Recommendations``.
        """
        catalogue = self.data.matrix.track_ids
        index = _catalogue_index(track_ids, catalogue)
        return _similar(index, catalogue, self.neighbours[index[index >= 0]], n)
