"""The HTTP API under concurrent clients while the pipeline publishes a new serving database.

``musicrec_api.server.serve`` runs in its own process (uvicorn, one worker, loopback) over a
data folder. ``--clients`` clients, threads with a keep-alive ``http.client`` connection each,
spread over ``--client-processes`` processes so that the clients' own interpreter does not
delay the answers it times, each loop: pick an endpoint at random (a known listener's list,
their new tracks, a new listener's list from an age, a gender and 0, 3 or 8 plays, tracks like
a track, health), send it, record its latency and status, wait ``--think`` seconds.
``--publish-after`` seconds in, the Dagster ``serve`` job runs in another process over the same
folder and publishes a new serving database, which the API loads in the background and swaps
in. The load runs for ``--seconds`` and at least until the new snapshot is served.

The API and the job each run in a session of their own, as separate services are started (where
the kernel schedules sessions as groups, each group gets its share of the CPU however many
threads the other runs); ``--shared-session`` starts both in this process's session instead.

Prints Markdown with the date and the machine, for docs/benchmarks.md: per endpoint the
requests, errors (any status but 2xx, or no answer), p50 and p99 latency over the whole run,
p99 while the new database was published and loaded and p99 the rest of the time; the
throughput; how the job shared the CPU (niceness, session, group scheduling); when the database
was replaced and when /health's ``published_at`` showed the new snapshot; and the p99s against
their targets (50 ms for a known listener, 150 ms for a new one).

Usage: .venv/bin/python bench/api_load.py [--data-dir DIR] [--clients 50] [--seconds 30]
[--think 0.5] [--publish-after 5] [--client-processes 5] [--job-nice N] [--shared-session]
The data folder is the CLI's (``MUSICREC_DATA_DIR``, else ``data``); one without a serving
database is built first with ``musicrec --data-dir DIR demo``. The serve job republishes its
serving database from its warehouse, as a scheduled run would, refitting the served hybrid's
item-item factors as a publication with new plays does.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.client
import json
import logging
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, field, fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from musicrec_core.answers import file_stamp  # noqa: E402
from musicrec_core.data import schema as s  # noqa: E402
from musicrec_core.evaluation import FEW_PLAYS  # noqa: E402
from musicrec_core.models.hybrid import ITEM_ITEM_DIR  # noqa: E402
from musicrec_core.serving import ARTIFACTS_DIR, SERVING_FILE, read_only_query  # noqa: E402

logger = logging.getLogger("bench.api_load")

KNOWN, NEW, SIMILAR, HEALTH = "known listener", "new listener", "similar tracks", "health"
NEW_TRACKS = "new tracks"
ENDPOINTS = (KNOWN, NEW_TRACKS, NEW, SIMILAR, HEALTH)
TARGET_P99_MS = {KNOWN: 50.0, NEW: 150.0}
# A new listener's played tracks: none, a few, more than a few (one audience each).
NEW_LISTENER_PLAYS = (0, 3, FEW_PLAYS + 3)
AUTOGROUP = Path("/proc/sys/kernel/sched_autogroup_enabled")
STARTUP_LIMIT = 900.0  # seconds the server may take to load its first snapshot
MAX_SECONDS = 900.0  # the load stops here even if the new snapshot was never served

SERVER = """
import logging, sys
from pathlib import Path
from musicrec_api.server import serve
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
serve(Path(sys.argv[1]), port=int(sys.argv[2]), access_log=False, workers=int(sys.argv[3]))
"""
SERVE_JOB = """
import sys
import dagster as dg
from musicrec_dagster.definitions import defs
from musicrec_dagster.runs import run_jobs
with dg.DagsterInstance.ephemeral() as instance:
    sys.exit(0 if run_jobs(defs(), instance, ("serve",)).success else 1)
