"""The held-out test sets (warm, cold_user, cold_user_given, cold_track) built from the split's
labels: each set's users, their relevant tracks, and which tracks each may be recommended."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from musicrec_core import metrics as m
from musicrec_core.data import schema as s
from musicrec_core.data.split import COLD_TRACK, COLD_USER, TEST, TRAIN, VALIDATION
from musicrec_core.models.recommender import TrainingData

logger = logging.getLogger(__name__)

WARM = "warm"
COLD_USER_GIVEN = "cold_user_given"  # the cold users, each given their first plays
TEST_SETS = (WARM, COLD_USER, COLD_USER_GIVEN, COLD_TRACK)
TEST_SET = "test_set"
RELEVANT = "relevant"
SPLIT_COLUMNS = [*s.PLAY_COLUMNS, s.SPLIT]  # what EvaluationData.from_split reads of the split
_TRACK = "_track"  # column of track indices while building test sets


@dataclass
class TestSet:
    """Users of one test set, their relevant tracks, and which tracks each may be recommended."""

    __test__ = False  # not a pytest test class

    name: str
    user_ids: np.ndarray  # object, sorted
    relevant: list[np.ndarray]  # track indices per user
    gains: list[np.ndarray]  # log1p(plays) per relevant track
    allowed: np.ndarray  # (n_tracks,) bool: tracks this set may recommend at all
    excluded: sparse.csr_matrix  # (n_users, n_tracks): per-user tracks that are not candidates
    history: pd.DataFrame  # plays given to the model at recommendation time (cold users)
    population: int  # users of the whole set; more than len(user_ids) when it is a sample

    def candidates(self, rows: slice) -> np.ndarray:
        """Boolean (users in rows, n_tracks) mask of the tracks each user's ranking covers."""
        blocked = self.excluded[rows]
        mask = np.repeat(self.allowed[None, :], blocked.shape[0], axis=0)
        r, c = blocked.nonzero()
        mask[r, c] = False
        return mask

    def relevant_matrix(self) -> sparse.csr_matrix:
        """(n_users, n_tracks) boolean matrix of the relevant tracks."""
        lengths = [len(r) for r in self.relevant]
        rows = np.repeat(np.arange(len(self.relevant)), lengths)
        cols = np.concatenate([*self.relevant, np.empty(0, np.int64)])
        return sparse.csr_matrix(
            (np.ones(len(cols), bool), (rows, cols)), shape=(len(self.relevant), len(self.allowed))
        )


@dataclass
class EvaluationData:
    """Training data, the test sets, and the track attributes that diversity and novelty use."""

    train: TrainingData
    test_sets: dict[str, TestSet]
    genre_codes: np.ndarray
    artist_codes: np.ndarray
    popularity: np.ndarray

    @classmethod
    def from_split(
        cls,
        split_frame: pd.DataFrame,
        users: pd.DataFrame,
        tracks: pd.DataFrame,
        cold_user_given: int = 0,
        seed: int = 0,
    ) -> EvaluationData:
        """Train on the TRAIN rows over the full catalogues; build the test sets.

        ``cold_user_given`` is how many plays of each cold user the cold_user_given set gives
        at recommendation time (0: that set is empty); cold_user itself gives none.
        """
        label = split_frame[s.SPLIT]
        train_rows = split_frame[label == TRAIN].drop(columns=[s.SPLIT]).reset_index(drop=True)
        train = TrainingData(train_rows, users, tracks)
        frame = split_frame.assign(
            **{_TRACK: pd.Index(train.matrix.track_ids).get_indexer(split_frame[s.TRACK_ID])}
        )
        unknown = int((frame[_TRACK] < 0).sum())
        if unknown:
            logger.warning("evaluation: %d interactions of tracks outside the catalogue", unknown)
        frame = frame[frame[_TRACK] >= 0]
        n_tracks = len(train.matrix.track_ids)
        cold_tracks = np.zeros(n_tracks, dtype=bool)
        cold_tracks[frame.loc[frame[s.SPLIT] == COLD_TRACK, _TRACK].to_numpy()] = True
        seen = frame[frame[s.SPLIT].isin([TRAIN, VALIDATION])]

        cold_users = np.setdiff1d(
            frame.loc[frame[s.SPLIT] == COLD_USER, s.USER_ID].unique(),
            frame.loc[frame[s.SPLIT] == TRAIN, s.USER_ID].unique(),
        )
        cold_rows = frame[(frame[s.SPLIT] == COLD_USER) & frame[s.USER_ID].isin(cold_users)]
        history, given_rows = _given_plays(cold_rows, cold_user_given, seed)
        none = history[:0]
        test_sets = {
            WARM: _test_set(WARM, frame[frame[s.SPLIT] == TEST], seen, ~cold_tracks, none),
            COLD_USER: _test_set(COLD_USER, cold_rows, seen, ~cold_tracks, none),
            COLD_USER_GIVEN: _test_set(COLD_USER_GIVEN, given_rows, seen, ~cold_tracks, history),
            COLD_TRACK: _test_set(
                COLD_TRACK, frame[frame[s.SPLIT] == COLD_TRACK], seen, cold_tracks, none
            ),
        }
        for name, test in test_sets.items():
            logger.info("evaluation: %s test set has %d users", name, len(test.user_ids))
        return cls(
            train=train,
            test_sets=test_sets,
            genre_codes=_codes(tracks, s.GENRE, ("", s.GENRE_UNKNOWN)),
            artist_codes=_codes(tracks, s.ARTIST_NAME, ("",)),
            popularity=m.play_probability(train.matrix.matrix),
        )


