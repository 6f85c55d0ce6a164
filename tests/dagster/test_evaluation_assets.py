"""model_evaluation in the real graph: comparison, plots in metadata and on disk, SQL table."""

import dagster as dg
import pytest

from musicrec_core.models import BASELINES
from musicrec_core.serving import read_only_query
from musicrec_dagster.shards import N_USER_SHARDS
from tests.dagster.conftest import load_defs

pytestmark = pytest.mark.integration


def test_every_job_resolves(tmp_path, monkeypatch):
    defs = load_defs(tmp_path / "data", monkeypatch)
    for job in defs.jobs or []:
        assert defs.resolve_job_def(job.name).name == job.name


def test_model_evaluation_compares_every_baseline_with_plots(materialize_with):
    result, data_dir = materialize_with(MUSICREC_SYNTHETIC_SIZE="tiny")
    mat = result.asset_materializations_for_node("model_evaluation")[0]
    metadata = mat.metadata
    for k in (5, 10, 20):
        table = metadata[f"comparison@{k}"].value
        assert all(model in table for model in (*BASELINES, "hybrid"))
    for plot in (
        "precision_recall_warm",
        "ndcg_vs_k_warm",
        "diversity_vs_k_warm",
        "score_histograms_warm",
    ):
        assert metadata[plot].value.startswith(f"![{plot}](data:image/png;base64,")
        assert (data_dir / "reports" / f"{plot}.png").read_bytes().startswith(b"\x89PNG")
    users = metadata["users"].value
    assert set(users) == {"warm", "cold_user", "cold_user_given", "cold_track"}
    # the tiny catalogue has fewer test users than the default sample, so each set is whole
    assert all(0 < sizes["sample"] == sizes["population"] for sizes in users.values())
    metrics = read_only_query(
        data_dir / "serving" / "musicrec.duckdb",
        "SELECT DISTINCT model_name, test_set, sample_users, population_users FROM model_metrics",
    )
    assert set(metrics["model_name"]) == {*BASELINES, "hybrid"}
    assert {"warm", "cold_user", "cold_track"} <= set(metrics["test_set"])
    for row in metrics.itertuples():
        assert row.sample_users == users[row.test_set]["sample"]
        assert row.population_users == users[row.test_set]["population"]


def test_each_user_shard_is_ranked_in_a_step_of_its_own(materialize_with):
    result, data_dir = materialize_with(
        ["popularity", "item_knn", "hybrid"], MUSICREC_SYNTHETIC_SIZE="tiny"
    )
    steps = {
        event.step_key
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_SUCCESS
    }
    ranked = {f"model_evaluation.rank_user_shard_{i}" for i in range(N_USER_SHARDS)}
    assert ranked | {"model_evaluation.fit_compared_models"} <= steps
    metadata = result.asset_materializations_for_node("model_evaluation")[0].metadata
    assert metadata["user_shards"].value == N_USER_SHARDS
    assert set(metadata["fit_seconds"].value) == {"popularity", "item_knn"}
    # the fitted baselines, test sets and lists the steps handed on are deleted once measured
    assert not list((data_dir / "steps").glob("*"))
