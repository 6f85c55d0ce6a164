"""Recommendations by user shard: one run worker over every shard against two in parallel.

A synthetic catalogue goes through the data path and a cheap evaluation (popularity only) into
a warehouse on disk (not timed). Then the partitioned ``recommendations`` asset is
materialised with the in-process executor, serving a pinned baseline that each run fits
itself: once as one run over every shard in one process, and once as two runs over half the
shards each, in two processes at the same time, as a run launcher that allows two concurrent
runs would place them. Each layout starts from fresh processes, so both pay the imports.
Prints Markdown with the date and the machine, for docs/benchmarks.md.

Both layouts run ``--rounds`` times, interleaved; the medians give the ratio, and the
machine's load average says how busy its neighbours kept it.

Usage: .venv/bin/python bench/shards.py [--plays 1000000] [--model popularity] [--rounds 3]
[--workdir DIR]
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

logger = logging.getLogger("bench.shards")


def _defs(data_dir: Path, plays: int):
    os.environ["MUSICREC_DATA_DIR"] = str(data_dir)
    os.environ["MUSICREC_SCALE_PLAYS"] = str(plays)
    from musicrec_dagster.definitions import defs

    return defs()


def prepare(data_dir: Path, plays: int, model: str) -> None:
    """The catalogue, features, split, preprocessor, a popularity-only evaluation and a serving
    policy that pins ``model``."""
    import dagster as dg

    from musicrec_dagster.runs import run_jobs

    defs = _defs(data_dir, plays)
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_jobs(defs, instance, ("refresh_catalogue",))
        assert outcome.success, "the catalogue run failed"
        job = defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection={
                dg.AssetKey(k)
                for k in (
                    "dataset_splits",
                    "fitted_preprocessor",
                    "model_evaluation",
                    "serving_policy",
                )
            }
        )
        config = {
            "ops": {
                "model_evaluation": {"config": {"models": ["popularity"]}},
                "serving_policy": {"config": {"model": model}},
            }
        }
        result = job.execute_in_process(instance=instance, run_config=config)
        assert result.success, "the evaluation run failed"


def recommend(data_dir: Path, plays: int, shards: tuple[str, str]) -> float:
    """One run of the recommendations asset over a range of shards; its wall time in seconds."""
    import dagster as dg

    from musicrec_dagster.runs import RANGE_END_TAG, RANGE_START_TAG

    started = time.perf_counter()
    defs = _defs(data_dir, plays)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey("recommendations")}
    )
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            tags={RANGE_START_TAG: shards[0], RANGE_END_TAG: shards[1]},
        )
    assert result.success
    return time.perf_counter() - started


def _fresh_processes(n: int) -> ProcessPoolExecutor:
    """Spawned, not forked: a forked child would share its parent's open DuckDB database
    without the file lock, as a launched run never does."""
    return ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))


def _layout(data_dir: Path, plays: int, ranges: list[tuple[str, str]]) -> float:
    """Wall time of the given shard ranges, one fresh process each, all at once."""
    started = time.perf_counter()
    with _fresh_processes(len(ranges)) as pool:
        runs = [pool.submit(recommend, data_dir, plays, r) for r in ranges]
        per_run = [f.result() for f in runs]
    logger.info("runs %s took %s s", ranges, [round(t, 1) for t in per_run])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--model", default="popularity")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from bench.common import machine, print_two_over_one
    from musicrec_dagster.shards import N_USER_SHARDS

    last = str(N_USER_SHARDS - 1)
    half = str(N_USER_SHARDS // 2 - 1)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_shards_"))
    data_dir = work / "data"
    try:
        started = time.perf_counter()
        with _fresh_processes(1) as pool:
            pool.submit(prepare, data_dir, args.plays, args.model).result()
        logger.info("prepared in %.0f s", time.perf_counter() - started)
        load_before = os.getloadavg()[0]
        ones, twos = [], []
        for _ in range(args.rounds):  # interleaved, so both layouts see the same neighbours
            ones.append(_layout(data_dir, args.plays, [("0", last)]))
            twos.append(
                _layout(data_dir, args.plays, [("0", half), (str(N_USER_SHARDS // 2), last)])
            )
        load_after = os.getloadavg()[0]
        import duckdb

        with duckdb.connect(str(data_dir / "warehouse" / "musicrec.duckdb"), True) as con:
            users, rows = con.execute(
                "SELECT count(DISTINCT user_id), count(*) FROM public.recommendations"
            ).fetchone()
            known = con.execute("SELECT count(*) FROM public.user_features").fetchone()[0]
        assert users == known, f"{users} users recommended for, of {known}"
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"### Record of {dt.date.today():%Y-%m-%d}, {machine()}\n")
    print(
        f"{args.plays:,} synthetic plays, {users:,} users in {N_USER_SHARDS} shards "
        f"({rows:,} rows), serving `{args.model}` (each run fits it).\n"
    )
    print(
        f"Load average (1 min) of the machine: {load_before:.1f} before, {load_after:.1f} after.\n"
    )
    print_two_over_one(
        "layout",
        (f"1 process, 1 run over shards 0-{last}", ones),
        (f"2 processes, 2 runs of {N_USER_SHARDS // 2} shards at once", twos),
    )


if __name__ == "__main__":
    main()
