"""Recommendation quality of every model on the demo catalogue and on real Echo Nest plays.

Prints, per data set, the comparison table at k = 5, 10 and 20 with every metric, each model's
NDCG@10 as a ratio to popularity measured in the same run, the hybrid's paired NDCG@10
difference to every other model, and cold-start users given a few plays, with the date and
the machine, ready for docs/benchmarks.md. The hybrid is trained as the hybrid_model asset
trains it. Usage: .venv/bin/python bench/quality.py
[--datasets demo,echonest] [--models popularity,ease,hybrid]
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

from common import machine, sources, train_hybrid

from musicrec_core import metrics as m
from musicrec_core.comparison import evaluate_models
from musicrec_core.evaluation import TEST_SET, comparison_table, paired_differences, to_markdown
from musicrec_core.pipeline import fit_preprocessor, prepare
from musicrec_core.registry import BASELINES
from musicrec_core.sources import SourceConfig

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


def run(name: str, source: SourceConfig, models: list[str]) -> str:
    started = time.perf_counter()
    data = prepare(source)
    preprocessor, _, _ = fit_preprocessor(data.split, data.users, data.tracks)
    fitted = {HYBRID: train_hybrid(data)} if HYBRID in models else {}
    evaluate = partial(
        evaluate_models,
        data.split,
        data.users,
        data.tracks,
        models,
        preprocessor=preprocessor,
        ks=KS,
        fitted=fitted,
    )
    comparison = evaluate()
    summary = comparison.result.summary
    ndcg = summary[(summary["metric"] == "ndcg") & (summary["k"] == 10)]
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
    given = evaluate(cold_user_given=GIVEN, test_sets=["cold_user"])
    lines += [
        "",
        f"Cold-start users given their first {GIVEN} plays at recommendation time (k = 10):",
        "",
        to_markdown(comparison_table(given.result.summary, k=10)),
    ]
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
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    header = f"## Quality, {dt.date.today().isoformat()}, {machine()}\n"
    sys.stdout.write(header + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in sources(args.datasets.split(","), Path(tmp)).items():
            sys.stdout.write(run(name, source, args.models.split(",")) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
