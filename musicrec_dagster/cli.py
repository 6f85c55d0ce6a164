"""The ``musicrec`` command: materialise the asset graph, summarise it, query the serving tables.

A command that cannot do what it was asked prints one line, ``musicrec: error: <what is wrong>``,
on stderr and exits with its ``ExitCode``; ``--verbose`` adds the traceback. Dagster is imported
by the commands that run jobs only, so a question or a query starts in a fraction of the time.
"""

from __future__ import annotations

import argparse
import enum
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import duckdb
import pandas as pd

from musicrec_core.answers import (
    AnswerError,
    BadQuery,
    InvalidQuestion,
    NoServingDatabase,
    UnknownTrack,
    UnknownUser,
)
from musicrec_core.data import plays_delivery, tracks_delivery
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SOURCE_KINDS
from musicrec_core.evaluation import (
    DEFAULT_EVAL_USERS,
    POPULATION_USERS,
    SAMPLE_USERS,
    TEST_SET,
    comparison_table,
    to_markdown,
)
from musicrec_core.serving import EXAMPLE_QUERY, SERVING_FILE, read_only_query
from musicrec_dagster.answer_commands import add_answer_commands

if TYPE_CHECKING:
    import dagster as dg

    from musicrec_dagster.runs import PipelineResult

logger = logging.getLogger("musicrec")

API_HOST = "127.0.0.1"  # loopback only unless the operator opens it up
API_PORT = 8000


class ExitCode(enum.IntEnum):
    """What ``musicrec`` exits with: one code per kind of failure a script may tell apart."""

    OK = 0
    RUN_FAILED = 1
    USAGE = 2
    NO_SERVING_DATABASE = 3
    UNKNOWN_USER = 4
    UNKNOWN_TRACK = 5
    BAD_QUERY = 6
    INVALID_VALUE = 7


EXIT_CODE_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.RUN_FAILED: "a pipeline run failed (the Dagster UI shows the step), or an "
    "unexpected error",
    ExitCode.USAGE: "usage error: an unknown command or option, a malformed value",
    ExitCode.NO_SERVING_DATABASE: "no serving database yet: run `musicrec demo` first",
    ExitCode.UNKNOWN_USER: "unknown user",
    ExitCode.UNKNOWN_TRACK: "unknown track",
    ExitCode.BAD_QUERY: "SQL the serving database rejects",
    ExitCode.INVALID_VALUE: "invalid value: an age, a gender, k, ...",
}
EXIT_CODES_HELP = "exit codes:\n" + "\n".join(
    f"  {code:d}  {meaning}" for code, meaning in EXIT_CODE_MEANINGS.items()
)


# An AnswerError subclass not listed here takes the code of its nearest listed ancestor.
ANSWER_EXIT_CODES: dict[type[AnswerError], ExitCode] = {
    NoServingDatabase: ExitCode.NO_SERVING_DATABASE,
    UnknownUser: ExitCode.UNKNOWN_USER,
    UnknownTrack: ExitCode.UNKNOWN_TRACK,
    BadQuery: ExitCode.BAD_QUERY,
    InvalidQuestion: ExitCode.INVALID_VALUE,
}


class RunFailed(Exception):
    """A pipeline run failed; ``str(error)`` names the job, the step and the step's error."""


ENV_OPTIONS = {
    "source": "MUSICREC_SOURCE",
    "path": "MUSICREC_SOURCE_PATH",
    "size": "MUSICREC_SYNTHETIC_SIZE",
    "scale_plays": "MUSICREC_SCALE_PLAYS",
    "seed": "MUSICREC_SEED",
    "dirty_rate": "MUSICREC_DIRTY_RATE",
}


# One run at a time: the warehouse is a DuckDB file, which one process at a time may write.
INSTANCE_CONFIG = """telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1
"""


def ensure_dagster_home(data_dir: Path) -> Path:
    """Use DAGSTER_HOME if set, else data/dagster_home, configured for this platform (telemetry
    off, one run at a time) unless it already has a dagster.yaml; returns the folder."""
    home = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_CONFIG)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _init_home(args: argparse.Namespace) -> int:
    sys.stdout.write(f"{ensure_dagster_home(Path(args.data_dir).resolve())}\n")
    return ExitCode.OK


def load_definitions() -> dg.Definitions:
    """The project's definitions, as the UI loads them (resources follow MUSICREC_* variables)."""
    from musicrec_dagster.definitions import defs

    return defs()


def run_config(op_config: dict[str, dict] | None = None, verbose: bool = False) -> dict:
    """Run configuration: console log level and per-op configuration.

    Without ``verbose`` Dagster's console says nothing: a failed run is reported in one line
    (``RunFailed``) and assets' warnings are repeated by ``RunProgress``.
    """
    return {
        "loggers": {"console": {"config": {"log_level": "INFO" if verbose else "CRITICAL"}}},
        "ops": {name: {"config": config} for name, config in (op_config or {}).items()},
    }


def summary(data_dir: Path, result: PipelineResult, samples: int = 3) -> str:
    """Row counts, quarantine, the serving database and a few users' top-10, as text."""
    done = (
        "every asset materialised except served_model: the retrained model was not promoted"
        if result.promotion_refused
        else "every asset materialised"
    )
    lines = ["", f"musicrec: {done}", ""]
    counts = []
    for table in ("users", "tracks", "plays"):
        raw = _row_count(result, "raw_catalogue", f"raw_{table}")
        valid = _row_count(result, "validated_catalogue", f"validated_{table}")
        counts.append({"table": table, "raw rows": raw, "validated rows": valid})
    lines.append(pd.DataFrame(counts).to_string(index=False))
    rejected = _metadata_value(
        result, "validated_catalogue", s.QUARANTINE_TABLE_NAME, "rejected_rows"
    )
    imputed = _metadata_value(
        result, "validated_catalogue", s.QUARANTINE_TABLE_NAME, "imputed_values"
    )
    lines += [
        "",
        f"quarantine: {rejected} rows rejected, {imputed} values imputed "
        "(table 'quarantine' in the warehouse)",
    ]
    serving = data_dir / SERVING_FILE
    new_tracks = _metadata_value(
        result, "new_track_recommendations", "new_track_recommendations", "new_tracks"
    )
    lines += [
        "",
        f"serving database: {serving}",
        f"new tracks nobody has played yet: {new_tracks}, each listener's pick of them in "
        "new_track_recommendations (musicrec new-tracks USER_ID)",
        "",
    ]
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


def _row_count(result: PipelineResult, node: str, asset: str) -> int:
    return _metadata_value(result, node, asset, "dagster/row_count")


def _metadata_value(result: PipelineResult, node: str, asset: str, key: str) -> int:
    for mat in result.asset_materializations_for_node(node):
        if mat.asset_key.to_user_string() == asset:
            return int(mat.metadata[key].value)
    raise KeyError(asset)


def _apply_source_options(args: argparse.Namespace) -> None:
    for option, variable in ENV_OPTIONS.items():
        value = getattr(args, option, None)
        if value is not None:
            os.environ[variable] = str(value)
    os.environ["MUSICREC_DATA_DIR"] = str(Path(args.data_dir).resolve())


def _op_config(args: argparse.Namespace) -> dict[str, dict]:
    config: dict[str, dict] = {}
    if getattr(args, "top_k", None) is not None:
        for name in ("recommendations", "cold_start_recommendations"):
            config[name] = {"top_k": args.top_k}
    if getattr(args, "full_refresh", False):
        config["raw_catalogue"] = {"full_refresh": True}
    if getattr(args, "epochs", None) is not None:
        config["hybrid_model"] = {"epochs": args.epochs}
    evaluation = {}
    if getattr(args, "models", None):
        evaluation["models"] = args.models.split(",")
    if getattr(args, "ks", None):
        evaluation["ks"] = args.ks
    if getattr(args, "eval_users", None) is not None:
        evaluation["eval_users"] = args.eval_users
    if evaluation:
        config["model_evaluation"] = evaluation
    return config


