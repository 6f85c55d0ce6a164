"""Data sources: the synthetic catalogue (default), a seed-format CSV, or a folder of files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import pyarrow as pa

from musicrec_core.data.schema import TABLES, RawTables
from musicrec_core.data.sources.echonest import prepare_echonest
from musicrec_core.data.sources.files import load_files, open_tables
from musicrec_core.data.sources.raw_batches import (
    BATCH_ROWS,
    NA_STRINGS,
    SourceError,
    canonical_column,
    frame_batches,
)
from musicrec_core.data.sources.readers import TableFile, read_table_file
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
    path = _path(config)
    if config.kind == "seed_csv":
        return load_seed_csv(path)
    if config.kind == "files":
        return load_files(path)
    raise SourceError(f"unknown source kind {config.kind!r}; choose one of {SOURCE_KINDS}")


def source_batches(config: SourceConfig) -> Iterator[tuple[str, Iterator[pa.RecordBatch]]]:
    """(table, raw batches) of every part of the configured source, files read as streams.

    Every file is opened and checked before the first batch is read, so a source that cannot
    be read fails before anything is written."""
    if config.kind == "files":
        for table, files in open_tables(_path(config)).items():
            for file in files:
                yield table, file.batches()
        return
    raw = load_source(config)
    for table in TABLES:
        yield table, frame_batches(getattr(raw, table), table)


def source_fingerprint(config: SourceConfig) -> str:
    """A digest of the source's settings and, for file sources, each file's name, size and
    modification time: it changes when the source does."""
    parts: list[object] = [asdict(config)]
    if config.kind != "synthetic":
        path = _path(config)
        files = (
            [f.path for fs in open_tables(path).values() for f in fs]
            if config.kind == "files"
            else [path]
        )
        parts += [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _path(config: SourceConfig) -> Path:
    if config.path is None:
        raise SourceError(f"the {config.kind} source needs a path")
    return Path(config.path).expanduser()


__all__ = [
    "BATCH_ROWS",
    "NA_STRINGS",
    "SOURCE_KINDS",
    "SourceConfig",
    "SourceError",
    "TableFile",
    "canonical_column",
    "frame_batches",
    "load_source",
    "prepare_echonest",
    "read_table_file",
    "source_batches",
    "source_fingerprint",
    "synthetic_config",
]
