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

Evaluation is two steps: each model's top-k lists of the evaluated users
(:mod:`musicrec_core.evaluation.rankings`, which may run a user shard at a time), then
:func:`measure` of every user's lists. Each test set may be a fixed, seeded sample of its users
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
from musicrec_core.evaluation.rankings import Rankings, rank_model, stack
from musicrec_core.models.recommender import Recommender

logger = logging.getLogger(__name__)

SAMPLE_USERS = "sample_users"  # users of the test set evaluated
POPULATION_USERS = "population_users"  # users of the whole test set
SUMMARY_COLUMNS = [s.MODEL_NAME, TEST_SET, *m.SUMMARY_COLUMNS, SAMPLE_USERS, POPULATION_USERS]
PER_USER_COLUMNS = [s.MODEL_NAME, TEST_SET, s.USER_ID, m.K, *m.PER_USER_METRICS]
SCORE_SAMPLE_COLUMNS = [s.MODEL_NAME, TEST_SET, RELEVANT, s.SCORE]
PR_CURVE_COLUMNS = [s.MODEL_NAME, TEST_SET, m.K, m.PRECISION, m.RECALL]


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
            summary=stack([r.summary for r in results], SUMMARY_COLUMNS),
            per_user=stack([r.per_user for r in results], PER_USER_COLUMNS),
            score_samples=stack([r.score_samples for r in results], SCORE_SAMPLE_COLUMNS),
            pr_curve=stack([r.pr_curve for r in results], PR_CURVE_COLUMNS),
        )


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
    Its lists are ranked by :func:`rank_model` (``batch_users``: users scored at a time)."""
    rankings = rank_model(
        model,
        data,
        max(ks),
        name=name,
        test_sets=test_sets,
        seed=seed,
        batch_users=batch_users,
        n_score_samples=n_score_samples,
    )
    return measure(rankings, data, ks, n_boot=n_boot, seed=seed)


def measure(
    rankings: Rankings,
    data: EvaluationData,
    ks: Sequence[int] = (5, 10, 20),
    n_boot: int = 1000,
    seed: int = 0,
) -> EvaluationResult:
    """Every metric of each model and test set in ``rankings``, from the lists of all the test
    set's users (those of every user shard together), models in the order ranked and test sets
    in ``TEST_SETS`` order. Raises ValueError when a model's lists of a test set do not hold
    each of its users once, to at least ``max(ks)`` places."""
    results = []
    for name, sets in rankings.lists.items():
        for set_name in TEST_SETS:
            if set_name not in sets:
                continue
            test = data.test_sets[set_name]
            recommended = rankings.recommended(name, test, max(ks))
            samples = rankings.samples(name, set_name)
            results.append(_result(name, data, test, recommended, samples, ks, n_boot, seed))
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


def compare(
    models: dict[str, Recommender], data: EvaluationData, **kwargs: object
) -> EvaluationResult:
    """Evaluate each fitted model under its dict key; ``kwargs`` go to :func:`evaluate`."""
    return EvaluationResult.concat(
        [evaluate(model, data, name=name, **kwargs) for name, model in models.items()]
    )
