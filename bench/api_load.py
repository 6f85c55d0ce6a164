"""The HTTP API under concurrent clients while the pipeline publishes a new serving database.

``musicrec_api.server.serve`` runs in its own process (uvicorn, one worker, loopback) over a
data folder. ``--clients`` clients (asyncio and httpx in this process) each loop: pick an
endpoint at random (a known listener's list, a new listener's list from a few plays, tracks
like a track, health), send it, record its latency and status, wait ``--think`` seconds.
``--publish-after`` seconds in, the Dagster ``serve`` job runs in another process over the same
folder and publishes a new serving database, which the API loads in the background and swaps
in. The load runs for ``--seconds`` and at least until the new snapshot is served.

Prints Markdown with the date and the machine, for docs/benchmarks.md: per endpoint the
requests, errors (any status but 2xx, or no answer), p50 and p99 latency over the whole run,
p99 while the new database was published and loaded and p99 the rest of the time; the
throughput; when the database was replaced and when /health's ``published_at`` showed the new
snapshot; and the p99s against their targets (50 ms for a known listener, 150 ms for a new one).

Usage: .venv/bin/python bench/api_load.py [--data-dir DIR] [--clients 50] [--seconds 30]
[--think 0.5] [--publish-after 5]
The data folder is the CLI's (``MUSICREC_DATA_DIR``, else ``data``); one without a serving
database is built first with ``musicrec --data-dir DIR demo``. The serve job republishes its
serving database from its warehouse, as a scheduled run would.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from musicrec_core.answers import file_stamp  # noqa: E402
from musicrec_core.data import schema as s  # noqa: E402
from musicrec_core.serving import SERVING_FILE, read_only_query  # noqa: E402

logger = logging.getLogger("bench.api_load")

KNOWN, NEW, SIMILAR, HEALTH = "known listener", "new listener", "similar tracks", "health"
ENDPOINTS = (KNOWN, NEW, SIMILAR, HEALTH)
TARGET_P99_MS = {KNOWN: 50.0, NEW: 150.0}
NEW_LISTENER_PLAYS = 3
STARTUP_LIMIT = 900.0  # seconds the server may take to load its first snapshot
MAX_SECONDS = 900.0  # the load stops here even if the new snapshot was never served
KEEP_ALIVE = 2.0  # seconds a client keeps an idle connection

SERVER = """
import logging, sys
from pathlib import Path
from musicrec_api.server import serve
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
serve(Path(sys.argv[1]), port=int(sys.argv[2]), access_log=False)
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


def _request(
    client: httpx.AsyncClient, endpoint: str, rng: random.Random, users: list, tracks: list
):
    if endpoint == KNOWN:
        return client.get(f"/users/{rng.choice(users)}/recommendations")
    if endpoint == NEW:
        body = {
            "age": rng.randint(16, 70),
            "gender": rng.choice(s.GENDER_VALUES),
            "played": rng.sample(tracks, NEW_LISTENER_PLAYS),
        }
        return client.post("/recommendations", json=body)
    if endpoint == SIMILAR:
        return client.get(f"/tracks/{rng.choice(tracks)}/similar")
    return client.get("/health")


async def _client(
    client: httpx.AsyncClient,
    seed: int,
    args: argparse.Namespace,
    timeline: Timeline,
    users: list[str],
    tracks: list[str],
    start: float,
    done: asyncio.Event,
) -> None:
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(0, args.think))  # spread the first requests
    while not done.is_set():
        endpoint = rng.choice(ENDPOINTS)
        sent = time.perf_counter()
        try:
            status = (await _request(client, endpoint, rng, users, tracks)).status_code
        except httpx.HTTPError as error:
            logger.warning("%s: %r", endpoint, error)
            status = None
        timeline.samples.append(Sample(endpoint, sent - start, time.perf_counter() - sent, status))
        await asyncio.sleep(args.think)


