"""Fit the named models on the training split, evaluate them all the same way, draw the plots."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from musicrec_core import metrics as m
from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.evaluation.held_out import TEST_SET, TEST_SETS, EvaluationData
from musicrec_core.evaluation.protocol import EvaluationResult, measure
from musicrec_core.evaluation.rankings import Rankings, Shard, rank_model
from musicrec_core.evaluation.user_sample import DEFAULT_EVAL_USERS, sample_users
from musicrec_core.models.fitted_files import save_fitted
from musicrec_core.models.recommender import CatalogueTooLarge, Recommender, TrainingData
from musicrec_core.models.registry import build_models
from musicrec_core.reports import plots

logger = logging.getLogger(__name__)

Loader = Callable[[TrainingData], Recommender]  # a trained model, loaded over its training data

PLOT_METRICS = {
    "ndcg_vs_k": [m.NDCG],
    "diversity_vs_k": [m.GENRE_DIVERSITY, m.ARTIST_DIVERSITY],
}


@dataclass
class Comparison:
    """Evaluation of several models on one split, with how long each took to fit."""

    result: EvaluationResult
    fit_seconds: dict[str, float] = field(default_factory=dict)
    # model -> (chosen λ, validation NDCG@10 per candidate λ), for the models that choose one
    l2_choices: dict[str, tuple[float, dict[float, float]]] = field(default_factory=dict)
    users: dict[str, dict[str, int]] = field(default_factory=dict)  # sample, population per set
    skipped: dict[str, str] = field(default_factory=dict)  # model -> why it was not fitted

    @property
    def test_sets(self) -> list[str]:
        return list(dict.fromkeys(self.result.summary[TEST_SET]))


def evaluation_data(
    split: pd.DataFrame,
    users: pd.DataFrame,
    tracks: pd.DataFrame,
    cold_user_given: int = 0,
    eval_users: int | None = DEFAULT_EVAL_USERS,
    seed: int = 0,
) -> EvaluationData:
    """The split's training data and test sets, each set a seeded sample of ``eval_users``
    users, the same for every model (None or 0: every user).

    With ``cold_user_given = N`` > 0 the cold_user_given set gives each cold user's first N
    plays at recommendation time. Nothing of ``split`` is kept beyond its training rows, so a
    caller that lets the frame go holds only what evaluation needs.
    """
    data = EvaluationData.from_split(
        split, users, tracks, cold_user_given=cold_user_given, seed=seed
    )
    return sample_users(data, eval_users, seed=seed)


def evaluate_models(
    split: pd.DataFrame,
    users: pd.DataFrame,
    tracks: pd.DataFrame,
    names: Sequence[str],
    preprocessor: MusicPreprocessor | None = None,
    ks: Sequence[int] = (5, 10, 20),
    n_boot: int = 1000,
    seed: int = 0,
    cold_user_given: int = 0,
    test_sets: Sequence[str] = TEST_SETS,
    fitted: Mapping[str, Recommender] | None = None,
    eval_users: int | None = DEFAULT_EVAL_USERS,
) -> Comparison:
    """:func:`compare_models` on the :func:`evaluation_data` of the split."""
    data = evaluation_data(split, users, tracks, cold_user_given, eval_users, seed)
    return compare_models(
        data,
        names,
        preprocessor,
        ks=ks,
        n_boot=n_boot,
        seed=seed,
        test_sets=test_sets,
        fitted=fitted,
    )


@dataclass
class Fits:
    """What fitting a comparison's models told: seconds per fit, the λ a model chose with its
    validation NDCG@10 per candidate, and the models left out with why."""

    seconds: dict[str, float] = field(default_factory=dict)
    l2_choices: dict[str, tuple[float, dict[float, float]]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def fit(self, name: str, model: Recommender, train: TrainingData) -> bool:
        """Fit ``model`` and note how it went; False when this catalogue is over its size limit
        (``CatalogueTooLarge``, such as dense EASE on hundreds of thousands of tracks)."""
        started = time.perf_counter()
        try:
            model.fit(train)
        except CatalogueTooLarge as error:
            self.skipped[name] = str(error)
            logger.warning("%s is left out of the comparison: %s", name, error)
            return False
        self.seconds[name] = round(time.perf_counter() - started, 2)
        logger.info("fitted %s in %.1f s", name, self.seconds[name])
        self.note_l2(name, model)
        return True

    def note_l2(self, name: str, model: Recommender) -> None:
        """Keep the λ of a model that chose one on validation plays."""
        if hasattr(model, "l2_validation"):
            self.l2_choices[name] = (model.l2, model.l2_validation)


def compare_models(
    data: EvaluationData,
    names: Sequence[str],
    preprocessor: MusicPreprocessor | None = None,
    ks: Sequence[int] = (5, 10, 20),
    n_boot: int = 1000,
    seed: int = 0,
    test_sets: Sequence[str] = TEST_SETS,
    fitted: Mapping[str, Recommender] | None = None,
    loaders: Mapping[str, Loader] | None = None,
) -> Comparison:
    """Fit each named model on ``data.train`` and evaluate it on the test sets, in one process.

    Models in ``fitted`` (already trained on that same training data) are evaluated as they
    are; a model in ``loaders`` (likewise trained, such as the saved hybrid) is loaded over
    ``data.train`` at its turn. A model over its size limit is left out with its reason in
    ``Comparison.skipped``. Each model is fitted or loaded, ranked and let go before the next,
    so memory holds one at a time besides those given fitted.
    """
    fitted = dict(fitted or {})
    loaders = dict(loaders or {})
    models = build_models([n for n in names if n not in fitted and n not in loaders], preprocessor)
    fits, parts = Fits(), []
    for name in names:
        if name in fitted or name in loaders:
            model = fitted[name] if name in fitted else loaders[name](data.train)
            fits.note_l2(name, model)
        elif not fits.fit(name, model := models.pop(name), data.train):
            continue
        parts.append(rank_model(model, data, max(ks), name=name, test_sets=test_sets, seed=seed))
        del model  # let go before the next model is loaded or fitted
    return summarise(parts, data, fits, ks=ks, n_boot=n_boot, seed=seed)


def fit_to_files(
    data: EvaluationData,
    names: Sequence[str],
    folder: Path,
    preprocessor: MusicPreprocessor | None = None,
) -> tuple[dict[str, Path], Fits]:
    """Each named model fitted on ``data.train`` and saved to ``folder/<name>.joblib``, one at
    a time, so that user shards rank with it (:func:`rank_shard`) without fitting it again.
    Returns the files of the models fitted, and how each fit went."""
    fits, files = Fits(), {}
    models = build_models(names, preprocessor)
    for name in names:
        model = models.pop(name)  # held here only, so it is let go before the next fit
        if fits.fit(name, model, data.train):
            files[name] = save_fitted(model, folder / f"{name}.joblib")
        del model
    return files, fits


def rank_shard(
    data: EvaluationData,
    loaders: Mapping[str, Loader],
    shard: Shard,
    k: int,
    seed: int = 0,
    test_sets: Sequence[str] = TEST_SETS,
) -> Rankings:
    """The top-``k`` lists of one user shard for each model in ``loaders`` (in their order),
    each loaded over ``data.train``, ranked and let go before the next."""
    parts = []
    for name, load in loaders.items():
        model = load(data.train)
        parts.append(rank_model(model, data, k, name, test_sets, shard, seed))
        del model
    logger.info("ranked shard %d of %d for %s", shard.index, shard.count, ", ".join(loaders))
    return Rankings.merge(parts)


def summarise(
    parts: Sequence[Rankings],
    data: EvaluationData,
    fits: Fits,
    ks: Sequence[int] = (5, 10, 20),
    n_boot: int = 1000,
    seed: int = 0,
) -> Comparison:
    """The comparison measured from every part's lists (each model's, or each user shard's):
    the same numbers whichever way the lists were split."""
    result = measure(Rankings.merge(parts), data, ks, n_boot=n_boot, seed=seed)
    sizes = {
        name: {"sample": len(test.user_ids), "population": test.population}
        for name, test in data.test_sets.items()
    }
    return Comparison(result, fits.seconds, fits.l2_choices, sizes, fits.skipped)


def figures(comparison: Comparison) -> dict[str, bytes]:
    """Every evaluation plot as PNG bytes, named '<plot>_<test set>'."""
    result = comparison.result
    out = {}
    for test_set in comparison.test_sets:
        out[f"precision_recall_{test_set}"] = plots.precision_recall_curve(
            result.pr_curve, test_set
        )
        for name, metrics in PLOT_METRICS.items():
            out[f"{name}_{test_set}"] = plots.metric_vs_k(result.summary, metrics, test_set)
        out[f"score_histograms_{test_set}"] = plots.score_histograms(result.score_samples, test_set)
    return out
