"""The executor every job runs with: in-process unless MUSICREC_EXECUTOR names another.

In-process imports torch and pandas once per run; the others place each step in its own
process (multiprocess), Kubernetes job (k8s) or Celery worker (celery), configured per run
under ``execution`` (see deploy/run_config/).
"""

import os

import dagster as dg

EXECUTOR_ENV = "MUSICREC_EXECUTOR"
EXECUTORS = ("in_process", "multiprocess", "k8s", "celery")


def executor_named(name: str) -> dg.ExecutorDefinition:
    """One of EXECUTORS; the cluster ones need dagster-k8s or dagster-celery installed."""
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if name == "celery":
        from dagster_celery import celery_executor

        return celery_executor
    raise ValueError(f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTORS)}, not {name!r}")


def executor_from_env() -> dg.ExecutorDefinition:
    """The executor MUSICREC_EXECUTOR names, in-process by default."""
    return executor_named(os.environ.get(EXECUTOR_ENV, "in_process"))
