"""Recommendation quality of every model on the demo catalogue and on real Echo Nest plays.

Prints, per data set, the comparison table at k = 5, 10 and 20 with every metric, each model's
NDCG@10 as a ratio to popularity measured in the same run, the hybrid's paired NDCG@10
difference to every other model, the same for hybrids trained with other seeds (how much of a
result is the training's luck), on every test set (cold_user_given: the cold-start users given
their first GIVEN plays), with the date and the machine, ready for docs/benchmarks.md. The
hybrid is trained as the hybrid_model asset trains it. Usage: .venv/bin/python bench/quality.py
[--datasets demo,echonest] [--models popularity,ease,hybrid] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import pandas as pd
from common import machine, ndcg_at_10, sources, train_hybrid

from musicrec_core import metrics as m
from musicrec_core.data import fit_preprocessor, prepare, training_rows
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.evaluation import (
    TEST_SET,
    comparison_table,
    evaluate_models,
    paired_differences,
    to_markdown,
)
from musicrec_core.models import BASELINES
from musicrec_core.models.hybrid import TrainConfig

HYBRID = "hybrid"
KS = (5, 10, 20)
GIVEN = 3
ALL_METRICS = (*m.PER_USER_METRICS, m.COVERAGE)
logger = logging.getLogger("bench.quality")


def paired_lines(per_user) -> list[str]:
    """The hybrid's NDCG@10 minus each other model's over the same users, with intervals."""
    lines = ["Hybrid minus each other model, NDCG@10 paired over the same users:", ""]
    for row in paired_differences(per_user, HYBRID).itertuples(index=False):
        verdict = "better" if row.ci_low > 0 else "worse" if row.ci_high < 0 else "no difference"
        lines.append(
            f"- {getattr(row, TEST_SET)}, {row.other_model}: {row.mean:+.4f} "
            f"[{row.ci_low:+.4f}, {row.ci_high:+.4f}], {verdict}"
        )
    return lines


def seed_lines(seed: int, summary: pd.DataFrame, per_user: pd.DataFrame) -> list[str]:
    """Table rows, per test set: the hybrid's NDCG@10, the other model with the best NDCG@10
    there, the paired difference to it, and whether the hybrid's interval lies above every
    other model's."""
    ndcg = ndcg_at_10(summary)
    paired = paired_differences(per_user, HYBRID).set_index([TEST_SET, "other_model"])
    lines = []
    for test_set, rows in ndcg.groupby(TEST_SET, sort=False):
        means = rows.set_index(s.MODEL_NAME)
        if HYBRID not in means.index or len(means) < 2:
            continue
        hybrid, others = means.loc[HYBRID], means.drop(HYBRID)
        best = others[m.MEAN].idxmax()
        diff = paired.loc[(test_set, best)]
        apart = "yes" if hybrid[m.CI_LOW] > others[m.CI_HIGH].max() else "no"
        lines.append(
            f"| {seed} | {test_set} | {hybrid[m.MEAN]:.4f} [{hybrid[m.CI_LOW]:.4f}, "
            f"{hybrid[m.CI_HIGH]:.4f}] | {best} {others.loc[best, m.MEAN]:.4f} "
            f"[{others.loc[best, m.CI_LOW]:.4f}, {others.loc[best, m.CI_HIGH]:.4f}] | "
            f"{diff[m.MEAN]:+.4f} [{diff[m.CI_LOW]:+.4f}, {diff[m.CI_HIGH]:+.4f}] | {apart} |"
        )
    return lines


def chosen(seed: int, model) -> str:
    """What a hybrid training chose on its validation plays."""
    return (
        f"- seed {seed}: EASE λ {model.item_item_l2:g}, rank {model.item_item_rank}, weight "
        f"{model.item_item_weight:g} with the head and {model.item_item_retrieval_weight:g} in "
        f"retrieval; content weight {model.content_weight:g}; {len(model.history)} epochs"
    )


