"""evaluate_models fits, evaluates and lets go of one model at a time, with the same numbers as
evaluating them all after fitting them all; a model given as a loader is loaded at its turn;
fit_to_files also holds one fitted model at a time."""

import weakref

from musicrec_core import evaluation as ev
from musicrec_core.evaluation import comparison
from musicrec_core.models import EASE, ItemKNN, Popularity
from tests.core.evaluation.test_user_sample import _catalogues, _split

NAMES = ["popularity", "item_knn", "ease"]


def _models(wrap=lambda cls: cls) -> dict:
    return {
        "popularity": wrap(Popularity)(),
        "item_knn": wrap(ItemKNN)(k_neighbours=5),
        "ease": wrap(EASE)(),
    }


def _tracking_fits(monkeypatch) -> list[int]:
    """build_models gives models that note, at each fit, how many fitted models are alive."""
    alive: weakref.WeakSet = weakref.WeakSet()
    others_at_fit: list[int] = []

    def tracked(cls):
        class Tracked(cls):
            def fit(self, data):
                others_at_fit.append(len(alive))
                alive.add(self)
                return super().fit(data)

        return Tracked

    monkeypatch.setattr(
        comparison, "build_models", lambda names, preprocessor=None: _models(tracked)
    )
    return others_at_fit


def test_each_model_is_let_go_before_the_next_is_fitted(monkeypatch):
    others_at_fit = _tracking_fits(monkeypatch)
    split = _split()
    ev.evaluate_models(split, *_catalogues(split), NAMES, n_boot=20)
    assert others_at_fit == [0, 0, 0]


def test_models_fitted_into_files_are_let_go_one_by_one(monkeypatch, tmp_path):
    others_at_fit = _tracking_fits(monkeypatch)
    saved = []  # the tracked classes are local, so nothing is pickled here: see test_rankings
    monkeypatch.setattr(comparison, "save_fitted", lambda model, path: saved.append(path) or path)
    split = _split()
    data = ev.evaluation_data(split, *_catalogues(split), eval_users=None)
    files, fits = ev.fit_to_files(data, NAMES, tmp_path)
    assert others_at_fit == [0, 0, 0]
    assert list(files) == NAMES and saved == [tmp_path / f"{name}.joblib" for name in NAMES]
    assert set(fits.seconds) == set(NAMES) and set(fits.l2_choices) == {"ease"}


def test_the_numbers_are_those_of_every_model_fitted_first(monkeypatch):
    monkeypatch.setattr(comparison, "build_models", lambda names, preprocessor=None: _models())
    split = _split()
    users, tracks = _catalogues(split)
    result = ev.evaluate_models(split, users, tracks, NAMES, n_boot=20, eval_users=None)

    data = ev.sample_users(ev.EvaluationData.from_split(split, users, tracks), None)
    models = {name: model.fit(data.train) for name, model in _models().items()}
    expected = ev.compare(models, data, n_boot=20)
    assert result.result.summary.equals(expected.summary)
    assert set(result.fit_seconds) == set(NAMES)
    l2, validation = result.l2_choices["ease"]
    assert l2 == models["ease"].l2 and validation == models["ease"].l2_validation
    assert set(result.l2_choices) == {"ease"}


def test_a_loaded_model_is_loaded_at_its_turn_over_the_evaluation_training_data(monkeypatch):
    alive: weakref.WeakSet = weakref.WeakSet()
    loaded_with = []

    def load(train):
        loaded_with.append((train, len(alive)))
        return Popularity().fit(train)

    def fitted_and_tracked(names, preprocessor=None):
        models = {name: model for name, model in _models().items() if name in names}
        alive.update(models.values())
        return models

    monkeypatch.setattr(comparison, "build_models", fitted_and_tracked)
    split = _split()
    users, tracks = _catalogues(split)
    data = ev.evaluation_data(split, users, tracks, eval_users=None)
    result = ev.compare_models(
        data, ["item_knn", "loaded", "ease"], loaders={"loaded": load}, n_boot=20
    )

    # item_knn was let go before the load; ease, built up front, is not fitted yet
    assert [(train is data.train, others) for train, others in loaded_with] == [(True, 1)]
    assert set(result.fit_seconds) == {"item_knn", "ease"}
    expected = ev.evaluate(Popularity().fit(data.train), data, name="loaded", n_boot=20)
    loaded = result.result.summary[result.result.summary["model_name"] == "loaded"]
    assert loaded.reset_index(drop=True).equals(expected.summary.reset_index(drop=True))
