"""What the benchmark scripts share: the machine line, the data sets, a trained hybrid model."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
from pathlib import Path

import pandas as pd
import torch

from musicrec_core import metrics as m
from musicrec_core.data import VALIDATION, PreparedData, fit_preprocessor, training_rows
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig, prepare_echonest
from musicrec_core.models import TrainingData
from musicrec_core.models.hybrid import Hybrid, TrainConfig

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def machine() -> str:
    """A one-line description of where the numbers were measured."""
    device = "CUDA " + torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU only"
    cores = len(os.sched_getaffinity(0))
    return f"{_cpu_name()} ({platform.machine()}), {cores} cores, {device}"


def record_heading() -> str:
    """The Markdown heading of a benchmark's record: today and the machine."""
    return f"### Record of {dt.date.today()}, {machine()}"


def start_record(columns: str) -> None:
    """Print the record's heading and its Markdown table's header (``columns``: "a | b")."""
    print(record_heading())
    print()
    print(f"| {columns} |")
    print("|" + "---|" * (columns.count("|") + 1))


def print_two_over_one(
    first_column: str, one: tuple[str, list[float]], two: tuple[str, list[float]]
) -> None:
    """The Markdown table of two layouts' wall times over interleaved rounds (label, seconds
    per round) and the speed-up of the second over the first, from the medians."""
    (one_label, ones), (two_label, twos) = one, two
    rounds = ", ".join(f"{o / w:.2f}x" for o, w in zip(ones, twos, strict=True))
    median_one, median_two = statistics.median(ones), statistics.median(twos)
    print(f"| {first_column} | wall s (median) | rounds |\n|---|---|---|")
    print(f"| {one_label} | {median_one:.1f} | {_seconds(ones)} |")
    print(f"| {two_label} | {median_two:.1f} | {_seconds(twos)} |")
    print(f"\nspeed-up of 2 processes over 1: {median_one / median_two:.2f}x (per round: {rounds})")


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def ndcg_at_10(summary: pd.DataFrame) -> pd.DataFrame:
    """The NDCG@10 rows of an evaluation summary, the number every benchmark compares by."""
    return summary[(summary[m.METRIC] == m.NDCG) & (summary[m.K] == 10)]


def sources(names: list[str], workdir: Path) -> dict[str, SourceConfig]:
    """Source configs by data-set name: 'demo' (synthetic) and 'echonest' (real plays)."""
    out = {}
    for name in names:
        if name == "demo":
            out[name] = SourceConfig(kind="synthetic", size="demo")
        elif name == "echonest":
            folder = prepare_echonest(
                SHARED / "echonest-taste-profile-subset", workdir / "echonest"
            )
            out[name] = SourceConfig(kind="files", path=str(folder))
        else:
            raise SystemExit(f"unknown data set {name!r}; choose demo or echonest")
    return out


def train_hybrid(data: PreparedData, config: TrainConfig | None = None) -> Hybrid:
    """The hybrid trained as the hybrid_model asset trains it: train split, validation split."""
    split = data.split
    train = training_rows(split)
    preprocessor, _, _ = fit_preprocessor(train, data.users, data.tracks)
    model = Hybrid(
        config or TrainConfig(progress=False),
        preprocessor,
        validation=split[split[s.SPLIT] == VALIDATION],
    )
    return model.fit(TrainingData(train, data.users, data.tracks))
