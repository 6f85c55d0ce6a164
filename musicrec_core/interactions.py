"""A user x track matrix over the whole catalogue, with id <-> index maps, for models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from musicrec_core import schema as s


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
