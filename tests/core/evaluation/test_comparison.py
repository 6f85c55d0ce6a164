"""evaluate_models fits, evaluates and lets go of one model at a time, with the same numbers as
evaluating them all after fitting them all."""

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


def test_each_model_is_let_go_before_the_next_is_fitted(monkeypatch):
    alive: weakref.WeakSet = weakref.WeakSet()
    others_at_fit = []

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
    split = _split()
    ev.evaluate_models(split, *_catalogues(split), NAMES, n_boot=20)
    assert others_at_fit == [0, 0, 0]


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
