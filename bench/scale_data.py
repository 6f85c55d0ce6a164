"""The data path at scale: synthetic catalogues through ingest, validation, features and split.

For each size (plays), the catalogue is generated and written as CSV files first (not timed),
then a fresh process reads them into a warehouse on disk, one stage at a time: wall time, rows
per second and the stage's peak resident memory (the process's high-water mark, reset before
each stage). In the same run the pandas path the warehouse replaced (bench/pandas_path.py)
does the same at 1 M plays, for the ratio; and the cost of taking in a 10 k-row plays delivery
(ingest, validation, features) is measured on each size's warehouse, for the ratio of the
largest to 1 M. Prints Markdown with the date and the machine, for docs/benchmarks.md.

Usage: .venv/bin/python bench/scale_data.py [--sizes 100000,1000000,10000000]
[--baseline-size 1000000] [--deliveries 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
from memory import peak_mb, reset_peak, run_stage

logger = logging.getLogger("bench.scale_data")
DELIVERY_ROWS = 10_000
PLAYS_PER_LISTENER = 12  # what deliveries.plays_delivery gives each listener


def _stage(name: str, rows: Callable[[], int], work: Callable[[], object]) -> dict:
    reset_peak()
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    count = rows()
    return {
        "stage": name,
        "seconds": seconds,
        "rows": count,
        "rows_per_s": count / seconds if seconds else float("nan"),
        "peak_mb": peak_mb(),
    }


# --- child processes -------------------------------------------------------------------------
def write_files(plays: int, folder: Path) -> None:
    """Generate the synthetic catalogue of about ``plays`` plays and write it as CSV files."""
    from musicrec_core.data import schema as s
    from musicrec_core.data.sources import SourceConfig, frame_batches, load_source

    raw = load_source(SourceConfig(scale_plays=plays))
    folder.mkdir(parents=True, exist_ok=True)
    for table in s.TABLES:
        frame = getattr(raw, table)
        with pa_csv.CSVWriter(folder / f"{table}.csv", _csv_schema(table)) as writer:
            for batch in frame_batches(frame, table):
                writer.write_batch(batch.select(s.TABLE_COLUMNS[table]))
        del frame


def _csv_schema(table: str) -> pa.Schema:
    from musicrec_core.data import schema as s

    return pa.schema([(c, pa.string()) for c in s.TABLE_COLUMNS[table]])


def warehouse_stages(folder: Path, database: Path, deliveries: int) -> dict:
    """Each stage of the warehouse path over the files, on its own connection as each asset
    opens its own, then the delivery cost."""
    from musicrec_core.data import (
        build_features,
        build_split_table,
        refresh_raw,
        validate_pending,
        warehouse,
    )
    from musicrec_core.data import schema as s
    from musicrec_core.data.sources import SourceConfig

    source = SourceConfig(kind="files", path=str(folder))
    shutil.rmtree(database.parent, ignore_errors=True)  # every run starts from an empty warehouse
    archive = database.parent / "archive"

    def stage(name: str, counted: Callable, work: Callable) -> dict:
        with warehouse.connect(database) as con:
            return _stage(name, lambda: counted(con), lambda: work(con))

    def count(*tables: str) -> Callable:
        return lambda con: sum(warehouse.row_count(con, t) for t in tables)

    raw = count(*s.RAW_TABLES.values())
    stages = [stage("ingest", raw, lambda con: refresh_raw(con, source, archive))]
    generation = _generation(database)
    stages.append(stage("validation", raw, lambda con: validate_pending(con, generation)))
    stages.append(
        stage(
            "features",
            count(s.VALIDATED_TABLES["plays"]),
            lambda con: build_features(con, generation),
        )
    )
    stages.append(stage("split", count(s.INTERACTIONS_TABLE), build_split_table))
    with warehouse.connect(database) as con:
        history = warehouse.row_count(con, s.VALIDATED_TABLES["plays"])
        delivery = _delivery_costs(con, database.parent, archive, deliveries)
    return {"stages": stages, "history_plays": history, "delivery": delivery}


def _generation(database: Path) -> int:
    from musicrec_core.data import raw_generation, warehouse

    with warehouse.connect(database) as con:
        return raw_generation(con)


def _delivery_costs(con, workdir: Path, archive: Path, count: int) -> list[dict]:
    """Seconds to take in each of ``count`` plays deliveries of about 10 k rows."""
    from musicrec_core.data import (
        build_features,
        ingest_landing,
        plays_delivery,
        raw_generation,
        validate_pending,
        warehouse,
    )
    from musicrec_core.data import schema as s

    users = warehouse.frame(con, f"SELECT {s.USER_ID} FROM {s.USER_FEATURES_TABLE}")[s.USER_ID]
    tracks = warehouse.frame(con, f"SELECT {s.TRACK_ID}, {s.GENRE} FROM {s.TRACK_FEATURES_TABLE}")
    landing = workdir / "landing"
    costs = []
    for i in range(count):
        listeners = DELIVERY_ROWS // PLAYS_PER_LISTENER
        delivery = plays_delivery(users, tracks, new_users=0, existing_listeners=listeners, seed=i)
        delivery.write(landing)
        rows = len(delivery.frames["plays"])
        generation = raw_generation(con)
        started = time.perf_counter()
        ingest_landing(con, landing, archive)
        taken_in = time.perf_counter()
        validate_pending(con, generation)
        validated = time.perf_counter()
        build_features(con, generation)
        done = time.perf_counter()
        costs.append(
            {
                "rows": rows,
                "ingest": taken_in - started,
                "validation": validated - taken_in,
                "features": done - validated,
                "total": done - started,
            }
        )
    return costs


def pandas_stages(folder: Path) -> dict:
    """The same stages on the pandas path the warehouse replaced."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import pandas_path as old

    from musicrec_core.data import SplitConfig
    from musicrec_core.data import schema as s

    state: dict = {}

    def ingest() -> None:
        state["raw"] = s.RawTables(
            **{t: old.read_table_file(folder / f"{t}.csv", t) for t in s.TABLES}
        )

    def validate() -> None:
        state["valid"] = old.validate_catalogue(state["raw"])

    def features() -> None:
        interactions = old.build_interactions(state["valid"].plays)
        old.user_features(state["valid"].users, interactions)
        old.track_features(state["valid"].tracks, interactions)
        state["interactions"] = interactions

    raw_rows = lambda: sum(len(getattr(state["raw"], t)) for t in s.TABLES)  # noqa: E731
    stages = [
        _stage("ingest", raw_rows, ingest),
        _stage("validation", raw_rows, validate),
        _stage("features", lambda: len(state["valid"].plays), features),
        _stage(
            "split",
            lambda: len(state["interactions"]),
            lambda: old.split_interactions(state["interactions"], SplitConfig()),
        ),
    ]
    return {"stages": stages}


