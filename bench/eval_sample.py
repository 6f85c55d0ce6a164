"""How wide the warm NDCG@10 interval is, and how long evaluation takes, against the number of
sampled test users: the measurement behind the default ``eval_users``.

A synthetic catalogue of ``--plays`` plays is prepared as the asset graph prepares it;
popularity and item kNN are fitted once and evaluated on the warm test set for each sample
size (0 = every user). Prints a Markdown table with the date and the machine, ready for
docs/benchmarks.md. Usage: .venv/bin/python bench/eval_sample.py [--plays 1000000]
[--users 1000,2000,5000,10000,0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time

from common import machine

from musicrec_core import metrics as m
from musicrec_core.data import prepare
from musicrec_core.data.sources import SourceConfig
from musicrec_core.evaluation import WARM, EvaluationData, evaluate, sample_users
from musicrec_core.models import ItemKNN, Popularity

logger = logging.getLogger("eval_sample")


def main() -> None:
    """Prepare the catalogue, fit the two models, print one row per model and sample size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--users", default="1000,2000,5000,10000,0")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = prepare(SourceConfig(kind="synthetic", scale_plays=args.plays))
    whole = EvaluationData.from_split(data.split, data.users, data.tracks)
    models = {"popularity": Popularity(), "item_knn": ItemKNN()}
    for model in models.values():
        model.fit(whole.train)
    warm = whole.test_sets[WARM]
    lines = [
        f"Record of {dt.date.today()}, {machine()}: {args.plays:,} plays, "
        f"{len(whole.train.matrix.track_ids):,} tracks, {len(warm.user_ids):,} warm test users",
        "",
        "| users | model | warm NDCG@10 | 95% interval | half-width | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for n_users in (int(n) for n in args.users.split(",")):
        sampled = sample_users(whole, n_users or None)
        for name, model in models.items():
            started = time.perf_counter()
            summary = evaluate(model, sampled, name=name, test_sets=[WARM]).summary
            seconds = time.perf_counter() - started
            row = summary[(summary[m.METRIC] == m.NDCG) & (summary[m.K] == 10)].iloc[0]
            lines.append(
                f"| {len(sampled.test_sets[WARM].user_ids):,} | {name} | {row[m.MEAN]:.4f} "
                f"| [{row[m.CI_LOW]:.4f}, {row[m.CI_HIGH]:.4f}] "
                f"| {(row[m.CI_HIGH] - row[m.CI_LOW]) / 2:.4f} | {seconds:.1f} |"
            )
            logger.warning(lines[-1])
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