"""


@dataclass
class Sample:
    """One request: which endpoint, when it was sent (seconds into the run), its latency,
    and its status (None: no answer)."""

    endpoint: str
    sent: float
    seconds: float
    status: int | None


@dataclass
class Timeline:
    """When the publication happened, seconds into the run."""

    job_started: float | None = None
    job_finished: float | None = None
    job_failed: bool = False
    replaced: float | None = None  # the serving database file was replaced
    loading: float | None = None  # /health said the API was loading it
    served: float | None = None  # /health showed the new published_at
    published_at: tuple[str, str] | None = None  # old and new
    samples: list[Sample] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ, MUSICREC_DATA_DIR=str(data_dir))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _ensure_published(data_dir: Path) -> None:
    if file_stamp(data_dir / SERVING_FILE) is not None:
        return
    logger.info("no serving database in %s: building the demo folder", data_dir)
    musicrec = Path(sys.executable).with_name("musicrec")
    subprocess.run(
        [str(musicrec), "--data-dir", str(data_dir), "demo"], check=True, env=_environment(data_dir)
    )


def _questions(data_dir: Path) -> tuple[list[str], list[str]]:
    """Users with a published list, and tracks someone played."""
    path = data_dir / SERVING_FILE
    users = read_only_query(path, f"SELECT DISTINCT {s.USER_ID} FROM recommendations")
    tracks = read_only_query(path, f"SELECT DISTINCT {s.TRACK_ID} FROM plays")
    return users[s.USER_ID].astype(str).tolist(), tracks[s.TRACK_ID].astype(str).tolist()


def _request(rng: random.Random, users: list, tracks: list) -> tuple[str, str, str, bytes | None]:
    """A question picked at random: its endpoint, method, path and JSON body."""
    endpoint = rng.choice(ENDPOINTS)
    if endpoint == KNOWN:
        return endpoint, "GET", f"/users/{rng.choice(users)}/recommendations", None
    if endpoint == NEW_TRACKS:
        return endpoint, "GET", f"/users/{rng.choice(users)}/new-tracks", None
    if endpoint == NEW:
        body = {
            "age": rng.randint(16, 70),
            "gender": rng.choice(s.GENDER_VALUES),
            "played": rng.sample(tracks, rng.choice(NEW_LISTENER_PLAYS)),
        }
        return endpoint, "POST", "/recommendations", json.dumps(body).encode()
    if endpoint == SIMILAR:
        return endpoint, "GET", f"/tracks/{rng.choice(tracks)}/similar", None
    return endpoint, "GET", "/health", None


def _client(port: int, seed: int, think: float, users: list, tracks: list, stop) -> list[Sample]:
    """One client on its own keep-alive connection: ask, record, think, until ``stop``
    (samples sent at ``time.monotonic()``, the same clock in every process)."""
    rng = random.Random(seed)
    samples: list[Sample] = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    time.sleep(rng.uniform(0, think))  # spread the first requests
    while not stop.is_set():
        endpoint, method, path, body = _request(rng, users, tracks)
        headers = {"Content-Type": "application/json"} if body else {}
        sent = time.monotonic()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            status: int | None = response.status
        except (OSError, http.client.HTTPException) as error:
            logger.warning("%s: %r", endpoint, error)
            status = None
            connection.close()  # the next request opens a new connection
        samples.append(Sample(endpoint, sent, time.monotonic() - sent, status))
        time.sleep(think)
    connection.close()
    return samples


def _client_process(
    port: int, seeds: list[int], think: float, users: list, tracks: list, ready, stop, out
) -> None:
    """Clients as threads of one process, started once every process is ``ready``; their
    samples go to ``out`` when ``stop`` is set."""
    ready.wait()
    with ThreadPoolExecutor(len(seeds)) as pool:
        runs = [pool.submit(_client, port, seed, think, users, tracks, stop) for seed in seeds]
        out.put([sample for run in runs for sample in run.result()])


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        return json.load(error) if error.code == 503 else None
    except OSError:
        return None


def _lower_priority(nice: int, own_session: bool) -> None:
    """``nice`` steps below normal for this process and, in a session of its own, for the
    session's scheduling group too: between groups only the group's niceness counts."""
    os.nice(nice)
    if own_session and nice and AUTOGROUP.exists():
        Path("/proc/self/autogroup").write_text(str(nice))


def _publish(args, timeline: Timeline, start: float, log: Path) -> None:
    """Run the serve job in its own process (and session, unless ``args.shared_session``),
    ``args.job_nice`` steps below normal priority, once ``args.publish_after`` seconds have
    passed, without the item-item factors kept from earlier runs, so it refits them as it would
    after new plays."""
    data_dir, nice = args.data_dir, args.job_nice
    time.sleep(args.publish_after)
    for kept in (data_dir / ARTIFACTS_DIR).glob(f"*/*/{ITEM_ITEM_DIR}/*.pt"):
        kept.unlink()
    timeline.job_started = time.monotonic() - start
    with log.open("wb") as out:
        job = subprocess.run(
            [sys.executable, "-c", SERVE_JOB],
            env=_environment(data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            preexec_fn=lambda: _lower_priority(nice, own_session=not args.shared_session),
            start_new_session=not args.shared_session,
        )
    timeline.job_failed = job.returncode != 0
    timeline.job_finished = time.monotonic() - start
    if timeline.job_failed:
        logger.error("the serve job failed; its log: %s", log)


def _watch(port: int, data_dir: Path, old: str, timeline: Timeline, start: float, stop) -> None:
    """Note when the database file is replaced, when /health first says a publication is
    loading, and when it shows a ``published_at`` other than ``old``."""
    path = data_dir / SERVING_FILE
    stamp = file_stamp(path)
    while timeline.served is None and not stop.is_set():
        time.sleep(0.1)
        now = time.monotonic() - start
        if timeline.replaced is None and file_stamp(path) != stamp:
            timeline.replaced = now
        health = _health(port)
        if health is None:
            continue
        if health["loading"] and timeline.loading is None:
            timeline.loading = now
        if health["published_at"] != old:
            timeline.served = now
            timeline.published_at = (old, health["published_at"])


def _load(
    args: argparse.Namespace, port: int, published_at: str, users: list[str], tracks: list[str]
) -> tuple[Timeline, float]:
    """Run the clients in ``args.client_processes`` processes while the serve job publishes;
    stop after ``args.seconds`` once the new snapshot is served (or the job failed)."""
    timeline = Timeline()
    spawn = multiprocessing.get_context("spawn")
    seeds = range(args.seed * args.clients, (args.seed + 1) * args.clients)
    groups = [list(seeds[i :: args.client_processes]) for i in range(args.client_processes)]
    groups = [group for group in groups if group]
    ready, stop, out = spawn.Barrier(len(groups) + 1), spawn.Event(), spawn.Queue()
    processes = [
        spawn.Process(
            target=_client_process, args=(port, group, args.think, users, tracks, ready, stop, out)
        )
        for group in groups
    ]
    for process in processes:
        process.start()
    ready.wait()  # every client process has started its interpreter
    start = time.monotonic()
    helpers = [
        threading.Thread(target=_publish, args=(args, timeline, start, args.logs / "serve.log")),
        threading.Thread(
            target=_watch, args=(port, args.data_dir, published_at, timeline, start, stop)
        ),
    ]
    for helper in helpers:
        helper.start()
    while True:
        time.sleep(0.5)
        elapsed = time.monotonic() - start
        settled = timeline.served is not None or timeline.job_failed
        if (elapsed >= args.seconds and settled) or elapsed >= MAX_SECONDS:
            break
    stop.set()
    for _ in processes:
        timeline.samples.extend(replace(x, sent=x.sent - start) for x in out.get())
    window = time.monotonic() - start
    for process in processes:
        process.join()
    for helper in helpers:
        helper.join()
    return timeline, window


def _wait_until_up(port: int, server: subprocess.Popen, log: Path) -> tuple[float, dict]:
    """Seconds until the API served its first snapshot, and its /health then."""
    started = time.monotonic()
    while time.monotonic() - started < STARTUP_LIMIT:
        if server.poll() is not None:
            raise SystemExit(f"the API exited with {server.returncode}; its log: {log}")
        health = _health(port)
        if health is not None and health["status"] != "unavailable":
            return time.monotonic() - started, health
        time.sleep(0.5)
    raise SystemExit(f"the API did not answer /health within {STARTUP_LIMIT:.0f} s; log: {log}")


def _ms(values: list[float], percent: int) -> float | None:
    """The percentile of latencies in milliseconds (None without any)."""
    if len(values) < 2:
        return values[0] * 1000 if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1] * 1000


def _moment(seconds: float | None) -> str:
    return "never, within the run" if seconds is None else f"+{seconds:.1f} s"


def _sessions(args) -> str:
    """Whether the API and the serve job shared a session, and how the kernel shares the CPU."""
    if args.shared_session:
        return "in one session with the API"
    group = f" whose group is at niceness {args.job_nice}" if args.job_nice else ""
    return f"in a session of its own{group}, as is the API; {_autogroup()}"


def _autogroup() -> str:
    try:
        enabled = AUTOGROUP.read_text().strip() == "1"
    except OSError:
        return "no autogroup scheduling on this kernel"
    return f"autogroup scheduling {'on' if enabled else 'off'}"


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _report(
    args, timeline: Timeline, window: float, startup: float, users, tracks, served: dict
) -> str:
    samples = timeline.samples
    reload_from = timeline.job_started or 0.0
    reload_to = timeline.served or window
    lines = [
        f"### Record of {dt.date.today():%Y-%m-%d}, {machine()}\n",
        f"Data folder `{args.data_dir}`: {len(users):,} listeners with a published list, "
        f"{len(tracks):,} played tracks. {args.workers} uvicorn worker(s) on loopback (first "
        f"snapshot loaded "
        f"in {startup:.1f} s); {args.clients} clients in {args.client_processes} processes "
        f"with {args.think:g} s think time over {window:.1f} s. Load average (1 min) after "
        f"the run: {os.getloadavg()[0]:.1f}. Served models: "
        + ", ".join(f"{audience} {model}" for audience, model in served.items())
        + ".\n",
    ]
    if timeline.job_failed:
        lines.append("The serve job failed: no new snapshot was published.\n")
    else:
        lines.append(
            f"The serve job (niceness {args.job_nice}, {_sessions(args)}) ran from "
            f"+{timeline.job_started:.1f} s to +{timeline.job_finished:.1f} s; the serving "
            f"database was replaced at "
            f"{_moment(timeline.replaced)}; /health said it was loading at "
            f"{_moment(timeline.loading)} and showed the new snapshot from "
            f"{_moment(timeline.served)}"
            + (
                f" (published_at {timeline.published_at[0]} -> {timeline.published_at[1]})."
                if timeline.published_at
                else "."
            )
            + "\n"
        )
    lines.append(
        "| endpoint | requests | errors | p50 ms | p99 ms | p99 ms while publishing and "
        "reloading | p99 ms otherwise |\n|---|---|---|---|---|---|---|"
    )
    for endpoint in ENDPOINTS:
        mine = [x for x in samples if x.endpoint == endpoint]
        seconds = [x.seconds for x in mine]
        during = [x.seconds for x in mine if reload_from <= x.sent <= reload_to]
        otherwise = [x.seconds for x in mine if not reload_from <= x.sent <= reload_to]
        errors = sum(1 for x in mine if x.status is None or not 200 <= x.status < 300)
        lines.append(
            f"| {endpoint} | {len(mine):,} | {errors} | {_cell(_ms(seconds, 50))} "
            f"| {_cell(_ms(seconds, 99))} | {_cell(_ms(during, 99))} "
            f"| {_cell(_ms(otherwise, 99))} |"
        )
    errors = sum(1 for x in samples if x.status is None or not 200 <= x.status < 300)
    lines.append(
        f"\n{len(samples):,} requests, {errors} errors (target 0), "
        f"{len(samples) / window:.1f} requests per second."
    )
    for endpoint, target in TARGET_P99_MS.items():
        seconds = [x.seconds for x in samples if x.endpoint == endpoint]
        p99 = _ms(seconds, 99)
        if p99 is not None:
            lines.append(
                f"- {endpoint} p99: {p99:.1f} ms against the {target:.0f} ms target "
                f"({p99 / target:.2f}x)"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("MUSICREC_DATA_DIR", "data"))
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--think", type=float, default=0.5, help="seconds a client waits")
    parser.add_argument("--publish-after", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0, help="of the clients' choices")
    parser.add_argument(
        "--client-processes", type=int, default=5, help="processes the clients are spread over"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--job-nice",
        type=int,
        default=0,
        help="how far below normal the serve job's priority is (its session's too)",
    )
    parser.add_argument(
        "--shared-session",
        action="store_true",
        help="start the API and the serve job in this process's session instead of each in "
        "its own, as separate services run",
    )
    parser.add_argument("--samples", type=Path, help="write every request's sample to this CSV")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.data_dir = args.data_dir.resolve()
    _ensure_published(args.data_dir)
    users, tracks = _questions(args.data_dir)
    args.logs = Path(tempfile.mkdtemp(prefix="api_load_"))
    port = _free_port()
    with (args.logs / "server.log").open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(args.data_dir), str(port), str(args.workers)],
            env=_environment(args.data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=not args.shared_session,
        )
    try:
        startup, health = _wait_until_up(port, server, args.logs / "server.log")
        logger.info("API up in %.1f s; loading with %d clients", startup, args.clients)
        timeline, window = _load(args, port, health["published_at"], users, tracks)
    finally:
        server.terminate()
        server.wait(timeout=30)
    logger.info("logs of the server and the serve job: %s", args.logs)
    if args.samples is not None:
        with args.samples.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([f.name for f in fields(Sample)])
            writer.writerows(astuple(x) for x in timeline.samples)
    served = {a: m[s.MODEL_NAME] for a, m in health["served_models"].items()}
    sys.stdout.write(_report(args, timeline, window, startup, users, tracks, served))
    return 0


if __name__ == "__main__":
    sys.exit(main())
