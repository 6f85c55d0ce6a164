"""Train the hybrid on CUDA when present and compare its epoch time with the CPU's.

Trains a few epochs of the hybrid on the demo catalogue, or on a synthetic one of
``--scale-plays`` plays, on the CPU and, when CUDA is available, on the GPU, with the same seed
and data; prints seconds per epoch on each and their ratio, lists per second, and the
validation NDCG@10 both reach (they should agree closely), once per batch size asked for.
Without CUDA it says so and measures the CPU alone.
Usage: .venv/bin/python bench/gpu_check.py [--epochs 3] [--batch-sizes 128 1024]
[--scale-plays 1000000]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import statistics
import sys

import torch
from common import machine, train_hybrid

from musicrec_core.data import prepare
from musicrec_core.data.sources import SourceConfig
from musicrec_core.models.hybrid import VAL_NDCG, TrainConfig


def epoch_stats(data, device: str, epochs: int, batch_size: int) -> tuple[float, float, float]:
    """Median seconds and lists per second per epoch, and the best validation NDCG@10, on one
    device."""
    config = dataclasses.replace(
        TrainConfig(progress=False),
        device=device,
        epochs=epochs,
        patience=epochs,
        batch_size=batch_size,
    )
    model = train_hybrid(data, config)
    seconds = statistics.median(row["seconds"] for row in model.history)
    lists = statistics.median(row["lists_per_second"] for row in model.history)
    return seconds, lists, max(row[VAL_NDCG] for row in model.history)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[TrainConfig.batch_size], metavar="N"
    )
    parser.add_argument(
        "--scale-plays", type=int, help="a synthetic catalogue of this many plays, not the demo"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    source = (
        SourceConfig(kind="synthetic", scale_plays=args.scale_plays)
        if args.scale_plays
        else SourceConfig(kind="synthetic", size="demo")
    )
    data = prepare(source)
    lines = [f"## GPU check, {dt.date.today().isoformat()}, {machine()}", source.describe(), ""]
    for batch_size in args.batch_sizes:
        lines.append(f"batch size {batch_size}:")
        cpu_s, cpu_lists, cpu_ndcg = epoch_stats(data, "cpu", args.epochs, batch_size)
        lines.append(
            f"- cpu: {cpu_s:.2f} s per epoch, {cpu_lists:,.0f} lists/s, "
            f"best {VAL_NDCG} {cpu_ndcg:.4f}"
        )
        if torch.cuda.is_available():
            gpu_s, gpu_lists, gpu_ndcg = epoch_stats(data, "cuda", args.epochs, batch_size)
            lines.append(
                f"- cuda: {gpu_s:.2f} s per epoch, {gpu_lists:,.0f} lists/s, "
                f"best {VAL_NDCG} {gpu_ndcg:.4f}"
            )
            lines.append(f"- speed-up: {cpu_s / gpu_s:.2f}x")
        else:
            lines.append("- cuda: not available on this machine; nothing to compare")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
