"""Item-based k-nearest-neighbours on the user x track matrix: a sparse item-item model, so it
fits catalogues too large for EASE's dense one."""

from __future__ import annotations

import logging

import numpy as np
from scipy import sparse

from musicrec_core.models.play_rows import (
    WEIGHTINGS,
    PlayRowRecommender,
    _catalogue_index,
    _check_choice,
    _gram_row_blocks,
    _similar,
    weighted_matrix,
)
from musicrec_core.models.recommender import TrainingData

logger = logging.getLogger(__name__)


def _top_n_rows(values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``n`` largest entries per row (unordered)."""
    n = min(n, values.shape[1])
    if n == values.shape[1]:
        idx = np.broadcast_to(np.arange(n), values.shape)
        return idx, values
    idx = np.argpartition(-values, n - 1, axis=1)[:, :n]
    return idx, np.take_along_axis(values, idx, axis=1)


class ItemKNN(PlayRowRecommender):
    """Item-based k-nearest-neighbours on the user x track matrix (Sarwar et al. 2001).

    ``sim(i, j) = x_i · x_j / (|x_i| |x_j| + shrinkage)`` over the weighted item columns: cosine
    shrunk toward 0 for items with few listeners, so a pair sharing one listener does not look
    identical. Each track keeps only its ``k_neighbours`` most similar tracks (sparse, about
    ``k_neighbours x n_tracks`` entries). A user's score for track j is the sum of the user's
    weights on j's neighbours: ``score = x_user @ S``.

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
        rows, cols, vals = [], [], []
        for start, stop, dots in _gram_row_blocks(x):
            denom = norms[start:stop, None] * norms[None, :] + np.float32(self.shrinkage)
            sim = np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)
            sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
            idx, top = _top_n_rows(sim, self.k_neighbours)
            keep = top > 0
            rows.append(np.nonzero(keep)[0] + start)
            cols.append(idx[keep])
            vals.append(top[keep])
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
