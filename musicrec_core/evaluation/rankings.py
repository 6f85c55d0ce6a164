"""The first half of evaluation: each model's top-k candidates for each evaluated user, kept as
a table of lists (tracks and users by id), and samples of its scores for the histograms.

Ranking is the part that grows with the users and needs the fitted models;
:func:`musicrec_core.evaluation.protocol.summarise` then computes every metric from the lists
of all the users at once, so lists ranked in parts (several processes, or runs) concatenate
into the same measurement.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.evaluation.held_out import RELEVANT, TEST_SET, TEST_SETS, EvaluationData, TestSet
from musicrec_core.models.recommender import Recommender, top_k

logger = logging.getLogger(__name__)

RANKING_COLUMNS = [s.MODEL_NAME, TEST_SET, s.USER_ID, s.RANK, s.TRACK_ID]
SCORE_SAMPLE_COLUMNS = [s.MODEL_NAME, TEST_SET, RELEVANT, s.SCORE]
MAX_BATCH_USERS = 512
BATCH_CELLS = 1 << 24  # scores of one batch (users x tracks): 128 MB as float64


@dataclass
class Rankings:
    """Top-k lists (``RANKING_COLUMNS``, ranks from 1 to k, one row per recommended track;
    the first and the last place are there even when empty, without a track, so the lists
    show every ranked user and their length) and sampled relevant and irrelevant scores
    (``SCORE_SAMPLE_COLUMNS``), per model and test set."""

    lists: pd.DataFrame
    score_samples: pd.DataFrame

    @classmethod
    def concat(cls, parts: Sequence[Rankings]) -> Rankings:
        """Every part's rows, in order: the rankings of several user shards as one."""
        return cls(
            stack([p.lists for p in parts], RANKING_COLUMNS),
            stack([p.score_samples for p in parts], SCORE_SAMPLE_COLUMNS),
        )


