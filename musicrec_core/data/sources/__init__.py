"""Data sources: the synthetic catalogue (default), a seed-format CSV, or a folder of files."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from musicrec_core.data.schema import RawTables
from musicrec_core.data.sources.echonest import prepare_echonest
from musicrec_core.data.sources.files import load_files
from musicrec_core.data.sources.readers import SourceError, read_table_file
from musicrec_core.data.sources.seed_csv import load_seed_csv
from musicrec_core.data.sources.synthetic import SyntheticConfig, generate

SourceKind = Literal["synthetic", "seed_csv", "files"]
SOURCE_KINDS: tuple[str, ...] = ("synthetic", "seed_csv", "files")


@dataclass(frozen=True)
class SourceConfig:
    """Which source to read and its settings; ``path`` is needed by seed_csv and files."""

    kind: SourceKind = "synthetic"
    path: str | None = None
    size: str = "demo"
    scale_plays: int | None = None
    seed: int = 42
    dirty_rate: float = 0.01

    def describe(self) -> str:
        """A one-line human description, for logs and metadata."""
        if self.kind == "synthetic":
            size = f"{self.scale_plays:,} plays" if self.scale_plays else self.size
            return f"synthetic ({size}, seed {self.seed}, dirty rate {self.dirty_rate:g})"
        return f"{self.kind} ({self.path})"


def synthetic_config(config: SourceConfig) -> SyntheticConfig:
    """The generator settings of a synthetic source: its size or scale, seed and dirt."""
    if config.scale_plays:
        synth = SyntheticConfig.scaled(config.scale_plays, seed=config.seed)
    else:
        synth = SyntheticConfig.preset(config.size)
    return replace(synth, seed=config.seed, dirty_rate=config.dirty_rate)


def load_source(config: SourceConfig) -> RawTables:
    """Read the configured source into raw tables."""
    if config.kind == "synthetic":
        return generate(synthetic_config(config)).raw
    if config.path is None:
        raise SourceError(f"the {config.kind} source needs a path")
    path = Path(config.path).expanduser()
    if config.kind == "seed_csv":
        return load_seed_csv(path)
    if config.kind == "files":
        return load_files(path)
    raise SourceError(f"unknown source kind {config.kind!r}; choose one of {SOURCE_KINDS}")


__all__ = [
    "SOURCE_KINDS",
    "SourceConfig",
    "SourceError",
    "load_source",
    "prepare_echonest",
    "read_table_file",
    "synthetic_config",
]
