"""The one interface every model serves through, and the top-k selection they share."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import torch

from musicrec_core.data import schema as s
from musicrec_core.data.interactions import InteractionMatrix

logger = logging.getLogger(__name__)


class CatalogueTooLarge(ValueError):
    """A model cannot be fitted on this catalogue within its size limit; raised before the
    work is spent, naming the size and the setting to change."""


@dataclass
class TrainingData:
    """What a model is fitted on: training interactions and the user and track catalogues."""

    interactions: pd.DataFrame
    users: pd.DataFrame
    tracks: pd.DataFrame
    matrix: InteractionMatrix = field(init=False)

    def __post_init__(self) -> None:
        self.matrix = InteractionMatrix.build(
            self.interactions, self.users[s.USER_ID].to_numpy(), self.tracks[s.TRACK_ID].to_numpy()
        )


@dataclass
class Recommendations:
    """Top-k track ids and scores per requested user; missing slots hold None and -inf."""

    user_ids: np.ndarray
    track_ids: np.ndarray  # (n_users, k), object
    scores: np.ndarray  # (n_users, k), float

    def to_frame(self, model_name: str, model_version: str) -> pd.DataFrame:
        """Long table, one row per (user, rank), filled slots only."""
        n_users, k = self.track_ids.shape
        frame = pd.DataFrame(
            {
                s.USER_ID: np.repeat(self.user_ids, k),
                s.RANK: np.tile(np.arange(1, k + 1, dtype="int64"), n_users),
                s.TRACK_ID: self.track_ids.ravel(),
                s.SCORE: self.scores.ravel().astype(float),
            }
        )
        frame = frame[frame[s.TRACK_ID].notna()].reset_index(drop=True)
        frame[s.MODEL_NAME] = model_name
        frame[s.MODEL_VERSION] = model_version
        frame[s.GENERATED_AT] = pd.Timestamp(datetime.now(UTC)).tz_convert(None)
        return frame


class Recommender(ABC):
    """Fit on training data; recommend top-k tracks for a batch of users."""

    name: str = "recommender"
    # The evaluation test sets the model can serve: a model with no way to score users without
    # plays, or tracks without plays, is not measured on those sets (serving falls back instead).
    test_sets: tuple[str, ...] = ("warm",)

    def fit(self, data: TrainingData) -> Recommender:
        """Learn from the data and remember it (played tracks are excluded at recommend time)."""
        self.data = data
        self._fit(data)
        return self

    @abstractmethod
    def _fit(self, data: TrainingData) -> None: ...

    @abstractmethod
    def score(self, user_ids: np.ndarray) -> np.ndarray:
        """Scores of every catalogue track for each user, shape (len(user_ids), n_tracks)."""

    def score_tracks(self, user_ids: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """``score(user_ids)[:, columns]``: the scores of some catalogue tracks only (distinct
        columns); a model that can skip the other tracks' work overrides it."""
        return self.score(user_ids)[:, columns]

    def recommend(
        self, user_ids: np.ndarray | list, k: int = 20, exclude_played: bool = True
    ) -> Recommendations:
        """Top-k tracks per user, never one the user played in the training data if asked."""
        user_ids = np.asarray(user_ids, dtype=object)
        scores = self.score(user_ids).astype(np.float64, copy=True)
        if exclude_played:
            mask_played(scores, self.data.matrix, user_ids)
        return self.best(user_ids, scores, k)

    def recommend_new(
        self, listeners: pd.DataFrame, histories: pd.DataFrame, k: int = 20
    ) -> Recommendations:
        """Top-k for listeners the catalogue does not hold (``listeners``: user id, age,
        gender, age group), from the plays in ``histories``: a model that reads no
        demographics ranks from the plays alone (``recommend_with_history``, which every
        model of the platform has)."""
        return self.recommend_with_history(listeners[s.USER_ID].to_numpy(object), histories, k)

    def best(self, user_ids: np.ndarray, scores: np.ndarray, k: int) -> Recommendations:
        """The k best-scoring catalogue tracks per row of scores (-inf never recommended)."""
        idx, top = top_k(scores, k)
        track_ids = np.where(np.isfinite(top), self.data.matrix.track_ids[idx], None)
        return Recommendations(np.asarray(user_ids, dtype=object), track_ids, top)


def mask_played(scores: np.ndarray, matrix: InteractionMatrix, user_ids: np.ndarray) -> None:
    """Set the score of every track a user played to -inf, in place."""
    rows = matrix.user_index(user_ids)
    known = np.flatnonzero(rows >= 0)
    played = matrix.matrix[rows[known]]
    r, c = played.nonzero()
    scores[known[r], c] = -np.inf


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the k largest scores per row, best first.

    Among equal scores the lower column comes first, at the cut too, so a list depends on the
    scores alone; NaN ranks below every number. Selection is ``torch.topk`` (many times
    faster than a partition in numpy over hundreds of thousands of tracks).
    """
    k = min(k, scores.shape[1])
    ranked = np.ascontiguousarray(scores)
    values, part = _top_columns(ranked, k)
    if np.issubdtype(scores.dtype, np.floating) and np.isnan(values).any():  # topk: NaN first
        ranked = _nan_last(scores)
        values, part = _top_columns(ranked, k)
    if 0 < k < part.shape[1]:  # a (k+1)-th column was taken: does it tie with the k-th?
        for row in np.flatnonzero(values[:, k] == values[:, k - 1]):
            line = ranked[row]
            above = np.flatnonzero(line > values[row, k])
            same = np.flatnonzero(line == values[row, k])[: k - len(above)]
            part[row, :k] = np.concatenate([above, same])
    part = np.sort(part[:, :k], axis=1)
    kept = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-np.take_along_axis(ranked, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(kept, order, axis=1)


def _nan_last(scores: np.ndarray) -> np.ndarray:
    """NaN as -inf, and ±inf as the extreme finite values, so that NaN ranks below -inf."""
    return np.nan_to_num(scores, nan=-np.inf)


def _top_columns(ranked: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k + 1 largest values per row (k where there are no more columns), largest first,
    and their columns: the extra one tells whether the k-th ties with a column left out."""
    values, columns = torch.topk(
        torch.from_numpy(ranked), min(k + 1, ranked.shape[1]), dim=1, sorted=True
    )
    return values.numpy(), columns.numpy()


def model_version(now: datetime | None = None) -> str:
    """A sortable version stamp for a fitted model."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
