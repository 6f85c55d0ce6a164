"""Recommendation quality of every model on the demo catalogue and on real Echo Nest plays.

Prints, per data set, the comparison table at k = 10 and each model's NDCG@10 as a ratio to
popularity measured in the same run, with the date and the machine, ready for
docs/benchmarks.md. Usage: .venv/bin/python bench/quality.py [--datasets demo,echonest]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from musicrec_core import metrics as m
from musicrec_core.comparison import evaluate_models
from musicrec_core.evaluation import TEST_SET, comparison_table, to_markdown
from musicrec_core.pipeline import fit_preprocessor, prepare
from musicrec_core.registry import BASELINES
from musicrec_core.sources import SourceConfig
from musicrec_core.sources.echonest import prepare_echonest

KS = (5, 10, 20)
GIVEN = 3
ALL_METRICS = (*m.PER_USER_METRICS, m.COVERAGE)
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
logger = logging.getLogger("bench.quality")


def _sources(names: list[str], workdir: Path) -> dict[str, SourceConfig]:
    sources = {}
    for name in names:
        if name == "demo":
            sources[name] = SourceConfig(kind="synthetic", size="demo")
        elif name == "echonest":
            folder = prepare_echonest(
                SHARED / "echonest-taste-profile-subset", workdir / "echonest"
            )
            sources[name] = SourceConfig(kind="files", path=str(folder))
        else:
            raise SystemExit(f"unknown data set {name!r}; choose demo or echonest")
    return sources


def machine() -> str:
    """A one-line description of where the numbers were measured."""
    device = "CUDA " + torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU only"
    cores = len(os.sched_getaffinity(0))
    return f"{_cpu_name()} ({platform.machine()}), {cores} cores, {device}"


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def run(name: str, source: SourceConfig, models: list[str]) -> str:
    started = time.perf_counter()
    data = prepare(source)
    preprocessor, _, _ = fit_preprocessor(data.split, data.users, data.tracks)
    comparison = evaluate_models(
        data.split, data.users, data.tracks, models, preprocessor=preprocessor, ks=KS
    )
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
    given = evaluate_models(
        data.split,
        data.users,
        data.tracks,
        models,
        preprocessor=preprocessor,
        ks=KS,
        cold_user_given=GIVEN,
        test_sets=["cold_user"],
    )
    lines += [
        "",
        f"Cold-start users given their first {GIVEN} plays at recommendation time (k = 10):",
        "",
        to_markdown(comparison_table(given.result.summary, k=10)),
    ]
    fits = ", ".join(f"{k} {v:.1f} s" for k, v in comparison.fit_seconds.items())
    lines += ["", f"Fit times: {fits}. Whole run {time.perf_counter() - started:.0f} s.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", default="demo,echonest")
    parser.add_argument("--models", default=",".join(BASELINES))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    header = f"## Quality, {dt.date.today().isoformat()}, {machine()}\n"
    sys.stdout.write(header + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in _sources(args.datasets.split(","), Path(tmp)).items():
            sys.stdout.write(run(name, source, args.models.split(",")) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