def positive(value: str) -> int:
    """A whole number above zero, for counts such as ``--epochs``."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {value!r}")
    return number


def eval_users(value: str) -> int:
    """``--eval-users``: a positive whole number of users, or 'all' (0, every user)."""
    if value.strip().lower() == "all":
        return 0
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of users or 'all', not {value!r}"
        )
    return number


def cutoffs(value: str) -> list[int]:
    """``--ks``: comma-separated positive cutoffs."""
    try:
        ks = [int(k) for k in value.split(",")]
    except ValueError:
        ks = []
    if not ks or min(ks) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive numbers, e.g. 5,10,20, not {value!r}"
        )
    return ks


def _prepare(args: argparse.Namespace) -> None:
    _apply_source_options(args)
    ensure_dagster_home(Path(args.data_dir).resolve())


def _execute(args: argparse.Namespace, job_names: tuple[str, ...]) -> PipelineResult:
    """Run jobs one after the other, with a progress bar on a terminal; a refused promotion is
    reported, another failure raises ``RunFailed``."""
    import dagster as dg

    from musicrec_dagster.progress import RunProgress
    from musicrec_dagster.runs import run_jobs

    _prepare(args)
    started = time.perf_counter()
    # With --verbose Dagster's step logs say where the run is, and a bar would break them up.
    progress = RunProgress(enabled=False if args.verbose else None, echo_warnings=not args.verbose)
    with dg.DagsterInstance.get() as instance, progress:
        outcome = run_jobs(
            load_definitions(),
            instance,
            job_names,
            run_config(_op_config(args), args.verbose),
            watcher=progress,
        )
    if outcome.promotion_refused:
        sys.stdout.write(f"promotion gate: {outcome.promotion_refused}\n")
    if not outcome.success:
        failed = outcome.failed_job
        raise RunFailed(
            f"the {failed} run failed{run_failure(outcome.results[failed])}; "
            "see the Dagster UI (make ui) for the step that failed"
        )
    sys.stdout.write(f"{', '.join(job_names)} finished in {time.perf_counter() - started:.0f} s\n")
    return outcome


def run_failure(result: dg.ExecuteInProcessResult) -> str:
    """' at step <step>: <error class>: <first line of its message>' for a run's first failed
    step (the error the step's code raised, not Dagster's wrapper), or '' when none failed."""
    import dagster as dg

    for event in result.all_events:
        if event.event_type != dg.DagsterEventType.STEP_FAILURE or event.step_failure_data is None:
            continue
        error = event.step_failure_data.error
        if error is None:
            return f" at step {event.step_key}"
        while error.cause is not None:
            error = error.cause
        message = _first_line(error.message)
        if error.cls_name and f"{error.cls_name}: " in message:
            message = message.split(f"{error.cls_name}: ", 1)[1]
        return f" at step {event.step_key}: {error.cls_name or 'error'}: {message}"
    return ""


def _materialize(args: argparse.Namespace) -> int:
    from musicrec_dagster.runs import PIPELINE

    results = _execute(args, ("prepare_data",) if args.data_only else PIPELINE)
    if args.command == "demo" and not args.data_only:
        sys.stdout.write(summary(Path(args.data_dir).resolve(), results))
    return ExitCode.OK


def _retrain(args: argparse.Namespace) -> int:
    _execute(args, ("retrain", "serve"))
    return ExitCode.OK


def _evaluate(args: argparse.Namespace) -> int:
    results = _execute(args, ("evaluate_models",))
    summary_frame = results.output_for_node("model_evaluation")
    sys.stdout.write(f"\n{users_line(summary_frame)}\n")
    for k in sorted(summary_frame["k"].unique()):
        sys.stdout.write(f"\n## k = {k}\n\n")
        sys.stdout.write(to_markdown(comparison_table(summary_frame, k=int(k))))
    return ExitCode.OK


def users_line(summary: pd.DataFrame) -> str:
    """How many users each test set of an evaluation summary was measured on, of how many."""
    sizes = summary.drop_duplicates(TEST_SET)
    parts = [
        f"{row[TEST_SET]} {row[SAMPLE_USERS]:,} of {row[POPULATION_USERS]:,}"
        for _, row in sizes.iterrows()
    ]
    return f"users evaluated: {', '.join(parts)}"


def serving_database(data_dir: Path) -> Path:
    """The published serving database; ``NoServingDatabase`` when nothing is published yet."""
    path = data_dir / SERVING_FILE
    if not path.is_file():
        raise NoServingDatabase(f"{path} does not exist yet: run `musicrec demo` first")
    return path


def _known_catalogue(data_dir: Path) -> tuple[pd.Series, pd.DataFrame]:
    """Users and tracks (id, genre) of the published serving database."""
    path = serving_database(data_dir)
    users = read_only_query(path, f"SELECT {s.USER_ID} FROM users")[s.USER_ID]
    tracks = read_only_query(path, f"SELECT {s.TRACK_ID}, {s.GENRE} FROM tracks")
    return users, tracks


def _drop(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    if args.command == "drop-plays":
        users, tracks = _known_catalogue(data_dir)
        delivery = plays_delivery(
            users, tracks, args.new_users, args.existing_users, seed=args.seed
        )
    else:
        delivery = tracks_delivery(args.tracks, seed=args.seed)
    paths = delivery.write(data_dir / "landing")
    for path, frame in zip(paths, delivery.frames.values(), strict=True):
        sys.stdout.write(f"wrote {path} ({len(frame)} rows)\n")
    return ExitCode.OK


def _query(args: argparse.Namespace) -> int:
    path = serving_database(Path(args.data_dir).resolve())
    try:
        frame = read_only_query(path, args.sql)
    except duckdb.Error as error:
        raise BadQuery(_first_line(str(error))) from error
    sys.stdout.write(frame.to_string(index=False) + "\n")
    return ExitCode.OK


def _source_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--source", choices=SOURCE_KINDS)
    options.add_argument("--path", help="CSV file (seed_csv) or folder (files)")
    options.add_argument("--size", choices=("tiny", "demo"), help="synthetic catalogue size")
    options.add_argument("--scale-plays", type=int, help="synthetic catalogue with this many plays")
    options.add_argument("--seed", type=int, help="synthetic generator seed")
    options.add_argument("--dirty-rate", type=float, help="share of dirty synthetic rows")
    options.add_argument(
        "--epochs",
        type=positive,
        metavar="N",
        help="most epochs to train the hybrid (default 20; early stopping may end sooner)",
    )
    options.add_argument("--models", help="comma-separated models to evaluate")
    options.add_argument(
        "--ks", type=cutoffs, metavar="K,K,...", help="comma-separated cutoffs, e.g. 5,10,20"
    )
    options.add_argument(
        "--eval-users",
        type=eval_users,
        metavar="N|all",
        help=f"users per test set, a seeded sample shared by every model (default "
        f"{DEFAULT_EVAL_USERS}); 'all' evaluates every user",
    )
    return options


VERBOSE_HELP = "show Dagster's step logs, and the traceback of an error"


def _common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes. ``--verbose`` may come before the subcommand or after it;
    after it, it has no default, so that it cannot undo ``musicrec --verbose <command>``."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand is declared here: ``add_command`` gives it the common options and its
    handler, a function of the parsed arguments that returns an ``ExitCode`` or raises (an
    ``AnswerError`` for a question the platform cannot answer)."""
    parser = argparse.ArgumentParser(
        prog="musicrec",
        description=__doc__,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", default=os.environ.get("MUSICREC_DATA_DIR", "data"))
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    common = _common_options()

    def add_command(
        name: str,
        handler: Callable[[argparse.Namespace], int],
        help_text: str,
        *parents: argparse.ArgumentParser,
    ) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, parents=[common, *parents])
        cmd.set_defaults(handler=handler)
        return cmd

    source = _source_options()
    for name, help_text in (
        ("demo", "materialise every asset and print a summary with sample recommendations"),
        ("materialize", "materialise every asset on the configured source"),
    ):
        cmd = add_command(name, _materialize, help_text, source)
        cmd.add_argument("--top-k", type=int, help="recommendations per user (default 20)")
        cmd.add_argument(
            "--data-only",
            action="store_true",
            help="stop after the data path: ingest, validation, features and the split",
        )
        cmd.add_argument(
            "--full-refresh",
            action="store_true",
            help="read the source and every archived delivery again, even if unchanged",
        )
    add_command(
        "retrain",
        _retrain,
        "retrain, evaluate and promote (if the gate passes), then recompute recommendations",
        source,
    )
    drop_plays = add_command(
        "drop-plays", _drop, "write a realistic new users + plays delivery into data/landing"
    )
    drop_plays.add_argument("--new-users", type=int, default=5, help="listeners not seen before")
    drop_plays.add_argument(
        "--existing-users", type=int, default=20, help="known listeners with new plays"
    )
    drop_plays.add_argument("--seed", type=int, default=None, help="generator seed")
    drop_tracks = add_command(
        "drop-tracks", _drop, "write a realistic delivery of new, unplayed tracks into data/landing"
    )
    drop_tracks.add_argument("--tracks", type=int, default=20, help="new tracks")
    drop_tracks.add_argument("--seed", type=int, default=None, help="generator seed")
    add_command("evaluate", _evaluate, "evaluate every model on the configured source", source)
    add_command(
        "init-home",
        _init_home,
        "create the Dagster instance folder (DAGSTER_HOME) with its settings",
    )
    query = add_command("query", _query, "run SQL against the serving database (read-only)")
    query.add_argument("sql")
    add_answer_commands(add_command)
    api = add_command(
        "api", _api, "serve the HTTP API over the published serving database (docs at /docs)"
    )
    api.add_argument("--host", default=API_HOST, help=f"address to listen on (default {API_HOST})")
    api.add_argument("--port", type=int, default=API_PORT, help=f"port (default {API_PORT})")
    api.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each holding its own copy of the snapshot (default 1)",
    )
    return parser