def stack(frames: Sequence[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The non-empty frames one after another, with ``columns``; an empty frame of them if none."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def rank_models(
    models: Mapping[str, Recommender],
    data: EvaluationData,
    k: int,
    test_sets: Sequence[str] = TEST_SETS,
    seed: int = 0,
    batch_users: int | None = None,
    n_score_samples: int = 20_000,
) -> Rankings:
    """The top-``k`` lists of every model (fitted on ``data.train``, named by its key) for the
    users of each test set it serves.

    Users are scored ``batch_users`` at a time, by default as many as keep a batch's score
    matrix within ``BATCH_CELLS`` (at most ``MAX_BATCH_USERS``), so memory stays bounded however
    large the catalogue.
    """
    n_tracks = len(data.train.matrix.track_ids)
    batch_users = batch_users or min(MAX_BATCH_USERS, max(1, BATCH_CELLS // max(n_tracks, 1)))
    lists, samples = [], []
    for name, model in models.items():
        for set_name in test_sets:
            test = data.test_sets[set_name]
            if not len(test.user_ids):
                logger.info("evaluation: %s: skipping %s, it has no users", name, set_name)
                continue
            rng = np.random.default_rng(seed)
            if len(test.history):
                if not hasattr(model, "recommend_with_history"):
                    logger.warning(
                        "evaluation: %s: skipping %s, the model cannot take given plays "
                        "(no recommend_with_history)",
                        name,
                        set_name,
                    )
                    continue
                recommended = _recommend_with_history(model, data, test, k, batch_users)
                sampled = pd.DataFrame(columns=[RELEVANT, s.SCORE])
            elif set_name in model.test_sets:
                recommended, sampled = _rank(model, test, k, batch_users, n_score_samples, rng)
            else:
                logger.info(
                    "evaluation: %s: skipping %s, the model does not serve it", name, set_name
                )
                continue
            labels = {s.MODEL_NAME: name, TEST_SET: set_name}
            lists.append(_list_rows(test, recommended, data.train.matrix.track_ids, labels))
            samples.append(sampled.assign(**labels)[SCORE_SAMPLE_COLUMNS])
    return Rankings(stack(lists, RANKING_COLUMNS), stack(samples, SCORE_SAMPLE_COLUMNS))


def recommended_indices(
    lists: pd.DataFrame, test: TestSet, track_ids: np.ndarray, k: int
) -> np.ndarray:
    """(users of ``test``, k) catalogue indices from one model's lists on ``test`` (-1 empty),
    rows in the test set's user order. Raises ValueError unless the lists hold exactly the
    test set's users, ranked to at least ``k`` places."""
    rank = lists[s.RANK].to_numpy(np.int64)
    if not len(rank) or rank.max() < k:
        raise ValueError(
            f"the lists of {test.name} are ranked to {rank.max() if len(rank) else 0} places, "
            f"fewer than the {k} asked for: rank them again to {k}"
        )
    users = pd.Index(test.user_ids)
    row = users.get_indexer(lists[s.USER_ID])
    listed = np.unique(row)
    if (row < 0).any() or len(listed) != len(users):
        raise ValueError(
            f"the lists of {test.name} hold {len(listed[listed >= 0])} of its {len(users)} "
            f"users and {int((row < 0).sum())} rows of other users: they were ranked with other "
            "evaluation settings, or some of the lists are missing"
        )
    out = np.full((len(users), int(rank.max())), -1, dtype=np.int64)
    out[row, rank - 1] = pd.Index(track_ids).get_indexer(lists[s.TRACK_ID])
    return out[:, :k]


def _list_rows(
    test: TestSet, recommended: np.ndarray, track_ids: np.ndarray, labels: dict[str, str]
) -> pd.DataFrame:
    """``recommended`` (users x k catalogue indices, -1 empty, filled from the front) as list
    rows: one per recommended track, and the first and last places when empty."""
    n_users, k = recommended.shape
    rank = np.tile(np.arange(1, k + 1), n_users)
    flat = recommended.ravel()
    keep = (flat >= 0) | (rank == 1) | (rank == k)
    flat = flat[keep]
    tracks = np.where(flat >= 0, np.asarray(track_ids, dtype=object)[np.maximum(flat, 0)], None)
    return pd.DataFrame(
        {
            **labels,
            s.USER_ID: np.repeat(test.user_ids, k)[keep],
            s.RANK: rank[keep],
            s.TRACK_ID: tracks,
        }
    )[RANKING_COLUMNS]


def _rank(
    model: Recommender,
    test: TestSet,
    k: int,
    batch_users: int,
    n_samples: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Top-k candidate indices per user (-1 empty), and sampled relevant / irrelevant scores.

    Irrelevant scores are drawn uniformly over (user, allowed track) pairs, non-candidates
    rejected, about ``n_samples`` in all.
    """
    n_users = len(test.user_ids)
    recommended = np.full((n_users, k), -1, dtype=np.int64)
    relevant = test.relevant_matrix()
    allowed = np.flatnonzero(test.allowed)
    positives, negatives = [], []
    for start in range(0, n_users, batch_users):
        rows = slice(start, start + batch_users)
        scores = np.array(model.score(test.user_ids[rows]), dtype=np.float64)
        candidates = test.candidates(rows)
        scores[~candidates] = -np.inf
        idx, top = top_k(scores, k)
        recommended[rows, : idx.shape[1]] = np.where(np.isfinite(top), idx, -1)

        r, c = relevant[rows].nonzero()
        positives.append(scores[r, c])
        candidates[r, c] = False
        n_draws = -(-n_samples * len(scores) // n_users)
        draw_r = rng.integers(0, len(scores), n_draws)
        draw_c = allowed[rng.integers(0, len(allowed), n_draws)]
        ok = candidates[draw_r, draw_c]
        negatives.append(scores[draw_r[ok], draw_c[ok]])
    pos = _subsample(np.concatenate(positives), n_samples, rng)
    neg = _subsample(np.concatenate(negatives), n_samples, rng)
    samples = pd.DataFrame(
        {
            RELEVANT: np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)],
            s.SCORE: np.r_[pos, neg],
        }
    )
    return recommended, samples


def _subsample(values: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(values) <= n:
        return values
    return values[np.sort(rng.choice(len(values), size=n, replace=False))]


def _recommend_with_history(
    model: Recommender, data: EvaluationData, test: TestSet, k: int, batch_users: int
) -> np.ndarray:
    """Top-k candidates from ``model.recommend_with_history(user_ids, histories, k)``.

    ``histories`` is the batch's given plays (schema play columns); the model's lists are asked
    long enough that k candidates survive dropping non-candidate tracks.
    """
    track_index = pd.Index(data.train.matrix.track_ids)
    longest_history = int(test.history.groupby(s.USER_ID).size().max())
    ask = k + int((~test.allowed).sum()) + longest_history
    out = np.full((len(test.user_ids), k), -1, dtype=np.int64)
    for start in range(0, len(test.user_ids), batch_users):
        rows = slice(start, start + batch_users)
        user_ids = test.user_ids[rows]
        histories = test.history[test.history[s.USER_ID].isin(user_ids)]
        recs = model.recommend_with_history(user_ids, histories, ask)
        idx = track_index.get_indexer(recs.track_ids.ravel()).reshape(recs.track_ids.shape)
        candidates = test.candidates(rows)
        ok = (idx >= 0) & np.take_along_axis(candidates, np.maximum(idx, 0), axis=1)
        idx = np.where(ok, idx, -1)
        first = np.argsort(~ok, axis=1, kind="stable")[:, :k]
        kept = np.take_along_axis(idx, first, axis=1)
        out[rows, : kept.shape[1]] = kept
    return out
