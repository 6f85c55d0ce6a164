"""The deployment files in deploy/ hold Dagster's schemas: the instance file for the run
launcher and Postgres storage it names, and each run config for the
executor MUSICREC_EXECUTOR picks for it."""

import importlib
import shutil

import dagster as dg
import pytest
import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster_postgres import DagsterPostgresStorage

from musicrec_dagster.executors import EXECUTOR_ENV, executor_named
from tests.conftest import PROJECT_ROOT
from tests.dagster.conftest import load_defs

DEPLOY = PROJECT_ROOT / "deploy"


def test_instance_file_validates_against_its_classes(tmp_path):
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["concurrency"]["runs"]["max_concurrent_runs"] > 1
    launcher = config["run_launcher"]
    cls = getattr(importlib.import_module(launcher["module"]), launcher["class"])
    result = validate_config(cls.config_type(), launcher["config"])
    assert result.success, result.errors
    storage = DagsterPostgresStorage.config_type()
    assert validate_config(storage, config["storage"]["postgres"]).success
    assert not validate_config(storage, {"postgres_db": {"hostname": 5432}}).success


@pytest.mark.parametrize("executor", ["multiprocess", "k8s", "celery"])
def test_run_configs_validate_for_their_executor(tmp_path, monkeypatch, executor):
    run_config = yaml.safe_load((DEPLOY / "run_config" / f"{executor}.yaml").read_text())
    monkeypatch.setenv("MUSICREC_CELERY_BROKER", "pyamqp://guest@broker//")
    monkeypatch.setenv("MUSICREC_CELERY_BACKEND", "rpc://")
    defs = load_defs(tmp_path / "data", monkeypatch, **{EXECUTOR_ENV: executor})
    for job in ("serve", "retrain", "refresh_catalogue"):
        dg.validate_run_config(defs.resolve_job_def(job), run_config)
    monkeypatch.delenv(EXECUTOR_ENV)
    local = load_defs(tmp_path / "data", monkeypatch)
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(local.resolve_job_def("serve"), run_config)


def test_unknown_executor_is_refused():
    assert executor_named("in_process") is dg.in_process_executor
    with pytest.raises(ValueError, match="MUSICREC_EXECUTOR"):
        executor_named("threads")
