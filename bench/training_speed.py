"""Training speed with the id tables updated sparsely (lazy Adam) against dense Adam, at scale.

A training step reads a few thousand rows of the item, history and user id tables, but dense
Adam writes every row of them (with gradients and moments) on every step, a cost that grows with
the catalogue. To time steps over the full catalogue's tables without a full epoch at each size,
the hybrid trains one epoch on the plays of a seeded share of the users, over every user and
track of the synthetic catalogue (tables of full size), once per optimiser, alternating, with
the item-item and content fusions off. Reported: lists per second of the epoch (its steps, not
the validation after it) for each, and their ratio; the warehouse and preprocessor are
bench/scale_model.py's, built first when missing.
Usage: .venv/bin/python bench/training_speed.py [--sizes 1000000,10000000] [--share 0.1]
[--rounds 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import statistics
from pathlib import Path

import numpy as np
from common import machine
from scale_model import STAGES, run_model_stage, warehouse_tables

from musicrec_core.data import TRAIN, VALIDATION, MusicPreprocessor
from musicrec_core.data import schema as s
from musicrec_core.models import TrainingData
from musicrec_core.models.hybrid import Hybrid, TrainConfig

logger = logging.getLogger("bench.training_speed")
PREPARED = STAGES[:2]  # the split and the preprocessor


def _prepared(folder: Path, plays: int) -> None:
    if not (folder / "musicrec.duckdb").exists():
        run_model_stage("warehouse", plays, folder, epochs=1)
    if not (folder / "preprocessor").exists():
        for stage in PREPARED:
            run_model_stage(stage, plays, folder, epochs=1)


def lists_per_second(folder: Path, share: float, sparse_ids: bool) -> float:
    """Lists per second of one epoch on a seeded share of the users' plays."""
    data, users, tracks, _ = warehouse_tables(folder)
    rng = np.random.default_rng(0)
    chosen = users[s.USER_ID][rng.random(len(users)) < share]
    data = data[data[s.USER_ID].isin(chosen)]
    config = TrainConfig(
        epochs=1,
        sparse_ids=sparse_ids,
        item_item_weight=0,
        item_item_retrieval_weight=0,
        content_weight=0,
        progress=False,
    )
    model = Hybrid(
        config,
        MusicPreprocessor.load(folder / "preprocessor"),
        validation=data[data[s.SPLIT] == VALIDATION],
    )
    model.fit(TrainingData(data[data[s.SPLIT] == TRAIN], users, tracks))
    return model.history[0]["lists_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--share", type=float, default=0.1, help="share of the users trained")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", default="/tmp/musicrec-scale-model")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    print(f"### Record of {dt.date.today()}, {machine()}")
    print()
    print("| plays | users trained | dense Adam (lists/s) | sparse ids (lists/s) | ratio |")
    print("|---|---|---|---|---|")
    for plays in (int(x) for x in args.sizes.split(",")):
        folder = Path(args.workdir) / f"plays-{plays}"
        _prepared(folder, plays)
        speeds: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            for sparse_ids in (False, True):
                speed = lists_per_second(folder, args.share, sparse_ids)
                speeds[sparse_ids].append(speed)
                logger.info("%d plays, sparse ids %s: %.0f lists/s", plays, sparse_ids, speed)
        dense, sparse = statistics.median(speeds[False]), statistics.median(speeds[True])
        print(
            f"| {plays:,} | {args.share:.0%} | {dense:,.0f} | {sparse:,.0f} | "
            f"**{sparse / dense:.2f}x** |",
            flush=True,
        )


if __name__ == "__main__":
    main()
