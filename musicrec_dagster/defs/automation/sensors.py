"""Sensors that make new data flow by itself, all running by default.

``landing_sensor`` starts an ingestion run when a file with new content lands; the automation
sensor then refreshes validation, features and recommendations (eager, and only over data whose
blocking checks passed); the freshness sensor evaluates how old the recommendations are.
"""

import hashlib
import json
import os

import dagster as dg
import duckdb

from musicrec_core.data import file_sha256, scan_landing
from musicrec_core.data import schema as s
from musicrec_dagster.defs.automation import jobs
from musicrec_dagster.defs.resources import PlatformPaths
from musicrec_dagster.defs.serving import freshness
from musicrec_dagster.warehouse import read_warehouse_table

SENSOR_INTERVAL_ENV = "MUSICREC_SENSOR_INTERVAL"
SENSOR_INTERVAL = int(os.environ.get(SENSOR_INTERVAL_ENV, "30"))

AUTOMATED = dg.AssetSelection.assets(*jobs.FOLLOWING_ASSETS)


def _hashes(paths: PlatformPaths, seen: dict[str, list]) -> tuple[dict[str, str], dict[str, list]]:
    """{sha256: landed path} of every landed file, hashing only files whose size or mtime moved."""
    found, now_seen = {}, {}
    for landed in scan_landing(paths.landing):
        stat = landed.path.stat()
        previous = seen.get(landed.landed_path)
        if previous and previous[:2] == [stat.st_size, stat.st_mtime_ns]:
            sha = previous[2]
        else:
            sha = file_sha256(landed.path)
        now_seen[landed.landed_path] = [stat.st_size, stat.st_mtime_ns, sha]
        found.setdefault(sha, landed.landed_path)
    return found, now_seen


@dg.sensor(
    job=jobs.ingest_job,
    minimum_interval_seconds=SENSOR_INTERVAL,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts ingest_landing when a landed file's content is not in the landing "
    "registry yet. Files named .* / *.part / *.tmp are still being written and are ignored.",
)
def landing_sensor(context: dg.SensorEvaluationContext, paths: PlatformPaths):
    cursor = json.loads(context.cursor) if context.cursor else {"requested": {}, "seen": {}}
    found, seen = _hashes(paths, cursor["seen"])
    try:
        registry = read_warehouse_table(paths.warehouse, s.REGISTRY_TABLE)
    except duckdb.IOException:
        return dg.SkipReason("the warehouse is being written; trying again at the next tick")
    registered = set(registry[s.SHA256]) if registry is not None else set()
    requested = {sha: p for sha, p in cursor["requested"].items() if sha not in registered}
    new = {sha: p for sha, p in found.items() if sha not in registered and sha not in requested}
    context.update_cursor(json.dumps({"requested": {**requested, **new}, "seen": seen}))
    if not new:
        return dg.SkipReason(f"{len(found)} landed file(s), no new content")
    run_key = hashlib.sha256("".join(sorted(new)).encode()).hexdigest()
    files = sorted(new.values())
    context.log.info(f"new content in {files}")
    return dg.RunRequest(run_key=run_key, tags={"musicrec/landed_files": ", ".join(files)[:1000]})


automation_sensor = dg.AutomationConditionSensorDefinition(
    "follow_new_data",
    target=AUTOMATED,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=SENSOR_INTERVAL,
    description="Refreshes validation, features and recommendations after new data lands.",
)

freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=freshness.freshness_checks,
    name="recommendations_freshness",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
