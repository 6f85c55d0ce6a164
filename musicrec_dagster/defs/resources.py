"""Resources shared by every asset: where data lives, which source to read, the warehouse.

Defaults come from environment variables so one setting switches a whole deployment; every
value can also be changed per run in the launchpad.
"""

import os
from dataclasses import asdict, fields
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from musicrec_core.data import RawTables, warehouse
from musicrec_core.data.sources import SourceConfig, load_source
from musicrec_core.serving import ARTIFACTS_DIR, LANDING_DIR, SERVING_FILE, ArtifactStore
from musicrec_dagster.executors import executor_from_env
from musicrec_dagster.warehouse import WarehouseIOManager

WAREHOUSE_FILE = Path("warehouse") / "musicrec.duckdb"


class PlatformPaths(dg.ConfigurableResource):
    """The data folder and the well-known places inside it."""

    data_dir: str

    @property
    def root(self) -> Path:
        return Path(self.data_dir)

    @property
    def serving_database(self) -> Path:
        return self.root / SERVING_FILE

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def landing(self) -> Path:
        return self.root / LANDING_DIR

    @property
    def archive(self) -> Path:
        """Content-addressed copies of every landed file that was registered."""
        return self.root / "archive" / "landing"

    @property
    def warehouse(self) -> Path:
        return self.root / WAREHOUSE_FILE

    @property
    def steps(self) -> Path:
        """Files that steps of a run hand to one another (``<run id>/...``), readable from any
        process, pod or worker that mounts the data folder."""
        return self.root / "steps"

    def artifacts(self) -> ArtifactStore:
        return ArtifactStore(self.root / ARTIFACTS_DIR)


class DataSource(dg.ConfigurableResource):
    """Which input to read: the synthetic catalogue, a seed-format CSV, or a folder of files."""

    kind: str = "synthetic"
    path: str | None = None
    size: str = "demo"
    scale_plays: int | None = None
    seed: int = 42
    dirty_rate: float = 0.01

    def config(self) -> SourceConfig:
        return SourceConfig(**{f.name: getattr(self, f.name) for f in fields(SourceConfig)})

    def load(self) -> RawTables:
        return load_source(self.config())


def source_from_env() -> SourceConfig:
    """The source that MUSICREC_* environment variables describe (synthetic demo by default)."""
    scale = os.environ.get("MUSICREC_SCALE_PLAYS")
    return SourceConfig(
        kind=os.environ.get("MUSICREC_SOURCE", "synthetic"),  # type: ignore[arg-type]
        path=os.environ.get("MUSICREC_SOURCE_PATH") or None,
        size=os.environ.get("MUSICREC_SYNTHETIC_SIZE", "demo"),
        scale_plays=int(scale) if scale else None,
        seed=int(os.environ.get("MUSICREC_SEED", "42")),
        dirty_rate=float(os.environ.get("MUSICREC_DIRTY_RATE", "0.01")),
    )


MEMORY_LIMIT_ENV = "MUSICREC_DUCKDB_MEMORY"


def warehouse_config() -> dict[str, object]:
    """DuckDB settings of every warehouse connection: MUSICREC_DUCKDB_MEMORY caps its memory
    (DuckDB spills to disk beyond it)."""
    return warehouse.connection_config(
        os.environ.get(MEMORY_LIMIT_ENV, warehouse.DEFAULT_MEMORY_LIMIT)
    )


def data_dir_from_env() -> Path:
    """MUSICREC_DATA_DIR, or ./data, as an absolute path."""
    return Path(os.environ.get("MUSICREC_DATA_DIR", "data")).resolve()


def build_resources(data_dir: Path, source: SourceConfig) -> dict[str, object]:
    """Every resource the definitions need, rooted at one data folder."""
    (data_dir / WAREHOUSE_FILE).parent.mkdir(parents=True, exist_ok=True)
    database = str(data_dir / WAREHOUSE_FILE)
    paths = PlatformPaths(data_dir=str(data_dir))
    return {
        "io_manager": WarehouseIOManager(database=database, connection_config=warehouse_config()),
        "warehouse": DuckDBResource(database=database, connection_config=warehouse_config()),
        "paths": paths,
        "step_io_manager": dg.FilesystemIOManager(base_dir=str(paths.steps)),
        "source": DataSource(**asdict(source)),
    }


@dg.definitions
def resources() -> dg.Definitions:
    """Resources, and the executor: in-process (one process per run, torch imported once)
    unless MUSICREC_EXECUTOR names another."""
    return dg.Definitions(
        resources=build_resources(data_dir_from_env(), source_from_env()),
        executor=executor_from_env(),
    )