async def _publish(
    data_dir: Path, after: float, timeline: Timeline, start: float, log: Path
) -> None:
    """Run the serve job in its own process once ``after`` seconds have passed."""
    await asyncio.sleep(after)
    timeline.job_started = time.perf_counter() - start
    with log.open("wb") as out:
        job = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SERVE_JOB,
            env=_environment(data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        timeline.job_failed = await job.wait() != 0
    timeline.job_finished = time.perf_counter() - start
    if timeline.job_failed:
        logger.error("the serve job failed; its log: %s", log)


async def _watch(
    client: httpx.AsyncClient, data_dir: Path, old: str, timeline: Timeline, start: float
) -> None:
    """Note when the database file is replaced, when /health first says a publication is
    loading, and when it shows a ``published_at`` other than ``old``."""
    path = data_dir / SERVING_FILE
    stamp = file_stamp(path)
    while timeline.served is None:
        await asyncio.sleep(0.1)
        now = time.perf_counter() - start
        if timeline.replaced is None and file_stamp(path) != stamp:
            timeline.replaced = now
        try:
            health = (await client.get("/health")).json()
        except httpx.HTTPError:
            continue
        if health["loading"] and timeline.loading is None:
            timeline.loading = now
        if health["published_at"] != old:
            timeline.served = now
            timeline.published_at = (old, health["published_at"])


async def _load(
    args: argparse.Namespace,
    base_url: str,
    published_at: str,
    users: list[str],
    tracks: list[str],
    log: Path,
) -> tuple[Timeline, float]:
    timeline = Timeline()
    done = asyncio.Event()
    # Idle connections are dropped before the server's keep-alive timeout (uvicorn's 5 s), so
    # no request is sent on a connection the server is closing.
    limits = httpx.Limits(max_connections=args.clients + 1, keepalive_expiry=KEEP_ALIVE)
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as client:
        start = time.perf_counter()
        watcher = asyncio.create_task(_watch(client, args.data_dir, published_at, timeline, start))
        publisher = asyncio.create_task(
            _publish(args.data_dir, args.publish_after, timeline, start, log)
        )
        clients = [
            asyncio.create_task(_client(client, seed, args, timeline, users, tracks, start, done))
            for seed in range(args.seed * args.clients, (args.seed + 1) * args.clients)
        ]
        while True:
            await asyncio.sleep(0.5)
            elapsed = time.perf_counter() - start
            settled = timeline.served is not None or timeline.job_failed
            if (elapsed >= args.seconds and settled) or elapsed >= MAX_SECONDS:
                break
        done.set()
        await asyncio.gather(*clients)
        window = time.perf_counter() - start
        watcher.cancel()
        await publisher
    return timeline, window


def _wait_until_up(base_url: str, server: subprocess.Popen, log: Path) -> tuple[float, str]:
    """Seconds until the API served its first snapshot, and that snapshot's published_at."""
    started = time.perf_counter()
    while time.perf_counter() - started < STARTUP_LIMIT:
        if server.poll() is not None:
            raise SystemExit(f"the API exited with {server.returncode}; its log: {log}")
        try:
            health = httpx.get(f"{base_url}/health", timeout=5.0)
            if health.status_code == 200:
                return time.perf_counter() - started, health.json()["published_at"]
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the API did not answer /health within {STARTUP_LIMIT:.0f} s; log: {log}")


def _ms(values: list[float], percent: int) -> float | None:
    """The percentile of latencies in milliseconds (None without any)."""
    if len(values) < 2:
        return values[0] * 1000 if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1] * 1000


def _moment(seconds: float | None) -> str:
    return "never, within the run" if seconds is None else f"+{seconds:.1f} s"


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _report(args, timeline: Timeline, window: float, startup: float, users, tracks) -> str:
    samples = timeline.samples
    reload_from = timeline.job_started or 0.0
    reload_to = timeline.served or window
    lines = [
        f"### Record of {dt.date.today():%Y-%m-%d}, {machine()}\n",
        f"Data folder `{args.data_dir}`: {len(users):,} listeners with a published list, "
        f"{len(tracks):,} played tracks. One uvicorn worker on loopback (first snapshot loaded "
        f"in {startup:.1f} s); {args.clients} clients with {args.think:g} s think time over "
        f"{window:.1f} s. Load average (1 min) after the run: {os.getloadavg()[0]:.1f}.\n",
    ]
    if timeline.job_failed:
        lines.append("The serve job failed: no new snapshot was published.\n")
    else:
        lines.append(
            f"The serve job ran from +{timeline.job_started:.1f} s to "
            f"+{timeline.job_finished:.1f} s; the serving database was replaced at "
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
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args.data_dir = args.data_dir.resolve()
    _ensure_published(args.data_dir)
    users, tracks = _questions(args.data_dir)
    logs = Path(tempfile.mkdtemp(prefix="api_load_"))
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with (logs / "server.log").open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(args.data_dir), str(port)],
            env=_environment(args.data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        startup, published_at = _wait_until_up(base_url, server, logs / "server.log")
        logger.info("API up in %.1f s; loading with %d clients", startup, args.clients)
        timeline, window = asyncio.run(
            _load(args, base_url, published_at, users, tracks, logs / "serve_job.log")
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    logger.info("logs of the server and the serve job: %s", logs)
    sys.stdout.write(_report(args, timeline, window, startup, users, tracks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
