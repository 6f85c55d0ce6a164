"""The ``musicrec`` command: materialise the asset graph, summarise it, query the serving tables."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd

from musicrec_core import schema as s
from musicrec_core.serving import read_only_query
from musicrec_core.serving_tables import EXAMPLE_QUERY
from musicrec_core.sources import SOURCE_KINDS

logger = logging.getLogger("musicrec")

ENV_OPTIONS = {
    "source": "MUSICREC_SOURCE",
    "path": "MUSICREC_SOURCE_PATH",
    "size": "MUSICREC_SYNTHETIC_SIZE",
    "scale_plays": "MUSICREC_SCALE_PLAYS",
    "seed": "MUSICREC_SEED",
    "dirty_rate": "MUSICREC_DIRTY_RATE",
}


def ensure_dagster_home(data_dir: Path) -> Path:
    """Use DAGSTER_HOME if set, else data/dagster_home, with telemetry off; returns the folder."""
    home = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def load_definitions() -> dg.Definitions:
    """The project's definitions, as the UI loads them (resources follow MUSICREC_* variables)."""
    from musicrec_dagster.definitions import defs

    return defs()


def materialize_all(
    instance: dg.DagsterInstance, top_k: int | None = None, verbose: bool = False
) -> dg.ExecuteInProcessResult:
    """Run every asset and check in one process; raise if any step fails."""
    job = load_definitions().resolve_implicit_global_asset_job_def()
    run_config: dict = {
        "loggers": {"console": {"config": {"log_level": "INFO" if verbose else "WARNING"}}}
    }
    if top_k is not None:
        run_config["ops"] = {
            name: {"config": {"top_k": top_k}}
            for name in ("recommendations", "cold_start_recommendations")
        }
    return job.execute_in_process(instance=instance, run_config=run_config)


def summary(data_dir: Path, result: dg.ExecuteInProcessResult, samples: int = 3) -> str:
    """Row counts, quarantine, the serving database and a few users' top-10, as text."""
    lines = ["", "musicrec: every asset materialised", ""]
    counts = []
    for table in ("users", "tracks", "plays"):
        raw = _row_count(result, "raw_catalogue", f"raw_{table}")
        valid = _row_count(result, "validated_catalogue", f"validated_{table}")
        counts.append({"table": table, "raw rows": raw, "validated rows": valid})
    lines.append(pd.DataFrame(counts).to_string(index=False))
    quarantine = result.output_for_node("validated_catalogue", "quarantine")
    rejected = quarantine[quarantine[s.QUARANTINE_ACTION] == s.ACTION_REJECTED]
    lines += [
        "",
        f"quarantine: {len(rejected)} rows rejected, "
        f"{len(quarantine) - len(rejected)} values imputed (table 'quarantine' in the warehouse)",
    ]
    serving = data_dir / "serving" / "musicrec.duckdb"
    lines += ["", f"serving database: {serving}", ""]
    users = read_only_query(
        serving,
        f"SELECT {s.USER_ID} FROM users WHERE n_tracks > 0 ORDER BY {s.USER_ID} LIMIT {samples}",
    )[s.USER_ID].tolist()
    for user in users:
        top = read_only_query(
            serving,
            f"SELECT {s.RANK}, {s.TRACK_NAME}, {s.ARTIST_NAME}, {s.GENRE} "
            "FROM recommendations_named "
            f"WHERE {s.USER_ID} = '{user}' AND {s.RANK} <= 10 ORDER BY {s.RANK}",
        )
        lines += [f"top-10 for user {user}:", top.to_string(index=False), ""]
    query = " ".join(EXAMPLE_QUERY.split())
    lines += [
        "query it read-only, from the shell or from Python:",
        f'  .venv/bin/musicrec query "{query}"',
        f"  duckdb.connect('{serving}', read_only=True).sql(\"{query}\").show()",
        "",
    ]
    return "\n".join(lines)


def _row_count(result: dg.ExecuteInProcessResult, node: str, asset: str) -> int:
    for mat in result.asset_materializations_for_node(node):
        if mat.asset_key.to_user_string() == asset:
            return int(mat.metadata["dagster/row_count"].value)
    raise KeyError(asset)


def _apply_source_options(args: argparse.Namespace) -> None:
    for option, variable in ENV_OPTIONS.items():
        value = getattr(args, option, None)
        if value is not None:
            os.environ[variable] = str(value)
    os.environ["MUSICREC_DATA_DIR"] = str(Path(args.data_dir).resolve())


def _run(args: argparse.Namespace) -> int:
    _apply_source_options(args)
    data_dir = Path(args.data_dir).resolve()
    ensure_dagster_home(data_dir)
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        result = materialize_all(instance, top_k=args.top_k, verbose=args.verbose)
    elapsed = time.perf_counter() - started
    if not result.success:
        logger.error("the run failed; see the Dagster UI (make ui) for the step that failed")
        return 1
    if args.command == "demo":
        sys.stdout.write(summary(data_dir, result))
    sys.stdout.write(f"materialised in {elapsed:.0f} s (run {result.run_id})\n")
    return 0


def _query(args: argparse.Namespace) -> int:
    path = Path(args.data_dir).resolve() / "serving" / "musicrec.duckdb"
    frame = read_only_query(path, args.sql)
    sys.stdout.write(frame.to_string(index=False) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="musicrec", description=__doc__)
    parser.add_argument("--data-dir", default=os.environ.get("MUSICREC_DATA_DIR", "data"))
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("demo", "materialise every asset and print a summary with sample recommendations"),
        ("materialize", "materialise every asset on the configured source"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--source", choices=SOURCE_KINDS)
        cmd.add_argument("--path", help="CSV file (seed_csv) or folder (files)")
        cmd.add_argument("--size", choices=("tiny", "demo"), help="synthetic catalogue size")
        cmd.add_argument("--scale-plays", type=int, help="synthetic catalogue with this many plays")
        cmd.add_argument("--seed", type=int)
        cmd.add_argument("--dirty-rate", type=float)
        cmd.add_argument("--top-k", type=int)
        cmd.add_argument("--verbose", action="store_true", help="show Dagster's step logs")
        cmd.set_defaults(handler=_run)
    query = sub.add_parser("query", help="run SQL against the serving database (read-only)")
    query.add_argument("sql")
    query.set_defaults(handler=_query)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
