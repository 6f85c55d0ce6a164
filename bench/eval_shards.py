"""model_evaluation's user-shard steps: one process for the whole run against the multiprocess
executor with two steps at a time.

A synthetic catalogue goes through the data path, the split and the preprocessor into a
warehouse on disk (not timed). Then the model_evaluation asset alone is materialised with the
baselines (the hybrid needs a training run, which this leaves out): with the in-process
executor (the fit step, every shard's ranking and the measuring one after another in one
process), and with the multiprocess executor at ``max_concurrent`` 2 (each step in a process of
its own, two shards ranked at once). Both start in a fresh process and pay their imports. Their
metrics must be equal. Prints Markdown with the date and the machine, for docs/benchmarks.md.

Usage: .venv/bin/python bench/eval_shards.py [--plays 1000000] [--rounds 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

logger = logging.getLogger("bench.eval_shards")

JOB = "model_evaluation_only"


def _use(data_dir: Path, plays: int, executor: str = "in_process") -> None:
    """Point the definitions (here and in every step's process) at the bench's data folder."""
    os.environ["MUSICREC_DATA_DIR"] = str(data_dir)
    os.environ["MUSICREC_SCALE_PLAYS"] = str(plays)
    os.environ["MUSICREC_EXECUTOR"] = executor


def _definitions():
    import dagster as dg

    from musicrec_dagster.definitions import defs

    only = dg.define_asset_job(JOB, selection=["model_evaluation"])
    return dg.Definitions.merge(defs(), dg.Definitions(jobs=[only]))


def evaluation_job():
    """The model_evaluation asset alone, as the environment describes it (every step's process
    builds it again)."""
    return _definitions().resolve_job_def(JOB)


def prepare(data_dir: Path, plays: int) -> None:
    """The catalogue, its features, the split and the preprocessor."""
    import dagster as dg

    from musicrec_dagster.runs import run_jobs

    _use(data_dir, plays)
    defs = _definitions()
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_jobs(defs, instance, ("refresh_catalogue",)).success
        job = defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection={dg.AssetKey("dataset_splits"), dg.AssetKey("fitted_preprocessor")}
        )
        assert job.execute_in_process(instance=instance).success


def evaluate(
    data_dir: Path, plays: int, executor: str, models: list[str]
) -> tuple[float, str, list[str]]:
    """One run of model_evaluation with ``executor``: its wall time in seconds, its stored
    metrics as CSV (to compare the layouts) and the models they measure."""
    import dagster as dg
    import duckdb

    from musicrec_dagster.defs.resources import WAREHOUSE_FILE

    started = time.perf_counter()
    _use(data_dir, plays, executor)
    run_config: dict = {"ops": {"model_evaluation": {"config": {"models": models}}}}
    if executor == "multiprocess":
        run_config["execution"] = {"config": {"max_concurrent": 2}}
    with (
        dg.instance_for_test() as instance,
        dg.execute_job(
            dg.reconstructable(evaluation_job), instance=instance, run_config=run_config
        ) as result,
    ):
        assert result.success, f"the {executor} evaluation failed"
    seconds = time.perf_counter() - started
    with duckdb.connect(str(data_dir / WAREHOUSE_FILE), read_only=True) as con:
        metrics = con.sql("SELECT * FROM public.model_evaluation ORDER BY ALL").df()
    measured = list(dict.fromkeys(metrics["model_name"]))
    return seconds, metrics.to_csv(index=False), measured


def _in_fresh_process(function, *args):
    """Spawned, not forked, so each layout pays its imports as a launched run does."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from bench.common import machine, print_two_over_one
    from musicrec_core.models import BASELINES
    from musicrec_dagster.shards import N_USER_SHARDS

    models = list(BASELINES)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_eval_shards_"))
    data_dir = work / "data"
    try:
        started = time.perf_counter()
        _in_fresh_process(prepare, data_dir, args.plays)
        logger.info("prepared in %.0f s", time.perf_counter() - started)
        load_before = os.getloadavg()[0]
        ones, twos = [], []
        for _ in range(args.rounds):  # interleaved, so both layouts see the same neighbours
            one, one_metrics, measured = _in_fresh_process(
                evaluate, data_dir, args.plays, "in_process", models
            )
            two, two_metrics, _ = _in_fresh_process(
                evaluate, data_dir, args.plays, "multiprocess", models
            )
            assert one_metrics == two_metrics, "the layouts measured different metrics"
            logger.info("in-process %.1f s, multiprocess %.1f s", one, two)
            ones.append(one)
            twos.append(two)
        load_after = os.getloadavg()[0]
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"### Record of {dt.date.today():%Y-%m-%d}, {machine()}\n")
    print(
        f"{args.plays:,} synthetic plays, model_evaluation of {', '.join(models)} (measured: "
        f"{', '.join(sorted(measured))}; the default sample of users per test set) in "
        f"{N_USER_SHARDS} user-shard steps; both layouts stored the same metrics.\n"
    )
    print(
        f"Load average (1 min) of the machine: {load_before:.1f} before, {load_after:.1f} after.\n"
    )
    print_two_over_one(
        "executor",
        ("in-process: every step in the run's process", ones),
        ("multiprocess, 2 steps at a time", twos),
    )


if __name__ == "__main__":
    main()
