"""Freshness of what users query: warn when recommendations have not been refreshed lately."""

import datetime as dt
import os

import dagster as dg

FRESHNESS_HOURS_ENV = "MUSICREC_FRESHNESS_HOURS"
FRESHNESS_HOURS = float(os.environ.get(FRESHNESS_HOURS_ENV, "36"))

freshness_checks = dg.build_last_update_freshness_checks(
    assets=["recommendations", "serving_database"],
    lower_bound_delta=dt.timedelta(hours=FRESHNESS_HOURS),
)
