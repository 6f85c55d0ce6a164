"""Ranking and diversity metrics."""

from musicrec_core.metrics.ranking import *  # noqa: F403
