"""A user x track matrix over the whole catalogue, with id <-> index maps, for models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from musicrec_core.data import schema as s


@dataclass
class InteractionMatrix:
    """Plays as a CSR matrix whose rows and columns cover the whole user and track catalogue."""

    user_ids: np.ndarray
    track_ids: np.ndarray
    matrix: sparse.csr_matrix

    @classmethod
    def build(
        cls, interactions: pd.DataFrame, user_ids: np.ndarray, track_ids: np.ndarray
    ) -> InteractionMatrix:
        """Matrix of play counts; interactions with ids outside the catalogue are ignored."""
        user_ids = np.asarray(user_ids, dtype=object)
        track_ids = np.asarray(track_ids, dtype=object)
        u = pd.Index(user_ids).get_indexer(interactions[s.USER_ID])
        t = pd.Index(track_ids).get_indexer(interactions[s.TRACK_ID])
        keep = (u >= 0) & (t >= 0)
        values = interactions[s.PLAYS].to_numpy(dtype=np.float32)[keep]
        matrix = sparse.csr_matrix(
            (values, (u[keep], t[keep])), shape=(len(user_ids), len(track_ids)), dtype=np.float32
        )
        matrix.sum_duplicates()
        return cls(user_ids, track_ids, matrix)

    def user_index(self, user_ids: np.ndarray | list) -> np.ndarray:
        """Row index of each user id, -1 for users the matrix does not know."""
        return pd.Index(self.user_ids).get_indexer(pd.Index(user_ids, dtype=object))

    def binary(self) -> sparse.csr_matrix:
        """1 where the user played the track."""
        out = self.matrix.copy()
        out.data[:] = 1.0
        return out


def listeners_per_track(plays: sparse.spmatrix | sparse.sparray) -> np.ndarray:
    """How many users (rows) of a user x track matrix hold an entry in each track's column,
    counted from the CSR column indices rather than through a CSC copy of every play."""
    return sparse.csr_matrix(plays).getnnz(axis=0)


def played_columns(plays: sparse.spmatrix | sparse.sparray) -> np.ndarray:
    """Indices of the tracks (columns) somebody played."""
    return np.flatnonzero(listeners_per_track(plays))


# A holdout for choosing a model's settings without a validation split: this share of users
# (with at least HOLDOUT_MIN_PLAYS plays) lend this share of their plays.
HOLDOUT_USERS = 0.3
HOLDOUT_PLAYS = 0.2
HOLDOUT_MIN_PLAYS = 5


def holdout(
    plays: sparse.csr_matrix, rng: np.random.Generator
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Plays split into the kept part and a holdout (a share of some users' plays), same shape."""
    coo = sparse.coo_matrix(plays)
    counts = np.diff(sparse.csr_matrix(plays).indptr)
    eligible = np.flatnonzero(counts >= HOLDOUT_MIN_PLAYS)
    chosen = np.zeros(plays.shape[0], bool)
    chosen[rng.choice(eligible, size=int(len(eligible) * HOLDOUT_USERS), replace=False)] = True
    held = chosen[coo.row] & (rng.random(coo.nnz) < HOLDOUT_PLAYS)

    def part(keep: np.ndarray) -> sparse.csr_matrix:
        return sparse.csr_matrix(
            (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=plays.shape, dtype=np.float32
        )

    return part(~held), part(held)
