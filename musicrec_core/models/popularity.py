"""Baseline recommenders that stay in the project as references and as fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.models.recommender import Recommendations, Recommender, TrainingData


class PlayIndependent(Recommender):
    """A model whose scores do not depend on a user's plays (only on who the user is)."""

    def recommend_with_history(
        self, user_ids: np.ndarray | list, histories: pd.DataFrame, k: int = 20
    ) -> Recommendations:
        """Top-k for users known by the plays given here: those plays are only left out."""
        user_ids = np.asarray(user_ids, dtype=object)
        scores = self.score(user_ids).astype(np.float64, copy=True)
        self.leave_out(scores, user_ids, histories)
        return self.best(user_ids, scores, k)

    def leave_out(self, scores: np.ndarray, user_ids: np.ndarray, histories: pd.DataFrame) -> None:
        """Set the score of every play given in ``histories`` to -inf, in place (rows follow
        ``user_ids``), with the catalogue's tracks indexed once per fit rather than per call."""
        rows = pd.Index(user_ids, dtype=object).get_indexer(histories[s.USER_ID])
        columns = self._track_index().get_indexer(histories[s.TRACK_ID])
        known = (rows >= 0) & (columns >= 0)
        scores[rows[known], columns[known]] = -np.inf

    def _track_index(self) -> pd.Index:
        matrix = self.data.matrix
        if getattr(self, "_indexed", None) is not matrix:
            self._tracks, self._indexed = pd.Index(matrix.track_ids, dtype=object), matrix
        return self._tracks


class Popularity(PlayIndependent):
    """Global popularity: the number of distinct users who played each track."""

    name = "popularity"
    # The reference on every set: on cold tracks (no plays, all tied) it is the chance level.
    test_sets = ("warm", "cold_user", "cold_track")

    def _fit(self, data: TrainingData) -> None:
        counts = np.asarray(data.matrix.binary().sum(axis=0)).ravel()
        self.track_scores = counts / max(len(data.users), 1)

    def score(self, user_ids: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.track_scores, (len(user_ids), len(self.track_scores)))


class SegmentPopularity(PlayIndependent):
    """Popularity within the user's demographic segment (age group x gender).

    Each segment's share of listeners per track is shrunk toward the global share with a prior of
    ``prior_users`` pseudo-users, so small segments fall back smoothly to global popularity.
    Users without a known segment get global popularity.
    """

    name = "segment_popularity"
    test_sets = ("warm", "cold_user", "cold_track")

    def __init__(self, prior_users: float = 20.0) -> None:
        self.prior_users = prior_users

    def _fit(self, data: TrainingData) -> None:
        played = data.matrix.binary()
        n_users = max(played.shape[0], 1)
        global_share = np.asarray(played.sum(axis=0)).ravel() / n_users
        segments = segment_labels(data.users)
        codes, labels = pd.factorize(segments)
        self.segment_index = dict(zip(labels, range(len(labels)), strict=True))
        self.user_segment = dict(zip(data.users[s.USER_ID], codes, strict=True))
        table = np.empty((len(labels) + 1, played.shape[1]))
        for code in range(len(labels)):
            members = played[np.flatnonzero(codes == code)]
            counts = np.asarray(members.sum(axis=0)).ravel()
            table[code] = (counts + self.prior_users * global_share) / (
                members.shape[0] + self.prior_users
            )
        table[-1] = global_share
        self.table = table

    def segment_scores(self, age_group: str, gender: str) -> np.ndarray:
        """Scores of every track for one segment (global popularity for an unknown segment)."""
        code = self.segment_index.get(f"{age_group}|{gender}", len(self.table) - 1)
        return self.table[code]

    def recommend_new(
        self, listeners: pd.DataFrame, histories: pd.DataFrame, k: int = 20
    ) -> Recommendations:
        """Top-k of each listener's segment (``listeners`` need age group and gender), never
        one of the plays given in ``histories``."""
        user_ids = listeners[s.USER_ID].to_numpy(dtype=object)
        scores = np.stack(
            [
                self.segment_scores(group, gender)
                for group, gender in zip(listeners[s.AGE_GROUP], listeners[s.GENDER], strict=True)
            ]
        )
        self.leave_out(scores, user_ids, histories)
        return self.best(user_ids, scores, k)

    def score(self, user_ids: np.ndarray) -> np.ndarray:
        codes = np.array([self.user_segment.get(u, -1) for u in user_ids], dtype=np.int64)
        return self.table[codes]


def segment_labels(users: pd.DataFrame) -> pd.Series:
    """The segment of each user as 'age_group|gender'."""
    return users[s.AGE_GROUP].astype(str) + "|" + users[s.GENDER].astype(str)


def segment_recommendations(model: SegmentPopularity, users: pd.DataFrame, k: int) -> pd.DataFrame:
    """Top-k tracks for every demographic segment present, for users with no plays yet."""
    rows = []
    segments = users[[s.AGE_GROUP, s.GENDER]].drop_duplicates().sort_values([s.AGE_GROUP, s.GENDER])
    track_ids = model.data.matrix.track_ids
    for age_group, gender in segments.itertuples(index=False):
        scores = model.segment_scores(age_group, gender)
        top = np.argsort(-scores, kind="stable")[:k]
        rows.append(
            pd.DataFrame(
                {
                    s.AGE_GROUP: age_group,
                    s.GENDER: gender,
                    s.RANK: np.arange(1, len(top) + 1, dtype="int64"),
                    s.TRACK_ID: track_ids[top],
                    s.SCORE: scores[top],
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
