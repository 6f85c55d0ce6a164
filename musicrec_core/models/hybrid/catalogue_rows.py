"""Play rows of the users a hybrid serves, looked up by id in indexes built once per catalogue,
so that a batch of users costs its own ids and plays, not the size of the catalogue."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from musicrec_core.data import schema as s
from musicrec_core.data.interactions import InteractionMatrix


class CatalogueRows:
    """The user and track ids of an ``InteractionMatrix``, indexed once."""

    def __init__(self, matrix: InteractionMatrix) -> None:
        self.matrix = matrix
        self.users = pd.Index(matrix.user_ids)
        self.tracks = pd.Index(matrix.track_ids)

    def user_rows(self, user_ids: np.ndarray) -> np.ndarray:
        """Row of each user id in the matrix, -1 for users it does not know."""
        return self.users.get_indexer(pd.Index(user_ids, dtype=object))

    def stored(self, user_ids: np.ndarray) -> sparse.csr_matrix:
        """The matrix's play rows of the users (empty rows for users it does not know)."""
        plays = self.matrix.matrix
        rows = self.user_rows(user_ids)
        if (rows >= 0).all():
            return plays[rows]
        known = np.flatnonzero(rows >= 0)
        picked = plays[rows[known]].tocoo()
        return sparse.csr_matrix(
            (picked.data, (known[picked.row], picked.col)), shape=(len(user_ids), plays.shape[1])
        )

    def given(self, user_ids: np.ndarray, histories: pd.DataFrame) -> sparse.csr_matrix:
        """Play rows of the users from ``histories`` (schema play columns) over the matrix's
        tracks, as ``InteractionMatrix.build`` gives them: plays of other users or tracks are
        left out, repeated pairs summed."""
        rows = pd.Index(user_ids, dtype=object).get_indexer(histories[s.USER_ID])
        cols = self.tracks.get_indexer(histories[s.TRACK_ID])
        keep = (rows >= 0) & (cols >= 0)
        plays = histories[s.PLAYS].to_numpy(dtype=np.float32)[keep]
        shape = (len(user_ids), len(self.tracks))
        out = sparse.csr_matrix((plays, (rows[keep], cols[keep])), shape=shape, dtype=np.float32)
        out.sum_duplicates()
        return out
