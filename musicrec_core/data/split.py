"""The evaluation protocol's split: per-user holdout by time, plus cold-start users and tracks.

Cold-start tracks are held out entirely (every play of them leaves training), then cold-start
users likewise; every other user with enough interactions keeps their most recent interactions
(by ``played_at``; seeded random order where it is missing) for validation and test.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from musicrec_core.data import schema as s
from musicrec_core.data.warehouse import INTERACTIONS, compact_frame
from musicrec_core.data.warehouse import SPLITS as SPLITS_TABLE

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
    df = interactions.reset_index(drop=True).copy()
    users = pd.factorize(df[s.USER_ID], sort=True)[0]
    tracks = pd.factorize(df[s.TRACK_ID], sort=True)[0]
    played = pd.to_datetime(df[s.PLAYED_AT]).to_numpy("datetime64[ns]").view(np.int64)
    codes = split_codes(users, tracks, played, config)
    df[s.SPLIT] = np.asarray(SPLITS, dtype=object)[codes]
    logger.info("split: %s", df[s.SPLIT].value_counts().to_dict())
    return df


def split_codes(
    users: np.ndarray, tracks: np.ndarray, played_at: np.ndarray, config: SplitConfig
) -> np.ndarray:
    """The part of each interaction as an index into ``SPLITS``.

    ``users`` and ``tracks`` are codes in the sort order of their ids (0 for the first id);
    ``played_at`` is in nanoseconds, with the smallest int64 where it is unknown. Held-out
    draws depend only on those codes and the interactions' order, so any caller that gives the
    same interactions in the same order gets the same parts."""
    rng = np.random.default_rng(config.seed)
    train, validation, test, cold_user, cold_track = range(len(SPLITS))
    codes = np.full(len(users), train, dtype=np.int8)
    n_tracks = int(tracks.max()) + 1 if len(tracks) else 0
    cold_tracks = _sample(np.arange(n_tracks), config.cold_track_fraction, rng)
    codes[_member(tracks, cold_tracks, n_tracks)] = cold_track

    warm = codes == train
    n_users = int(users.max()) + 1 if len(users) else 0
    per_user = np.bincount(users[warm], minlength=n_users)
    eligible = np.flatnonzero((per_user >= config.min_user_interactions) & (per_user > 0))
    cold_users = _sample(eligible, config.cold_user_fraction, rng)
    is_cold_user = _member(users, cold_users, n_users)
    codes[warm & is_cold_user] = cold_user

    holdout = np.flatnonzero((codes == train) & _member(users, eligible, n_users) & ~is_cold_user)
    tiebreak = rng.random(len(holdout))
    order = holdout[np.lexsort((tiebreak, played_at[holdout], users[holdout]))]
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    size = np.repeat(sizes, sizes)
    from_end = size - 1 - (np.arange(len(order)) - np.repeat(starts, sizes))
    n_test = np.ceil(size * config.test_fraction).astype(int)
    n_val = np.ceil(size * config.validation_fraction).astype(int)
    codes[order] = np.where(
        from_end < n_test, test, np.where(from_end < n_test + n_val, validation, train)
    )
    return codes


def _member(codes: np.ndarray, chosen: np.ndarray, n: int) -> np.ndarray:
    """Whether each code is among ``chosen`` (codes below ``n``), in linear time."""
    flags = np.zeros(n, dtype=bool)
    flags[chosen] = True
    return flags[codes]


def _sample(values: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    count = round(len(values) * fraction)
    if count == 0:
        return values[:0]
    return rng.choice(np.sort(values), size=count, replace=False)


def build_split_table(con: duckdb.DuckDBPyConnection, config: SplitConfig = SplitConfig()) -> None:
    """``dataset_splits``: the warehouse's interactions, in their table's order, with their
    part. Only integer codes of the ids and the play times leave DuckDB, as numpy arrays; the
    parts come back as one column, joined by position."""
    for kind, key in (("_users", s.USER_ID), ("_tracks", s.TRACK_ID)):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {kind} AS SELECT {key}, "
            f"CAST(row_number() OVER (ORDER BY {key}) - 1 AS INTEGER) AS _code "
            f"FROM (SELECT DISTINCT {key} FROM {INTERACTIONS})"
        )
    n_rows = con.execute(f"SELECT count(*), max(rowid) FROM {INTERACTIONS}").fetchone()
    if n_rows[0] and n_rows[1] != n_rows[0] - 1:
        raise ValueError(f"{INTERACTIONS} has gaps in its row ids; rebuild the feature tables")
    arrays = con.execute(
        f"SELECT _i.rowid, _u._code, _t._code, "
        f"coalesce(epoch_ns(_i.{s.PLAYED_AT}), {np.iinfo(np.int64).min}) FROM {INTERACTIONS} _i "
        f"JOIN _users _u USING ({s.USER_ID}) JOIN _tracks _t USING ({s.TRACK_ID})"
    ).fetchnumpy()
    rowids, users, tracks, played = (np.asarray(a) for a in arrays.values())
    del arrays
    order = np.argsort((users.astype(np.int64) << 32) | tracks, kind="stable")
    parts = np.empty(len(order), dtype=np.int8)
    parts[rowids[order]] = split_codes(users[order], tracks[order], played[order], config)
    del rowids, users, tracks, played, order
    labels = pa.table({s.SPLIT: pa.DictionaryArray.from_arrays(parts, pa.array(SPLITS))})
    con.register("_labels", labels)
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {SPLITS_TABLE} AS SELECT _i.{s.USER_ID}, _i.{s.TRACK_ID}, "
            f"_i.{s.PLAYS}, _i.{s.PLAYED_AT}, _i.{s.PLAYS_LOG}, CAST(_l.{s.SPLIT} AS VARCHAR) "
            f"AS {s.SPLIT} FROM {INTERACTIONS} _i POSITIONAL JOIN _labels _l"
        )
    finally:
        con.unregister("_labels")
    counts = np.bincount(parts, minlength=len(SPLITS)).tolist()
    logger.info("split: %s", dict(zip(SPLITS, counts, strict=True)))


def training_rows(split: pd.DataFrame) -> pd.DataFrame:
    """The split frame's training rows."""
    return split[split[s.SPLIT] == TRAIN]


def read_split_rows(
    con: duckdb.DuckDBPyConnection, parts: Sequence[str], columns: Sequence[str]
) -> pd.DataFrame:
    """The split table's rows in ``parts``, with only ``columns``, in table order (DuckDB
    turns an IN list of five labels into a hash join, which does not keep it), each distinct id
    one string: what a stage reads that needs a part of the split or some of its columns."""
    marks = ", ".join("?" for _ in parts)
    return compact_frame(
        con,
        f"SELECT {', '.join(columns)} FROM {SPLITS_TABLE} WHERE {s.SPLIT} IN ({marks}) "
        "ORDER BY rowid",
        list(parts),
    )


__all__ = [
    "SPLITS",
    "SplitConfig",
    "build_split_table",
    "read_split_rows",
    "split_codes",
    "split_interactions",
    "training_rows",
]