def _api(args: argparse.Namespace) -> int:
    from musicrec_api.server import serve

    if args.workers < 1:
        raise InvalidQuestion(f"--workers must be at least 1, not {args.workers}")
    serve(Path(args.data_dir).resolve(), host=args.host, port=args.port, workers=args.workers)
    return ExitCode.OK


def exit_code(error: BaseException) -> ExitCode:
    """The code ``main`` exits with for ``error``."""
    for cls in type(error).__mro__:
        if cls in ANSWER_EXIT_CODES:
            return ANSWER_EXIT_CODES[cls]
    return ExitCode.RUN_FAILED


def report_error(error: Exception, verbose: bool, stream: TextIO | None = None) -> ExitCode:
    """Write ``musicrec: error: <what is wrong>`` (one line), after the traceback when
    ``verbose``; returns the code to exit with."""
    stream = sys.stderr if stream is None else stream
    expected = isinstance(error, AnswerError | RunFailed)
    if verbose and not isinstance(error, RunFailed):  # a run's own logs hold its traceback
        traceback.print_exception(error, file=stream)
    what = _first_line(str(error)) or type(error).__name__
    if not expected:
        what = f"{type(error).__name__}: {what}"
        if not verbose:
            what += " (run with --verbose for the traceback)"
    stream.write(f"musicrec: error: {what}\n")
    stream.flush()
    return exit_code(error)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # a usage error exits here, with ExitCode.USAGE
    verbose = args.verbose
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        return int(args.handler(args))
    except Exception as error:
        return int(report_error(error, verbose))


if __name__ == "__main__":
    raise SystemExit(main())
