"""Evaluation protocol, model comparison and the promotion gate."""
