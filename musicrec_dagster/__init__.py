"""Dagster assets, checks, sensors and schedules around the musicrec_core library."""
