"""Reading the whole split into pandas, as the evaluation reads it: DuckDB's frame (a Python
string per row and text column) against ``compact_frame`` (a string per distinct text).

Each size's warehouse is the one ``bench/scale_model.py`` builds (made here if missing). Each
reader runs in a process of its own and reports its seconds, how far its resident memory rose
above where it was before the read (at the peak while reading, and with the frame held once
the connection is closed), and a hash of the frame, which must be the same for both. Prints
Markdown with the date and the machine, for docs/benchmarks.md.

Usage: .venv/bin/python bench/warehouse_reads.py [--sizes 1000000,10000000] [--workdir DIR]
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from memory import peak_mb, reset_peak, resident_mb, run_stage, sized_parser

logger = logging.getLogger("bench.warehouse_reads")
READERS = ("frame", "compact_frame")


def read(reader: str, folder: Path) -> dict:
    """The split's every part, with the columns evaluation reads, through ``reader``."""
    import pandas as pd

    from musicrec_core.data import SPLITS, warehouse
    from musicrec_core.data import schema as s
    from musicrec_core.evaluation import SPLIT_COLUMNS

    columns = ", ".join(SPLIT_COLUMNS)
    sql = f"SELECT {columns} FROM {s.SPLITS_TABLE} ORDER BY rowid"
    read_with = getattr(warehouse, reader)
    with warehouse.connect(folder / "musicrec.duckdb") as con:
        assert warehouse.row_count(con, s.SPLITS_TABLE), "the split table is empty"
        before = resident_mb()
        reset_peak()
        started = time.perf_counter()
        frame = read_with(con, sql)
        seconds = time.perf_counter() - started
    assert set(frame[s.SPLIT]) <= set(SPLITS)
    return {
        "rows": len(frame),
        "seconds": seconds,
        "peak_mb": peak_mb() - before,
        "held_mb": resident_mb() - before,
        "hash": int(pd.util.hash_pandas_object(frame, index=False).sum()),
    }


def _child(args) -> None:
    Path(args.out).write_text(json.dumps(read(args.child, Path(args.folder))))


def main() -> None:
    parser = sized_parser(__doc__.split("\n")[0], "1000000,10000000")
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from common import start_record
    from scale_model import split_warehouse

    rows = []
    for plays in [int(size) for size in args.sizes.split(",")]:
        folder = split_warehouse(args.workdir, plays)
        results = {
            reader: run_stage(__file__, reader, plays, folder / f"{reader}.json", folder=folder)
            for reader in READERS
        }
        base, compact = (results[reader] for reader in READERS)
        assert base["hash"] == compact["hash"], f"the readers' frames differ at {plays:,} plays"
        rows.append((plays, base, compact))
    start_record(
        "plays | reader | seconds | RSS added at the peak while reading (MB) "
        "| RSS added with the frame held (MB) | ratio to frame (peak, held)"
    )
    for plays, base, compact in rows:
        for reader, result in zip(READERS, (base, compact), strict=True):
            ratio = (
                f"{result['peak_mb'] / base['peak_mb']:.2f}x, "
                f"{result['held_mb'] / base['held_mb']:.2f}x"
            )
            print(
                f"| {plays:,} | `{reader}` | {result['seconds']:.2f} | {result['peak_mb']:,.0f} "
                f"| {result['held_mb']:,.0f} | {ratio} |"
            )


if __name__ == "__main__":
    main()
