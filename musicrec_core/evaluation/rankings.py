"""The first half of evaluation: each model's top-k candidates for the evaluated users, and
samples of its scores for the histograms.

Ranking grows with the users, so it can run a user shard at a time, in as many processes as
there are shards; :func:`musicrec_core.evaluation.protocol.measure` then computes every metric
from all the users' lists at once, the same numbers as one ranking of every user.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.data.shards import check_shard, in_shard
from musicrec_core.evaluation.held_out import RELEVANT, TEST_SETS, EvaluationData, TestSet
from musicrec_core.evaluation.user_sample import restrict_test_set
from musicrec_core.models.recommender import Recommender, top_k

logger = logging.getLogger(__name__)

MAX_BATCH_USERS = 512
BATCH_CELLS = 1 << 24  # scores of one batch (users x tracks): at most 128 MB (float64)
SAMPLE_COLUMNS = [RELEVANT, s.SCORE]


@dataclass(frozen=True)
class Shard:
    """One user shard of ``count``: the users whose :func:`user_shards` hash is ``index``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        check_shard(self.index, self.count)

    def rows(self, test: TestSet) -> np.ndarray:
        """Positions of the test set's users that fall in this shard."""
        return np.flatnonzero(in_shard(test.user_ids, self.index, self.count))


WHOLE = Shard(0, 1)


@dataclass
class Lists:
    """One model's top-k catalogue indices (-1 empty) for some users of one test set, by their
    positions in it (``rows``), with sampled relevant and irrelevant scores."""

    rows: np.ndarray
    recommended: np.ndarray  # (len(rows), k) int64
    samples: pd.DataFrame  # SAMPLE_COLUMNS


@dataclass
class Rankings:
    """Lists of each model (in the order ranked) and test set, of one shard or of several."""

    lists: dict[str, dict[str, list[Lists]]] = field(default_factory=dict)

    def add(self, name: str, set_name: str, lists: Lists) -> None:
        self.lists.setdefault(name, {}).setdefault(set_name, []).append(lists)

    @classmethod
    def merge(cls, parts: Sequence[Rankings]) -> Rankings:
        """Every part's lists together: the rankings of several user shards as one."""
        merged = cls()
        for part in parts:
            for name, sets in part.lists.items():
                for set_name, pieces in sets.items():
                    for lists in pieces:
                        merged.add(name, set_name, lists)
        return merged

    def recommended(self, name: str, test: TestSet, k: int) -> np.ndarray:
        """(users of ``test``, k) catalogue indices of the model's lists, rows in the test set's
        user order. Raises ValueError unless the pieces hold each of its users exactly once,
        ranked to at least ``k`` places."""
        pieces = self.lists[name][test.name]
        rows = np.concatenate([p.rows for p in pieces])
        width = min(p.recommended.shape[1] for p in pieces)
        if width < k:
            raise ValueError(
                f"the lists of {name} on {test.name} are ranked to {width} places, fewer than "
                f"the {k} asked for"
            )
        if len(rows) != len(test.user_ids) or len(np.unique(rows)) != len(rows):
            raise ValueError(
                f"the lists of {name} on {test.name} hold {len(np.unique(rows))} distinct of "
                f"its {len(test.user_ids)} users in {len(rows)} lists: is a user shard missing, "
                "or ranked twice?"
            )
        out = np.empty((len(rows), k), dtype=np.int64)
        for piece in pieces:
            out[piece.rows] = piece.recommended[:, :k]
        return out

    def samples(self, name: str, set_name: str) -> pd.DataFrame:
        return stack([p.samples for p in self.lists[name][set_name]], SAMPLE_COLUMNS)


def stack(frames: Sequence[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The non-empty frames one after another, with ``columns``; an empty frame of them if none."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def rank_model(
    model: Recommender,
    data: EvaluationData,
    k: int,
    name: str | None = None,
    test_sets: Sequence[str] = TEST_SETS,
    shard: Shard = WHOLE,
    seed: int = 0,
    batch_users: int | None = None,
    n_score_samples: int = 20_000,
) -> Rankings:
    """The top-``k`` lists of a model fitted on ``data.train`` for the users of ``shard`` in
    each test set it serves; ``name`` defaults to ``model.name``.

    Users are scored ``batch_users`` at a time, by default as many as keep a batch's score
    matrix within ``BATCH_CELLS`` (at most ``MAX_BATCH_USERS``), so memory stays bounded however
    large the catalogue. A shard draws its share of the ``n_score_samples``.
    """
    name = name or model.name
    n_tracks = len(data.train.matrix.track_ids)
    batch_users = batch_users or min(MAX_BATCH_USERS, max(1, BATCH_CELLS // max(n_tracks, 1)))
    rankings = Rankings()
    for set_name in test_sets:
        whole = data.test_sets[set_name]
        if not len(whole.user_ids):
            logger.info("evaluation: %s: skipping %s, it has no users", name, set_name)
            continue
        rows = shard.rows(whole)
        test = restrict_test_set(whole, rows)
        if len(whole.history):
            if not hasattr(model, "recommend_with_history"):
                logger.warning(
                    "evaluation: %s: skipping %s, the model cannot take given plays "
                    "(no recommend_with_history)",
                    name,
                    set_name,
                )
                continue
            recommended = _recommend_with_history(model, data, test, k, batch_users)
            samples = pd.DataFrame(columns=SAMPLE_COLUMNS)
        elif set_name in model.test_sets:
            share = -(-n_score_samples * len(rows) // len(whole.user_ids))
            rng = np.random.default_rng(seed)
            recommended, samples = _rank(model, test, k, batch_users, share, rng)
        else:
            logger.info("evaluation: %s: skipping %s, the model does not serve it", name, set_name)
            continue
        rankings.add(name, set_name, Lists(rows, recommended, samples))
    return rankings


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
    positives, negatives = [np.empty(0)], [np.empty(0)]
    for start in range(0, n_users, batch_users):
        rows = slice(start, start + batch_users)
        scores = model.score(test.user_ids[rows])
        scores = np.array(scores, dtype=np.promote_types(scores.dtype, np.float32))  # a copy
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
    out = np.full((len(test.user_ids), k), -1, dtype=np.int64)
    if not len(test.user_ids):
        return out
    track_index = pd.Index(data.train.matrix.track_ids)
    longest_history = int(test.history.groupby(s.USER_ID).size().max())
    ask = k + int((~test.allowed).sum()) + longest_history
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
