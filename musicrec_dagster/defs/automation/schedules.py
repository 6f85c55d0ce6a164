"""Weekly retraining; the cron expression comes from MUSICREC_RETRAIN_CRON."""

import os

import dagster as dg

from musicrec_dagster.defs.automation import jobs

RETRAIN_CRON_ENV = "MUSICREC_RETRAIN_CRON"
DEFAULT_RETRAIN_CRON = "0 3 * * 1"  # Mondays 03:00 UTC

retrain_schedule = dg.ScheduleDefinition(
    name="weekly_retrain",
    job=jobs.retrain_job,
    cron_schedule=os.environ.get(RETRAIN_CRON_ENV, DEFAULT_RETRAIN_CRON),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Retrain, evaluate and (if the promotion gate passes) promote the hybrid model.",
)
