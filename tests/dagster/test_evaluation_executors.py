"""model_evaluation under the multiprocess executor: every user shard ranked in a process of its
own, with the metrics of the in-process run."""

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from musicrec_dagster.defs.resources import WAREHOUSE_FILE
from musicrec_dagster.executors import EXECUTOR_ENV
from musicrec_dagster.shards import N_USER_SHARDS
from tests.dagster.conftest import FAST_RUN_CONFIG, load_defs, run_all

pytestmark = pytest.mark.integration

MODELS = ["popularity", "item_knn", "hybrid"]
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "run_config" / "multiprocess.yaml"


def evaluation_job() -> dg.JobDefinition:
    """The model_evaluation asset alone, from the definitions the environment describes (each
    step's process builds it again)."""
    from musicrec_dagster.definitions import defs

    only = dg.define_asset_job("model_evaluation_only", selection=["model_evaluation"])
    merged = dg.Definitions.merge(defs(), dg.Definitions(jobs=[only]))
    return merged.resolve_job_def(only.name)


def test_shards_ranked_in_their_own_processes_give_the_in_process_metrics(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    outcome = run_all(load_defs(data_dir, monkeypatch, MUSICREC_SYNTHETIC_SIZE="tiny"), MODELS)
    assert outcome.success
    in_process = _stored_evaluation(data_dir)

    monkeypatch.setenv(EXECUTOR_ENV, "multiprocess")
    run_config = {
        "ops": {
            "model_evaluation": {
                "config": {**FAST_RUN_CONFIG["ops"]["model_evaluation"]["config"], "models": MODELS}
            }
        },
        **yaml.safe_load(DEPLOY.read_text()),
    }
    job = dg.reconstructable(evaluation_job)
    with (
        dg.instance_for_test() as instance,
        dg.execute_job(job, instance=instance, run_config=run_config) as result,
    ):
        assert result.success
        processes = {
            event.pid
            for event in result.all_events
            if event.event_type == dg.DagsterEventType.STEP_START
            and "rank_user_shard" in (event.step_key or "")
        }
    assert len(processes) == N_USER_SHARDS  # each shard ranked in a process of its own
    pd.testing.assert_frame_equal(_stored_evaluation(data_dir), in_process)


def _stored_evaluation(data_dir: Path) -> pd.DataFrame:
    with duckdb.connect(str(data_dir / WAREHOUSE_FILE), read_only=True) as con:
        return con.sql("SELECT * FROM public.model_evaluation ORDER BY ALL").df()
