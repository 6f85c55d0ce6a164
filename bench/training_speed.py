"""Adam's step at scale: torch's default on the CPU against the fused kernel the models use.

A training step of the hybrid reads a few thousand rows of its item, history and user id
tables, but Adam updates every row of them; torch's default Adam does that as about ten
separate passes per parameter, the fused kernel in one. For each size, the hybrid trains one
epoch on the plays of a seeded share of the users, over every user and track of the synthetic
catalogue (so its tables have their full size; item-item and content fusions off), which gives
the epoch's lists per second and seconds per step. Then both Adams step over that network's
parameters (random gradients, ``--steps`` steps each, alternating rounds), and over ELSA's
tracks x rank factors for the catalogue's played tracks, as ELSA's fit steps them: milliseconds
per step, their ratio, and how long a measured training step would take with the default. The
warehouse and preprocessor are bench/scale_model.py's, built first when missing.
Usage: .venv/bin/python bench/training_speed.py [--sizes 1000000,10000000] [--share 0.1]
[--steps 5] [--rounds 2] [--workdir DIR]
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from common import start_record
from memory import sized_parser
from scale_model import STAGES, run_model_stage, warehouse_tables

from musicrec_core.data import VALIDATION, MusicPreprocessor, played_columns, training_rows
from musicrec_core.data import schema as s
from musicrec_core.models import ELSA, TrainingData, adam
from musicrec_core.models.hybrid import Hybrid, TrainConfig

logger = logging.getLogger("bench.training_speed")
PREPARED = STAGES[:2]  # the split and the preprocessor
CPU = torch.device("cpu")


def _prepared(folder: Path, plays: int) -> None:
    if not (folder / "musicrec.duckdb").exists():
        run_model_stage("warehouse", plays, folder, epochs=1)
    if not (folder / "preprocessor").exists():
        for stage in PREPARED:
            run_model_stage(stage, plays, folder, epochs=1)


def one_epoch(folder: Path, share: float) -> tuple[Hybrid, dict, int]:
    """The hybrid after one epoch on a seeded share of the users' plays, that epoch's record,
    and how many tracks the whole training split played."""
    data, users, tracks = warehouse_tables(folder)
    train = training_rows(data)
    played = len(played_columns(TrainingData(train, users, tracks).matrix.matrix))
    chosen = users[s.USER_ID][np.random.default_rng(0).random(len(users)) < share]
    data = data[data[s.USER_ID].isin(chosen)]
    config = TrainConfig(
        epochs=1, item_item_weight=0, item_item_retrieval_weight=0, content_weight=0, progress=False
    )
    model = Hybrid(
        config,
        MusicPreprocessor.load(folder / "preprocessor"),
        validation=data[data[s.SPLIT] == VALIDATION],
    )
    model.fit(TrainingData(training_rows(data), users, tracks))
    return model, model.history[0], played


def step_ms(parameters: list[torch.nn.Parameter], fused: bool, steps: int, lr: float) -> float:
    """Milliseconds per Adam step over ``parameters`` (their gradients set)."""
    if fused:
        optimiser = adam(parameters, CPU, lr, TrainConfig.weight_decay)
    else:
        optimiser = torch.optim.Adam(parameters, lr=lr, weight_decay=TrainConfig.weight_decay)
    optimiser.step()  # allocates the moments
    started = time.perf_counter()
    for _ in range(steps):
        optimiser.step()
    return (time.perf_counter() - started) / steps * 1e3


def compare(parameters: list[torch.nn.Parameter], steps: int, rounds: int, lr: float):
    for parameter in parameters:
        parameter.grad = torch.randn_like(parameter)
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for fused in (False, True):
            times[fused].append(step_ms(parameters, fused, steps, lr))
    return statistics.median(times[False]), statistics.median(times[True])


def main() -> None:
    parser = sized_parser(__doc__.split("\n\n")[0], "1000000,10000000")
    parser.add_argument("--share", type=float, default=0.1, help="share of the users trained")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    start_record(
        "plays | parameters | default Adam (ms/step) | fused (ms/step) | ratio "
        "| a training step (fused) | the same step with the default Adam"
    )
    for plays in (int(x) for x in args.sizes.split(",")):
        folder = Path(args.workdir) / f"plays-{plays}"
        _prepared(folder, plays)
        model, epoch, played = one_epoch(folder, args.share)
        step_s = model.config.batch_size / epoch["lists_per_second"]  # a step is a batch
        logger.info("%d plays: %.0f ms a training step", plays, step_s * 1e3)
        network = list(model.model.parameters())
        sizes = f"hybrid: {sum(p.numel() for p in network):,}"
        default, fused = compare(network, args.steps, args.rounds, TrainConfig.learning_rate)
        step_ms_fused = step_s * 1e3
        slower = step_ms_fused - fused + default  # the step's other work is the same
        print(
            f"| {plays:,} | {sizes} | {default:,.1f} | {fused:,.1f} | **{default / fused:.1f}x** "
            f"| {step_ms_fused:,.0f} ms ({epoch['lists_per_second']:,.0f} lists/s) "
            f"| {slower:,.0f} ms: **{slower / step_ms_fused:.2f}x** as long |",
            flush=True,
        )
        factors = [torch.nn.Parameter(torch.empty(played, ELSA().rank))]
        default, fused = compare(factors, args.steps, args.rounds, ELSA().learning_rate)
        print(
            f"| {plays:,} | ELSA: {played:,} played tracks x {ELSA().rank} | {default:,.1f} | "
            f"{fused:,.1f} | **{default / fused:.1f}x** | | |",
            flush=True,
        )


if __name__ == "__main__":
    main()
