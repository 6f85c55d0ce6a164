"""Two-stage recommendation for every demo user against the bare matrix multiply + top-k.

The baseline, measured in the same run over the same user and item vectors, is one
``users @ items.T`` and ``topk``; the two-stage path adds retrieval of candidates, the deep
head's re-ranking fused with item-item scores, new tracks' content fusion, and masking of
played tracks. Serving works through users in small blocks, which keeps its scores in cache;
the same product and top-k in blocks of that size is printed too, as a second, tighter
baseline. Prints median times and the median ratio of interleaved pairs.
Usage: .venv/bin/python bench/serving_speed.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import statistics
import sys
import time

import torch
from common import machine, train_hybrid

from musicrec_core.model import RETRIEVAL_BLOCK
from musicrec_core.pipeline import prepare
from musicrec_core.sources import SourceConfig

K = 20


def _seconds(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = prepare(SourceConfig(kind="synthetic", size="demo"))
    model = train_hybrid(data)
    user_ids = data.users["user_id"].to_numpy(dtype=object)
    users = torch.from_numpy(model.user_vectors(user_ids))
    items = torch.from_numpy(model.item_vectors())

    def bare() -> None:
        torch.topk(users @ items.T, K, dim=1)

    step = max(RETRIEVAL_BLOCK // items.shape[0], 1)

    def bare_blocks() -> None:
        for start in range(0, len(users), step):
            torch.topk(users[start : start + step] @ items.T, K, dim=1)

    def two_stage() -> None:
        model.recommend(user_ids, k=K)

    bare()
    bare_blocks()
    two_stage()
    # Interleaved, so a change in the machine's load hits every path of a round alike.
    rounds = [
        (_seconds(bare), _seconds(bare_blocks), _seconds(two_stage)) for _ in range(args.repeats)
    ]
    bare_s, blocks_s, two_stage_s = (
        statistics.median(times) for times in zip(*rounds, strict=True)
    )
    ratios = sorted(t / b for b, _, t in rounds)
    block_ratios = sorted(t / b for _, b, t in rounds)
    sys.stdout.write(
        f"## Serving speed, {dt.date.today().isoformat()}, {machine()}\n\n"
        f"{len(user_ids):,} users x {items.shape[0]:,} tracks, k = {K}, "
        f"{model.config.n_candidates} candidates re-ranked per user (item-item weight "
        f"{model.item_item_weight:g}, rank {model.config.item_item_rank}; content weight "
        f"{model.content_weight:g} over {int((~model.model.item_known).sum())} new tracks), "
        f"median of {args.repeats}\n\n"
        f"- bare matrix multiply + top-k: {bare_s * 1000:.1f} ms\n"
        f"- the same in blocks of {step} users: {blocks_s * 1000:.1f} ms\n"
        f"- two-stage recommend: {two_stage_s * 1000:.1f} ms\n"
        f"- ratio: {statistics.median(ratios):.2f}x (median of the {args.repeats} interleaved "
        f"rounds; lowest {ratios[0]:.2f}x, highest {ratios[-1]:.2f}x)\n"
        f"- ratio to the bare product in blocks: {statistics.median(block_ratios):.2f}x "
        f"(lowest {block_ratios[0]:.2f}x, highest {block_ratios[-1]:.2f}x)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
