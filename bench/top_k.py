"""The top-k selection every ranking goes through (``musicrec_core.models.top_k``, torch.topk)
against the numpy partition it replaced, on score batches shaped as evaluation ranks them.

Per catalogue size: a batch of as many users as ``BATCH_CELLS`` allows (evaluation's batch),
float64 scores of three kinds: continuous (no ties), few distinct values (popularity-like
counts) and mostly zero (a sparse item-item model's). Each selection runs five times, the
median kept. Both must keep the same values in the same order; with no ties, the same columns.
Usage: .venv/bin/python bench/top_k.py [--tracks 31250,312500] [--k 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from common import start_record

from musicrec_core.evaluation import rankings
from musicrec_core.models import top_k


def numpy_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The selection top_k replaced: a partition of the negated scores, then a stable sort."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)


def batches(n_tracks: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    users = min(rankings.MAX_BATCH_USERS, max(1, rankings.BATCH_CELLS // n_tracks))
    sparse = np.where(rng.random((users, n_tracks)) < 0.001, rng.random((users, n_tracks)), 0.0)
    return {
        "continuous": rng.random((users, n_tracks)),
        "few values": rng.integers(0, 50, (users, n_tracks)).astype(np.float64),
        "mostly zero": sparse,
    }


def _median_seconds(run: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", default="31250,312500")
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    start_record("tracks | users per batch | scores | numpy partition, ms | top_k, ms | ratio")
    for n_tracks in (int(n) for n in args.tracks.split(",")):
        for kind, scores in batches(n_tracks, rng).items():
            old_columns, old_values = numpy_top_k(scores, args.k)
            columns, values = top_k(scores, args.k)
            if not np.array_equal(values, old_values):
                raise SystemExit(f"{n_tracks} tracks, {kind}: the kept values differ")
            if kind == "continuous" and not np.array_equal(columns, old_columns):
                raise SystemExit(f"{n_tracks} tracks, {kind}: the kept columns differ")
            old = _median_seconds(lambda: numpy_top_k(scores, args.k))  # noqa: B023
            new = _median_seconds(lambda: top_k(scores, args.k))  # noqa: B023
            print(
                f"| {n_tracks:,} | {len(scores)} | {kind} | {old * 1000:.1f} | "
                f"{new * 1000:.1f} | **{old / new:.1f}x** |"
            )


if __name__ == "__main__":
    main()