def _codes(tracks: pd.DataFrame, column: str, missing: tuple[str, ...]) -> np.ndarray:
    if column not in tracks:
        return np.full(len(tracks), m.MISSING_CODE, dtype=np.int64)
    return m.attribute_codes(tracks[column], missing)


def _given_plays(rows: pd.DataFrame, given: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split cold users' rows into the first ``given`` plays each (history) and the rest;
    both empty when ``given`` is 0."""
    if given <= 0:
        return rows[:0], rows[:0]
    rng = np.random.default_rng(seed)
    played_at = rows[s.PLAYED_AT] if s.PLAYED_AT in rows else pd.Series(pd.NaT, index=rows.index)
    order = pd.DataFrame(
        {s.USER_ID: rows[s.USER_ID], "_at": played_at, "_tiebreak": rng.random(len(rows))}
    ).sort_values([s.USER_ID, "_at", "_tiebreak"], na_position="first")
    first = order.index[order.groupby(s.USER_ID).cumcount().to_numpy() < given]
    is_given = rows.index.isin(first)
    return rows[is_given], rows[~is_given]


def _test_set(
    name: str, rows: pd.DataFrame, seen: pd.DataFrame, allowed: np.ndarray, history: pd.DataFrame
) -> TestSet:
    """A test set from its relevant rows; ``seen`` and ``history`` rows are never candidates."""
    user_ids = np.sort(rows[s.USER_ID].unique()).astype(object)
    n_tracks = len(allowed)
    users = pd.Index(user_ids)
    blocked = pd.concat([seen, history])
    blocked = blocked[blocked[s.USER_ID].isin(user_ids)]
    blocked_users = users.get_indexer(blocked[s.USER_ID])
    blocked_tracks = blocked[_TRACK].to_numpy()
    excluded = sparse.csr_matrix(
        (np.ones(len(blocked), bool), (blocked_users, blocked_tracks)),
        shape=(len(user_ids), n_tracks),
    )
    rel = pd.DataFrame(
        {
            "_user": users.get_indexer(rows[s.USER_ID]),
            _TRACK: rows[_TRACK].to_numpy(),
            s.PLAYS: rows[s.PLAYS].to_numpy(dtype=float),
        }
    )
    rel = rel.groupby(["_user", _TRACK], as_index=False, sort=True)[s.PLAYS].sum()
    is_candidate = allowed[rel[_TRACK].to_numpy()] & ~np.isin(
        rel["_user"].to_numpy() * n_tracks + rel[_TRACK].to_numpy(),
        blocked_users * n_tracks + blocked_tracks,
    )
    dropped = int((~is_candidate).sum())
    if dropped:
        logger.info("evaluation: %s: %d relevant items are not candidates, dropped", name, dropped)
    rel = rel[is_candidate]
    keep = np.isin(np.arange(len(user_ids)), rel["_user"].to_numpy())
    if not keep.all():
        logger.info("evaluation: %s: %d users with nothing relevant left", name, (~keep).sum())
    remap = np.cumsum(keep) - 1
    counts = np.bincount(remap[rel["_user"].to_numpy()], minlength=int(keep.sum()))
    kept_ids = user_ids[keep]
    return TestSet(
        name=name,
        user_ids=kept_ids,
        relevant=_per_user(rel[_TRACK].to_numpy(dtype=np.int64), counts),
        gains=_per_user(np.log1p(rel[s.PLAYS].to_numpy()), counts),
        allowed=allowed,
        excluded=excluded[np.flatnonzero(keep)],
        history=history[history[s.USER_ID].isin(kept_ids)].drop(columns=[s.SPLIT, _TRACK]),
        population=len(kept_ids),
    )


def _per_user(values: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Consecutive runs of ``values``, one per user, of the given lengths."""
    return np.split(values, np.cumsum(counts)[:-1]) if len(counts) else []
