"""The process's peak resident memory, resettable between stages (Linux), for the benchmarks."""

from __future__ import annotations

import resource
from pathlib import Path


def reset_peak() -> None:
    """Reset the process's resident-memory high-water mark."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    """The process's resident-memory high-water mark in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
