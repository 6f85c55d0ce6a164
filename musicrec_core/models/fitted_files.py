"""A fitted model as a file, so another process (a user shard's evaluation step) can rank with it
without fitting it again."""

from __future__ import annotations

from pathlib import Path

import joblib

from musicrec_core.models.recommender import Recommender, TrainingData


def save_fitted(model: Recommender, path: Path | str) -> Path:
    """The fitted model in one joblib file, without the training data it was fitted on: the
    loader hands that back, so a process that holds it does not hold a second copy."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = model.__dict__.pop("data")
    try:
        joblib.dump(model, path)
    finally:
        model.data = data
    return path


def load_fitted(path: Path | str, data: TrainingData) -> Recommender:
    """A model saved by :func:`save_fitted`, over the training data it was fitted on."""
    model = joblib.load(path)
    if not isinstance(model, Recommender):
        raise TypeError(f"{path} holds a {type(model).__name__}, not a fitted recommender")
    model.data = data
    return model
