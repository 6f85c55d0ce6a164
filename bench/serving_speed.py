"""Two-stage recommendation for every demo user against the bare matrix multiply + top-k.

The baseline, measured in the same run over the same user and item vectors, is one
``users @ items.T`` and ``topk``; the vectors are retrieval's, the towers' with the item-item
factors it fuses. The two-stage path adds the user vectors' rescaling, retrieval of candidates,
the deep head's re-ranking fused with item-item scores, new tracks' content fusion, and
masking of played tracks. The bare product over the towers' part of the vectors alone is
timed too. Serving works through users in small blocks, which keeps its scores in cache;
the same product and top-k in blocks of that size is printed too, as a second, tighter
baseline. Prints median times and the median ratio of interleaved pairs.

With ``--scale-plays`` (10,000,000: 125,000 users over 312,500 tracks) the model is the hybrid
with the shapes it has at that size but untrained weights (serving costs the same whatever the
weights hold), over a synthetic catalogue of that many plays; see ``scale_serving``.
Usage: .venv/bin/python bench/serving_speed.py [--repeats 15]
       .venv/bin/python bench/serving_speed.py --scale-plays 10000000 [--data DIR] [--repeats 1]
           [--users N]
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
from scale_serving import scale_report

from musicrec_core.data import prepare
from musicrec_core.data.sources import SourceConfig
from musicrec_core.models.hybrid import RETRIEVAL_BLOCK

K = 20


def _seconds(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--scale-plays", type=int, help="an untrained hybrid at this size")
    parser.add_argument("--data", help="folder keeping the scale catalogue between runs")
    parser.add_argument("--users", type=int, help="at scale, serve only the first this many")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.scale_plays:
        sys.stdout.write(scale_report(args.scale_plays, args.repeats, args.data, args.users))
        return 0
    data = prepare(SourceConfig(kind="synthetic", size="demo"))
    model = train_hybrid(data)
    user_ids = data.users["user_id"].to_numpy(dtype=object)
    users = torch.from_numpy(model.user_vectors(user_ids))
    items = torch.from_numpy(model.item_vectors())

    def bare() -> None:
        torch.topk(users @ items.T, K, dim=1)

    # the towers' part of the vectors alone, without the item-item factors retrieval fuses
    width = model.model.dim + 1
    towers_users, towers_items = users[:, :width].contiguous(), items[:, :width].contiguous()

    def bare_towers() -> None:
        torch.topk(towers_users @ towers_items.T, K, dim=1)

    step = max(RETRIEVAL_BLOCK // items.shape[0], 1)

    def bare_blocks() -> None:
        for start in range(0, len(users), step):
            torch.topk(users[start : start + step] @ items.T, K, dim=1)

    def two_stage() -> None:
        model.recommend(user_ids, k=K)

    paths = (bare, bare_blocks, bare_towers, two_stage)
    for path in paths:
        path()
    # Interleaved, so a change in the machine's load hits every path of a round alike.
    rounds = [tuple(_seconds(path) for path in paths) for _ in range(args.repeats)]
    bare_s, blocks_s, towers_s, two_stage_s = (
        statistics.median(times) for times in zip(*rounds, strict=True)
    )
    ratios = sorted(t / b for b, _, _, t in rounds)
    block_ratios = sorted(t / b for _, b, _, t in rounds)
    towers_ratios = sorted(t / b for _, _, b, t in rounds)
    sys.stdout.write(
        f"## Serving speed, {dt.date.today().isoformat()}, {machine()}\n\n"
        f"{len(user_ids):,} users x {items.shape[0]:,} tracks, vectors {items.shape[1]} wide "
        f"(the towers' {width}), k = {K}, {model.config.n_candidates} candidates re-ranked per "
        f"user (item-item rank {model.item_item_rank}, weights {model.item_item_weight:g} with "
        f"the head and {model.item_item_retrieval_weight:g} in retrieval; "
        f"content weight {model.content_weight:g} over "
        f"{int((~model.model.item_known).sum())} new tracks), median of {args.repeats}\n\n"
        f"- bare matrix multiply + top-k: {bare_s * 1000:.1f} ms\n"
        f"- the same in blocks of {step} users: {blocks_s * 1000:.1f} ms\n"
        f"- the bare product of the towers' part of the vectors alone: {towers_s * 1000:.1f} ms\n"
        f"- two-stage recommend: {two_stage_s * 1000:.1f} ms\n"
        f"- ratio: {statistics.median(ratios):.2f}x (median of the {args.repeats} interleaved "
        f"rounds; lowest {ratios[0]:.2f}x, highest {ratios[-1]:.2f}x)\n"
        f"- ratio to the bare product in blocks: {statistics.median(block_ratios):.2f}x "
        f"(lowest {block_ratios[0]:.2f}x, highest {block_ratios[-1]:.2f}x)\n"
        f"- ratio to the towers' product alone: {statistics.median(towers_ratios):.2f}x "
        f"(lowest {towers_ratios[0]:.2f}x, highest {towers_ratios[-1]:.2f}x)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
