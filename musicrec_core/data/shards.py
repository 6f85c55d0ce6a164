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


def check_shard(shard: int, n_shards: int) -> None:
    """Raises ValueError unless ``shard`` is one of the ``n_shards`` shards."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is outside 0 to {n_shards - 1}")


def in_shard(user_ids: np.ndarray | pd.Series, shard: int, n_shards: int) -> np.ndarray:
    """Which of the user ids fall in the given shard (a boolean mask)."""
    check_shard(shard, n_shards)
    return user_shards(user_ids, n_shards) == shard


def shard_users(users: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """The rows of ``users`` whose user id falls in the given shard."""
    return users[in_shard(users[s.USER_ID].to_numpy(), shard, n_shards)]
