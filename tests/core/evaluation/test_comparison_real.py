"""The protocol on real Echo Nest plays: popularity must score far below EASE on warm users."""

import pytest

from musicrec_core.data import prepare
from musicrec_core.data.sources import SourceConfig, prepare_echonest
from musicrec_core.evaluation import evaluate_models
from tests.conftest import SHARED_DATA, requires_shared_data

pytestmark = [requires_shared_data, pytest.mark.shared_data]


def test_popularity_scores_far_below_ease_on_real_warm_users(tmp_path):
    folder = prepare_echonest(SHARED_DATA / "echonest-taste-profile-subset", tmp_path / "echonest")
    data = prepare(SourceConfig(kind="files", path=str(folder)))
    comparison = evaluate_models(
        data.split, data.users, data.tracks, ["popularity", "ease"], n_boot=200
    )
    summary = comparison.result.summary
    ndcg = summary[
        (summary["metric"] == "ndcg") & (summary["k"] == 10) & (summary["test_set"] == "warm")
    ]
    by_model = ndcg.set_index("model_name")
    assert by_model.loc["popularity", "ci_high"] < by_model.loc["ease", "ci_low"]
    assert by_model.loc["ease", "mean"] > 1.5 * by_model.loc["popularity", "mean"]
