"""The evaluation protocol's split: per-user holdout by time, plus cold-start users and tracks.

Cold-start tracks are held out entirely (every play of them leaves training), then cold-start
users likewise; every other user with enough interactions keeps their most recent interactions
(by ``played_at``; seeded random order where it is missing) for validation and test.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from musicrec_core.data import schema as s

logger = logging.getLogger(__name__)

TRAIN, VALIDATION, TEST = "train", "validation", "test"
COLD_USER, COLD_TRACK = "cold_user", "cold_track"
SPLITS = (TRAIN, VALIDATION, TEST, COLD_USER, COLD_TRACK)


@dataclass(frozen=True)
class SplitConfig:
    """Fractions of each user's interactions held out, and of users and tracks kept cold."""

    test_fraction: float = 0.2
    validation_fraction: float = 0.1
    min_user_interactions: int = 5
    cold_user_fraction: float = 0.05
    cold_track_fraction: float = 0.05
    seed: int = 42


def split_interactions(
    interactions: pd.DataFrame, config: SplitConfig = SplitConfig()
) -> pd.DataFrame:
    """Return the interactions with a ``split`` column naming the part each belongs to."""
    rng = np.random.default_rng(config.seed)
    df = interactions.reset_index(drop=True).copy()
    df[s.SPLIT] = TRAIN
    cold_tracks = _sample(df[s.TRACK_ID].unique(), config.cold_track_fraction, rng)
    df.loc[df[s.TRACK_ID].isin(cold_tracks), s.SPLIT] = COLD_TRACK

    warm = df[s.SPLIT] == TRAIN
    per_user = df[warm].groupby(s.USER_ID).size()
    eligible = per_user[per_user >= config.min_user_interactions].index.to_numpy()
    cold_users = _sample(eligible, config.cold_user_fraction, rng)
    df.loc[warm & df[s.USER_ID].isin(cold_users), s.SPLIT] = COLD_USER

    holdout = (
        (df[s.SPLIT] == TRAIN) & df[s.USER_ID].isin(eligible) & ~df[s.USER_ID].isin(cold_users)
    )
    df.loc[holdout, s.SPLIT] = _holdout_labels(df[holdout], config, rng)
    logger.info("split: %s", df[s.SPLIT].value_counts().to_dict())
    return df


def _sample(values: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    count = round(len(values) * fraction)
    if count == 0:
        return values[:0]
    return rng.choice(np.sort(values), size=count, replace=False)


def _holdout_labels(df: pd.DataFrame, config: SplitConfig, rng: np.random.Generator) -> pd.Series:
    """Label each user's latest interactions test, the ones before validation, the rest train."""
    order = df.assign(_tiebreak=rng.random(len(df)))
    order = order.sort_values([s.USER_ID, s.PLAYED_AT, "_tiebreak"], na_position="first")
    position = order.groupby(s.USER_ID).cumcount()
    size = order.groupby(s.USER_ID)[s.USER_ID].transform("size")
    from_end = size - 1 - position
    n_test = np.ceil(size * config.test_fraction).astype(int)
    n_val = np.ceil(size * config.validation_fraction).astype(int)
    labels = np.where(
        from_end < n_test, TEST, np.where(from_end < n_test + n_val, VALIDATION, TRAIN)
    )
    return pd.Series(labels, index=order.index).reindex(df.index)


def split_counts(split: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Interactions, users and tracks in each part, for metadata and logs."""
    out = {}
    for name in SPLITS:
        part = split[split[s.SPLIT] == name]
        out[name] = {
            "interactions": len(part),
            "users": int(part[s.USER_ID].nunique()),
            "tracks": int(part[s.TRACK_ID].nunique()),
        }
    return out


__all__ = ["SPLITS", "SplitConfig", "split_counts", "split_interactions"]
