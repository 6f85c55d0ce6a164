"""Run the platform's jobs in this process, one after another, as the CLI and tests do.

The full pipeline is three jobs: refresh the catalogue, retrain (with the promotion gate),
serve; a job over partitioned assets (recommendations by user shard) takes every partition in
its one run. A retraining whose candidate the gate refuses is not an error: the served model stays
and serving goes on.
"""

from __future__ import annotations

import copy
import logging
import uuid
from dataclasses import dataclass, field
from typing import Protocol

import dagster as dg

from musicrec_core.evaluation import REASON

logger = logging.getLogger(__name__)

PIPELINE = ("refresh_catalogue", "retrain", "serve")
GATE_STEP = "promotion_report_promotion_gate"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def blocked_by_promotion_gate(result: dg.ExecuteInProcessResult) -> bool:
    """True when the only failure of a run is the promotion gate refusing a candidate."""
    failed = {e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    return failed == {GATE_STEP}


class RunWatcher(Protocol):
    """Told of each job as it starts (with its number of steps), of each of its events as the
    instance stores them, and of its end; ``musicrec_dagster.progress.RunProgress`` is one."""

    def job_started(self, job_name: str, steps: int) -> None: ...

    def event(self, entry: dg.EventLogEntry) -> None: ...

    def job_finished(self, job_name: str) -> None: ...


def step_count(job: dg.JobDefinition) -> int:
    """How many steps a run of ``job`` executes: one per op, ops inside graphs included."""

    def ops(graph: dg.GraphDefinition) -> int:
        return sum(
            ops(node.definition) if isinstance(node.definition, dg.GraphDefinition) else 1
            for node in graph.nodes
        )

    return ops(job.graph)


@dataclass
class PipelineResult:
    """The results of consecutive runs, searchable like one run's result."""

    results: dict[str, dg.ExecuteInProcessResult] = field(default_factory=dict)
    promotion_refused: str | None = None  # the gate's reason when it refused the candidate
    failed_job: str | None = None

    @property
    def success(self) -> bool:
        return self.failed_job is None

    @property
    def all_events(self) -> list[dg.DagsterEvent]:
        return [e for result in self.results.values() for e in result.all_events]

    def _with_node(self, node: str) -> dg.ExecuteInProcessResult:
        for result in reversed(self.results.values()):
            if node in result.job_def.graph.node_dict:
                return result
        raise KeyError(f"no run of these jobs includes {node}")

    def output_for_node(self, node: str, output_name: str = "result"):
        return self._with_node(node).output_for_node(node, output_name)

    def asset_materializations_for_node(self, node: str) -> list[dg.AssetMaterialization]:
        return self._with_node(node).asset_materializations_for_node(node)


def run_jobs(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    job_names: tuple[str, ...] = PIPELINE,
    run_config: dict | None = None,
    watcher: RunWatcher | None = None,
) -> PipelineResult:
    """Run jobs in order, each with the parts of ``run_config`` that concern its ops.

    Stops at the first failed run, except when the promotion gate refused a candidate.
    ``watcher`` sees each run's events while it runs (the instance calls it as it stores them).
    """
    outcome = PipelineResult()
    for job_name in job_names:
        job = defs.resolve_job_def(job_name)
        run_id = str(uuid.uuid4())
        if watcher is not None:
            instance.add_event_listener(run_id, watcher.event)
            watcher.job_started(job_name, step_count(job))
        try:
            result = job.execute_in_process(
                instance=instance,
                run_config=_for_job(job, run_config or {}),
                tags=every_partition(job),
                raise_on_error=False,
                run_id=run_id,
            )
        finally:
            if watcher is not None:
                watcher.job_finished(job_name)
        outcome.results[job_name] = result
        if result.success:
            continue
        if blocked_by_promotion_gate(result):
            report = result.output_for_node("promotion_report")
            outcome.promotion_refused = str(report[REASON].iloc[0])
            logger.info("promotion gate: %s", outcome.promotion_refused)
            continue
        outcome.failed_job = job_name
        break
    return outcome


def every_partition(job: dg.JobDefinition) -> dict[str, str]:
    """Run tags that make one run take every partition of a partitioned job (all user shards)."""
    if job.partitions_def is None:
        return {}
    keys = job.partitions_def.get_partition_keys()
    return {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}


def _for_job(job: dg.JobDefinition, run_config: dict) -> dict:
    config = copy.deepcopy(run_config)
    nodes = set(job.graph.node_dict)
    config["ops"] = {op: c for op, c in config.get("ops", {}).items() if op in nodes}
    return config
