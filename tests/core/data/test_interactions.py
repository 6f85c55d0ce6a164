"""The play matrix's column counts: listeners per track and the tracks somebody played."""

import numpy as np
from scipy import sparse

from musicrec_core.data import listeners_per_track, played_columns


def test_listeners_and_played_columns_match_a_dense_count():
    rng = np.random.default_rng(0)
    dense = (rng.random((40, 25)) < 0.1) * rng.integers(1, 9, (40, 25))
    dense[:, 3] = 0  # a track nobody played
    plays = sparse.csr_matrix(dense.astype(np.float32))
    assert listeners_per_track(plays).tolist() == (dense > 0).sum(axis=0).tolist()
    assert played_columns(plays).tolist() == np.flatnonzero((dense > 0).any(axis=0)).tolist()
    assert 3 not in played_columns(sparse.csc_matrix(plays))