def other_seeds(data, evaluate, result, seeds: list[int], first) -> list[str]:
    """The hybrid retrained with each seed, against the other models of ``result``."""
    lines = [
        "Hybrid trainings by seed, NDCG@10 against the best other model (paired difference):",
        "",
        "| seed | test set | hybrid | best other model | paired difference "
        "| intervals apart from every other model |",
        "|---|---|---|---|---|---|",
    ]
    lines += seed_lines(seeds[0], result.summary, result.per_user)
    settings = [chosen(seeds[0], first)]
    others = {
        "summary": result.summary[result.summary[s.MODEL_NAME] != HYBRID],
        "per_user": result.per_user[result.per_user[s.MODEL_NAME] != HYBRID],
    }
    for seed in seeds[1:]:
        model = train_hybrid(data, TrainConfig(progress=False, seed=seed))
        settings.append(chosen(seed, model))
        again = evaluate(names=[HYBRID], fitted={HYBRID: model}, ks=(10,)).result
        lines += seed_lines(
            seed,
            pd.concat([others["summary"], again.summary]),
            pd.concat([others["per_user"], again.per_user]),
        )
    return [*lines, "", "Settings each training chose on its validation plays:", "", *settings]


def run(name: str, source: SourceConfig, models: list[str], seeds: list[int]) -> str:
    started = time.perf_counter()
    data = prepare(source)
    preprocessor, _, _ = fit_preprocessor(training_rows(data.split), data.users, data.tracks)
    config = TrainConfig(progress=False, seed=seeds[0])
    fitted = {HYBRID: train_hybrid(data, config)} if HYBRID in models else {}
    evaluate = partial(
        evaluate_models,
        data.split,
        data.users,
        data.tracks,
        preprocessor=preprocessor,
        cold_user_given=GIVEN,
    )
    comparison = evaluate(names=models, ks=KS, fitted=fitted)
    summary = comparison.result.summary
    ndcg = ndcg_at_10(summary)
    lines = [f"### {name} ({source.describe()})", ""]
    for k in KS:
        table = comparison_table(summary, k=k, metrics=ALL_METRICS)
        lines += [f"k = {k}:", "", to_markdown(table)]
    lines += ["NDCG@10 as a ratio to popularity (same run):", ""]
    for test_set, rows in ndcg.groupby(TEST_SET, sort=False):
        base = rows.set_index("model_name")["mean"].get("popularity")
        ratios = ", ".join(
            f"{model} {mean / base:.2f}x" if base else f"{model} n/a"
            for model, mean in rows[["model_name", "mean"]].itertuples(index=False)
        )
        lines.append(f"- {test_set}: {ratios}")
    if fitted:
        lines += ["", *paired_lines(comparison.result.per_user)]
        lines += ["", *other_seeds(data, evaluate, comparison.result, seeds, fitted[HYBRID])]
    if "ease" in comparison.l2_choices:
        l2 = comparison.l2_choices["ease"][0]
        lines += ["", f"EASE chose λ {l2:g} on a holdout of its training plays."]
    fit_seconds = {**comparison.fit_seconds}
    if fitted:
        fit_seconds[HYBRID] = sum(row["seconds"] for row in fitted[HYBRID].history)
    fits = ", ".join(f"{k} {v:.1f} s" for k, v in fit_seconds.items())
    lines += ["", f"Fit times: {fits}. Whole run {time.perf_counter() - started:.0f} s.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", default="demo,echonest")
    parser.add_argument("--models", default=",".join([*BASELINES, HYBRID]))
    parser.add_argument(
        "--seeds",
        default="0,1,2",
        help="hybrid training seeds: the first fills the tables, every one is compared",
    )
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    logging.basicConfig(level=logging.WARNING)
    header = f"## Quality, {dt.date.today().isoformat()}, {machine()}\n"
    sys.stdout.write(header + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in sources(args.datasets.split(","), Path(tmp)).items():
            sys.stdout.write(run(name, source, args.models.split(","), seeds) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
