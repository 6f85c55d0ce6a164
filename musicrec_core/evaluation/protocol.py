"""The offline evaluation protocol: full ranking of every candidate track on four test sets.

Test sets, built from the split's labels (see :mod:`musicrec_core.data.split`), built by
:mod:`musicrec_core.evaluation.held_out`:

- ``warm``: users with TEST rows; relevant = their TEST tracks; candidates = every catalogue
  track except those the user played in training or validation, and except the cold-start
  tracks (those are scored only in ``cold_track``). Excluding the user's VALIDATION tracks keeps
  known positives from counting as false positives.
- ``cold_user``: users with COLD_USER rows and no training plays; relevant = those tracks;
  candidates = every non-cold track. The model knows nothing of their plays.
- ``cold_user_given`` (with ``cold_user_given = N`` > 0): the same users, whose first N plays
  (by ``played_at``, seeded random order where missing) are handed to the model as known
  history and leave both the relevant set and the candidates. Every model that takes given
  plays (``recommend_with_history``) is measured on it.
- ``cold_track``: users with COLD_TRACK rows; relevant = those tracks; candidates = ONLY the
  cold-start tracks, i.e. how well a model ranks brand-new tracks for the users who later
  played some.

Each test set may be a fixed, seeded sample of its users
(:mod:`musicrec_core.evaluation.user_sample`), the same for every model; the summary says how
many users were evaluated (``sample_users``) of how many (``population_users``), and its
intervals are the sample's.

Relevant items are always candidates (a relevant track that may not be recommended is dropped)
and users left with no relevant item are dropped from the set. There are no sampled negatives.
For diversity, an empty artist and the 'Unknown' genre are missing values: they never make two
tracks similar and are not counted as a distinct genre or artist. Novelty's popularity comes
from training plays. Catalogue coverage divides by the number of tracks the test set may
recommend and has no confidence interval. Ties between scores are broken as
:func:`musicrec_core.models.recommender.top_k` breaks them, which is deterministic for equal inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from musicrec_core import metrics as m
from musicrec_core.data import schema as s
from musicrec_core.evaluation.bootstrap import summarise
from musicrec_core.evaluation.held_out import RELEVANT, TEST_SET, TEST_SETS, EvaluationData, TestSet
from musicrec_core.models.recommender import Recommender, top_k

logger = logging.getLogger(__name__)

SAMPLE_USERS = "sample_users"  # users of the test set evaluated
POPULATION_USERS = "population_users"  # users of the whole test set
SUMMARY_COLUMNS = [s.MODEL_NAME, TEST_SET, *m.SUMMARY_COLUMNS, SAMPLE_USERS, POPULATION_USERS]
PER_USER_COLUMNS = [s.MODEL_NAME, TEST_SET, s.USER_ID, m.K, *m.PER_USER_METRICS]
SCORE_SAMPLE_COLUMNS = [s.MODEL_NAME, TEST_SET, RELEVANT, s.SCORE]
PR_CURVE_COLUMNS = [s.MODEL_NAME, TEST_SET, m.K, m.PRECISION, m.RECALL]
MAX_BATCH_USERS = 512
BATCH_CELLS = 1 << 24  # scores of one batch (users x tracks): at most 128 MB (float64)


@dataclass
class EvaluationResult:
    """Summary with bootstrap CIs, per-user metrics, and score samples and PR points for plots."""

    summary: pd.DataFrame  # SUMMARY_COLUMNS
    per_user: pd.DataFrame  # PER_USER_COLUMNS
    score_samples: pd.DataFrame  # SCORE_SAMPLE_COLUMNS
    pr_curve: pd.DataFrame  # PR_CURVE_COLUMNS

    @classmethod
    def concat(cls, results: Sequence[EvaluationResult]) -> EvaluationResult:
        """All results stacked, in order."""
        return cls(
            summary=_stack([r.summary for r in results], SUMMARY_COLUMNS),
            per_user=_stack([r.per_user for r in results], PER_USER_COLUMNS),
            score_samples=_stack([r.score_samples for r in results], SCORE_SAMPLE_COLUMNS),
            pr_curve=_stack([r.pr_curve for r in results], PR_CURVE_COLUMNS),
        )


def _stack(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def evaluate(
    model: Recommender,
    data: EvaluationData,
    ks: Sequence[int] = (5, 10, 20),
    test_sets: Sequence[str] = TEST_SETS,
    n_boot: int = 1000,
    seed: int = 0,
    batch_users: int | None = None,
    name: str | None = None,
    n_score_samples: int = 20_000,
) -> EvaluationResult:
    """Evaluate a model already fitted on ``data.train``; ``name`` defaults to ``model.name``.

    Users are scored ``batch_users`` at a time, by default as many as keep a batch's score
    matrix within ``BATCH_CELLS`` (at most ``MAX_BATCH_USERS``), so memory stays bounded however
    large the catalogue.
    """
    name = name or model.name
    n_tracks = len(data.train.matrix.track_ids)
    batch_users = batch_users or min(MAX_BATCH_USERS, max(1, BATCH_CELLS // max(n_tracks, 1)))
    results = []
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
            recommended = _recommend_with_history(model, data, test, max(ks), batch_users)
            samples = pd.DataFrame(columns=[RELEVANT, s.SCORE])
        elif set_name in model.test_sets:
            recommended, samples = _rank(model, test, max(ks), batch_users, n_score_samples, rng)
        else:
            logger.info("evaluation: %s: skipping %s, the model does not serve it", name, set_name)
            continue
        results.append(
            _result(name, data, test, recommended, samples, ks, n_boot=n_boot, seed=seed)
        )
    return EvaluationResult.concat(results)


def _known_or_none(codes: np.ndarray) -> np.ndarray | None:
    """Attribute codes, or None when no track has the attribute (its diversity is then n/a)."""
    return codes if (codes >= 0).any() else None


def _result(
    name: str,
    data: EvaluationData,
    test: TestSet,
    recommended: np.ndarray,
    samples: pd.DataFrame,
    ks: Sequence[int],
    n_boot: int,
    seed: int,
) -> EvaluationResult:
    labels = {s.MODEL_NAME: name, TEST_SET: test.name}
    per_user = m.evaluate_lists(
        recommended,
        test.relevant,
        test.gains,
        ks=ks,
        genre_codes=_known_or_none(data.genre_codes),
        artist_codes=_known_or_none(data.artist_codes),
        popularity=data.popularity,
        user_ids=test.user_ids,
    )
    coverage = pd.DataFrame(
        {
            m.METRIC: m.COVERAGE,
            m.K: list(ks),
            m.MEAN: [m.catalogue_coverage(recommended[:, :k], int(test.allowed.sum())) for k in ks],
            m.CI_LOW: np.nan,
            m.CI_HIGH: np.nan,
            m.N_USERS: len(test.user_ids),
        }
    )
    summary = pd.concat([summarise(per_user, n_boot=n_boot, seed=seed), coverage])
    return EvaluationResult(
        summary=summary.assign(
            **labels, **{SAMPLE_USERS: len(test.user_ids), POPULATION_USERS: test.population}
        )[SUMMARY_COLUMNS],
        per_user=per_user.assign(**labels)[PER_USER_COLUMNS],
        score_samples=samples.assign(**labels)[SCORE_SAMPLE_COLUMNS],
        pr_curve=m.pr_curve(recommended, test.relevant, max(ks)).assign(**labels)[PR_CURVE_COLUMNS],
    )


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


def compare(
    models: dict[str, Recommender], data: EvaluationData, **kwargs: object
) -> EvaluationResult:
    """Evaluate each fitted model under its dict key; ``kwargs`` go to :func:`evaluate`."""
    return EvaluationResult.concat(
        [evaluate(model, data, name=name, **kwargs) for name, model in models.items()]
    )
