"""Evaluation ranked a user shard at a time, with models fitted once into files, gives the
metrics of one ranking of every user in one process."""

from functools import partial

import numpy as np
import pandas as pd
import pytest

from musicrec_core import evaluation as ev
from musicrec_core.data import prepare
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.models import EASE, load_fitted, registry

KS = (5, 10)
MODELS = ["popularity", "segment_popularity", "item_knn", "low_rank_ease"]


@pytest.fixture(scope="module")
def data() -> ev.EvaluationData:
    prepared = prepare(SourceConfig(kind="synthetic", size="tiny"))
    return ev.evaluation_data(
        prepared.split, prepared.users, prepared.tracks, cold_user_given=2, eval_users=None
    )


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory) -> tuple[dict[str, ev.Loader], ev.Fits]:
    files, fits = ev.fit_to_files(data, MODELS, tmp_path_factory.mktemp("fitted"))
    return {name: partial(load_fitted, path) for name, path in files.items()}, fits


@pytest.mark.parametrize("n_shards", [1, 2, 3])
def test_metrics_from_shards_equal_those_of_one_process(data, fitted, n_shards):
    loaders, fits = fitted
    whole = ev.compare_models(data, MODELS, ks=KS, n_boot=50)
    parts = [ev.rank_shard(data, loaders, ev.Shard(i, n_shards), max(KS)) for i in range(n_shards)]
    sharded = ev.summarise(parts, data, fits, ks=KS, n_boot=50)
    assert set(whole.result.summary[ev.TEST_SET]) == set(ev.TEST_SETS)  # every set is measured
    for part in ("summary", "per_user", "pr_curve"):
        pd.testing.assert_frame_equal(getattr(sharded.result, part), getattr(whole.result, part))
    assert sharded.users == whole.users and sharded.skipped == whole.skipped
    assert set(sharded.fit_seconds) == set(MODELS) and set(sharded.l2_choices) == {"low_rank_ease"}
    assert sharded.l2_choices == whole.l2_choices
    samples, whole_samples = sharded.result.score_samples, whole.result.score_samples
    pairs = [s.MODEL_NAME, ev.TEST_SET]
    assert set(map(tuple, samples[pairs].to_numpy())) == set(
        map(tuple, whole_samples[pairs].to_numpy())
    )
    assert len(samples) == pytest.approx(len(whole_samples), rel=0.05)


def test_the_shards_split_every_test_set_between_them(data):
    for test in data.test_sets.values():
        rows = np.concatenate([ev.Shard(i, 3).rows(test) for i in range(3)])
        assert len(test.user_ids) and sorted(rows) == list(range(len(test.user_ids)))


def test_a_missing_shard_is_an_error_not_a_smaller_sample(data, fitted):
    loaders, fits = fitted
    parts = [ev.rank_shard(data, loaders, ev.Shard(i, 3), max(KS)) for i in (0, 1)]
    with pytest.raises(ValueError, match="is a user shard missing"):
        ev.summarise(parts, data, fits, ks=KS, n_boot=10)


def test_a_shard_ranked_twice_is_an_error(data, fitted):
    loaders, fits = fitted
    parts = [ev.rank_shard(data, loaders, ev.Shard(i, 2), max(KS)) for i in (0, 1, 1)]
    with pytest.raises(ValueError, match="ranked twice"):
        ev.summarise(parts, data, fits, ks=KS, n_boot=10)


def test_lists_shorter_than_the_largest_k_are_refused(data, fitted):
    loaders, fits = fitted
    parts = [ev.rank_shard(data, loaders, ev.WHOLE, 5)]
    with pytest.raises(ValueError, match="ranked to 5 places, fewer than the 10"):
        ev.summarise(parts, data, fits, ks=KS, n_boot=10)


def test_a_model_over_its_size_limit_is_left_out_of_the_files(data, tmp_path, monkeypatch):
    monkeypatch.setitem(registry._FACTORIES, "ease", lambda _: EASE(max_items=10))
    files, fits = ev.fit_to_files(data, ["ease", "popularity"], tmp_path)
    assert set(files) == {"popularity"} and files["popularity"].exists()
    assert "ease" in fits.skipped and "10" in fits.skipped["ease"]
    assert not (tmp_path / "ease.joblib").exists()


def test_a_saved_model_ranks_as_the_fitted_one(data, tmp_path):
    files, _ = ev.fit_to_files(data, ["item_knn"], tmp_path)
    loaded = load_fitted(files["item_knn"], data.train)
    assert loaded.data is data.train  # the training data is handed back, not a second copy
    fresh = ev.compare_models(data, ["item_knn"], ks=KS, n_boot=10).result.summary
    again = ev.compare_models(data, ["item_knn"], ks=KS, n_boot=10, fitted={"item_knn": loaded})
    pd.testing.assert_frame_equal(again.result.summary, fresh)