def _child(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    folder, out = Path(args.folder), Path(args.out)
    if args.child == "files":
        write_files(args.plays, folder)
        result: dict = {}
    elif args.child == "warehouse":
        result = warehouse_stages(folder, Path(args.database), args.deliveries)
    else:
        result = pandas_stages(folder)
    out.write_text(json.dumps(result))


# --- the parent: runs the children and reports -----------------------------------------------
def _run_child(kind: str, plays: int, folder: Path, workdir: Path, deliveries: int) -> dict:
    out = workdir / f"{kind}-{plays}.json"
    database = workdir / f"warehouse-{plays}" / "musicrec.duckdb"
    return run_stage(
        __file__, kind, plays, out, folder=folder, database=database, deliveries=deliveries
    )


def _format(sizes: list[int], results: dict, baseline: dict, baseline_size: int) -> list[str]:
    lines = [
        f"| plays | stage | rows | seconds | rows per second | peak RSS (MB) | "
        f"pandas path at {baseline_size:,}: seconds (ratio) |",
        "|---|---|---|---|---|---|---|",
    ]
    old = {row["stage"]: row for row in baseline["stages"]}
    for plays in sizes:
        for row in results[plays]["stages"]:
            compared = ""
            if plays == baseline_size:
                before = old[row["stage"]]
                compared = (
                    f"{before['seconds']:.1f} s, {before['peak_mb']:,.0f} MB "
                    f"({before['seconds'] / row['seconds']:.1f}x)"
                )
            lines.append(
                f"| {plays:,} | {row['stage']} | {row['rows']:,} | {row['seconds']:.2f} | "
                f"{row['rows_per_s']:,.0f} | {row['peak_mb']:,.0f} | {compared} |"
            )
    return lines


def _delivery_lines(sizes: list[int], results: dict, baseline_size: int) -> list[str]:
    lines = [
        "",
        f"Taking in a plays delivery of about {DELIVERY_ROWS:,} rows (median of each size's "
        "deliveries; ingest = archive, register and append; then validation and features):",
        "",
        "| history (validated plays) | deliveries | ingest s | validation s | features s | "
        "total s | ratio to 1 M |",
        "|---|---|---|---|---|---|---|",
    ]
    medians = {}
    for plays in sizes:
        costs = results[plays]["delivery"]
        med = {k: statistics.median(c[k] for c in costs) for k in costs[0] if k != "rows"}
        medians[plays] = med
    for plays in sizes:
        med = medians[plays]
        ratio = med["total"] / medians[baseline_size]["total"] if baseline_size in medians else 0
        lines.append(
            f"| {results[plays]['history_plays']:,} | {len(results[plays]['delivery'])} | "
            f"{med['ingest']:.2f} | {med['validation']:.2f} | {med['features']:.2f} | "
            f"{med['total']:.2f} | {ratio:.2f}x |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--baseline-size", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=3)
    parser.add_argument("--workdir", help="keep files and warehouses here (default: temporary)")
    parser.add_argument("--child", choices=("files", "warehouse", "pandas"), help=argparse.SUPPRESS)
    parser.add_argument("--plays", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from common import machine

    sizes = [int(x) for x in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results, baseline = {}, {"stages": []}
        for plays in sizes:
            folder = workdir / f"files-{plays}"
            if not (folder / "plays.csv").exists():
                _run_child("files", plays, folder, workdir, args.deliveries)
            results[plays] = _run_child("warehouse", plays, folder, workdir, args.deliveries)
            if plays == args.baseline_size:
                baseline = _run_child("pandas", plays, folder, workdir, args.deliveries)
    print(f"### Record of {dt.date.today()}, {machine()}")
    print()
    print("\n".join(_format(sizes, results, baseline, args.baseline_size)))
    print("\n".join(_delivery_lines(sizes, results, args.baseline_size)))


if __name__ == "__main__":
    main()
