"""A model whose size limit the catalogue exceeds is left out of the comparison, with why."""

import pytest

from musicrec_core import evaluation as ev
from musicrec_core.data import schema as s
from musicrec_core.evaluation import comparison
from musicrec_core.models import EASE, CatalogueTooLarge, build_models
from musicrec_core.models.ease import ease_weights
from musicrec_core.models.play_rows import weighted_matrix
from tests.core.evaluation.test_user_sample import _catalogues, _split


def test_ease_over_its_cap_is_left_out_with_the_reason_and_the_rest_are_measured(monkeypatch):
    def small_ease(names, preprocessor=None):
        models = build_models([n for n in names if n != "ease"], preprocessor)
        return {**models, "ease": EASE(l2=100.0, max_items=3)} if "ease" in names else models

    monkeypatch.setattr(comparison, "build_models", small_ease)
    split = _split()
    result = ev.evaluate_models(split, *_catalogues(split), ["popularity", "ease"], n_boot=50)
    assert set(result.skipped) == {"ease"}
    assert "max_items=3" in result.skipped["ease"]
    assert set(result.result.summary[s.MODEL_NAME]) == {"popularity"}
    assert "ease" not in result.l2_choices


def test_the_cap_is_refused_before_any_dense_matrix_is_built():
    split = _split()
    data = ev.EvaluationData.from_split(split, *_catalogues(split)).train
    with pytest.raises(CatalogueTooLarge, match="max_items=3"):
        ease_weights(weighted_matrix(data.matrix, "binary"), 100.0, max_items=3)
