"""Fixtures that point the real definitions at a temporary data folder and a chosen source."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from musicrec_dagster.runs import PipelineResult, run_jobs

SOURCE_VARIABLES = (
    "MUSICREC_SOURCE",
    "MUSICREC_SOURCE_PATH",
    "MUSICREC_SYNTHETIC_SIZE",
    "MUSICREC_SCALE_PLAYS",
    "MUSICREC_SEED",
    "MUSICREC_DIRTY_RATE",
)


def load_defs(data_dir: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> dg.Definitions:
    """The project's definitions with resources rooted at data_dir and the given source settings."""
    from musicrec_dagster.definitions import defs

    for name in SOURCE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MUSICREC_DATA_DIR", str(data_dir))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return defs()


# Integration tests check the wiring, not model quality: a short training, and EASE's λ given
# rather than searched (one factorisation instead of one per candidate), keep them fast.
FAST_RUN_CONFIG = {
    "ops": {
        "hybrid_model": {"config": {"epochs": 1, "batch_size": 1024, "item_item_l2": 500.0}},
        "model_evaluation": {"config": {"n_boot": 100}},
    }
}


def run_all(
    defs: dg.Definitions, models: list[str] | None = None, ops: dict[str, dict] | None = None
) -> PipelineResult:
    """Run the whole pipeline (catalogue, retraining with its gate, serving) in process on an
    ephemeral instance; fails the test on any failure but a refused promotion.

    ``models`` narrows the evaluation to those models (the default evaluates all of them);
    ``ops`` adds configuration per op.
    """
    run_config = copy.deepcopy(FAST_RUN_CONFIG)
    if models is not None:
        run_config["ops"]["model_evaluation"]["config"]["models"] = models
    for op, config in (ops or {}).items():
        run_config["ops"].setdefault(op, {"config": {}})["config"].update(config)
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_jobs(defs, instance, run_config=run_config)
    assert outcome.success, f"the {outcome.failed_job} run failed"
    return outcome


@pytest.fixture
def materialize_with(tmp_path, monkeypatch) -> Callable[..., tuple[PipelineResult, Path]]:
    def _run(models: list[str] | None = None, **env: str) -> tuple[PipelineResult, Path]:
        data_dir = tmp_path / "data"
        return run_all(load_defs(data_dir, monkeypatch, **env), models), data_dir

    return _run
