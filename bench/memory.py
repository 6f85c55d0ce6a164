"""The process's peak resident memory, resettable between stages (Linux), and a stage run in a
process of its own so that its peak is its own, for the benchmarks."""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

logger = logging.getLogger("bench.memory")


def reset_peak() -> None:
    """Reset the process's resident-memory high-water mark."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    """The process's resident-memory high-water mark in MB."""
    peak = _status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if peak is None else peak


def resident_mb() -> float:
    """The process's resident memory now, in MB (Linux)."""
    resident = _status_mb("VmRSS")
    if resident is None:
        raise RuntimeError("no VmRSS in /proc/self/status")
    return resident


def _status_mb(field: str) -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return None


def run_stage(script: str, stage: str, plays: int, out: Path, **options: object) -> dict:
    """Run ``script --child STAGE --plays N --out OUT --OPTION VALUE ...`` in a new process and
    return the JSON it wrote to ``out``; options are named as keywords (``epochs=2``)."""
    command = [sys.executable, script, "--child", stage, "--plays", str(plays), "--out", str(out)]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    logger.info("%s at %d plays: %.0f s", stage, plays, time.perf_counter() - started)
    return json.loads(out.read_text())


def sized_parser(description: str, sizes: str) -> argparse.ArgumentParser:
    """The options of a benchmark run size by size: ``--sizes`` (plays, comma-separated),
    ``--workdir`` (where bench/scale_model.py keeps each size's warehouse) and the hidden
    options ``run_stage`` gives a stage's process."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", default=sizes)
    parser.add_argument("--workdir", default="/tmp/musicrec-scale-model")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--plays", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser
