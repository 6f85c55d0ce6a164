"""User shards: a stable hash of the user id modulo the shard count, so each shard of users can
be recommended for and evaluated on its own, in any process, and always holds the same users."""

from __future__ import annotations

import numpy as np
import pandas as pd

from musicrec_core.data import schema as s


def user_shards(user_ids: np.ndarray | pd.Series, n_shards: int) -> np.ndarray:
    """The shard (0 to n_shards - 1) of each user id, the same in every process and run.

    pandas' array hash uses a fixed key, unlike Python's ``hash`` of a string.
    """
    if n_shards < 1:
        raise ValueError(f"the shard count must be at least 1, not {n_shards}")
    values = np.asarray(user_ids).astype(str).astype(object)
    return (pd.util.hash_array(values, categorize=False) % np.uint64(n_shards)).astype(np.int64)


def shard_users(users: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """The rows of ``users`` whose user id falls in the given shard."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is outside 0 to {n_shards - 1}")
    return users[user_shards(users[s.USER_ID].to_numpy(), n_shards) == shard]
