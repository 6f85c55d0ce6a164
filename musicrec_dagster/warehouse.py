"""The pipeline's DuckDB warehouse: one table per asset, replaced whole on every materialisation
(a partitioned asset's table: the run's partitions).

The stock pandas handler skips empty frames (leaving the previous run's rows in place) and
appends into the existing table (failing when columns change); replacing the table avoids both.
Frames are read with one Python string per distinct text (the plays' ids repeat millions of
times).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
from dagster import InputContext, OutputContext
from dagster._core.storage.db_io_manager import TableSlice
from dagster_duckdb import DuckDBIOManager, DuckDBResource
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasTypeHandler

from musicrec_core.data import warehouse as wh


class ReplacingPandasTypeHandler(DuckDBPandasTypeHandler):
    """Stores a frame as a table that replaces the previous one, empty frames included, and
    reads it with its repeated texts shared."""

    def load_input(
        self, context: InputContext, table_slice: TableSlice, connection
    ) -> pd.DataFrame:
        if table_slice.partition_dimensions and not context.asset_partition_keys:
            return pd.DataFrame()
        return wh.shared_text_result(connection, DuckDbClient.get_select_statement(table_slice))

    def handle_output(
        self, context: OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection
    ) -> None:
        name = f"{table_slice.schema}.{table_slice.table}"
        if context.has_asset_partitions:  # one partition or a range of them
            _write_partitions(context, name, obj, connection)
            return
        connection.register("_asset_frame", obj)
        try:
            connection.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _asset_frame")
        finally:
            connection.unregister("_asset_frame")
        context.add_output_metadata({"dagster/row_count": len(obj), "dagster/table_name": name})


def _write_partitions(
    context: OutputContext, name: str, obj: pd.DataFrame, connection: duckdb.DuckDBPyConnection
) -> None:
    """Insert a run's partitions, whose old rows the IO manager has deleted, by column name.

    An empty frame still creates the table; a table whose columns differ from the frame's is
    rebuilt, and partitions outside this run are then materialised again before they are read.
    """
    columns = connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || "
        "table_name = ? ORDER BY ordinal_position",
        [name],
    ).fetchall()
    if columns and [c for (c,) in columns] != list(obj.columns):
        context.log.warning(f"{name} changes columns: rebuilt from this run's partitions")
        connection.execute(f"DROP TABLE {name}")
    connection.register("_asset_frame", obj)
    try:
        connection.execute(f"CREATE TABLE IF NOT EXISTS {name} AS FROM _asset_frame LIMIT 0")
        connection.execute(f"INSERT INTO {name} BY NAME FROM _asset_frame")
    finally:
        connection.unregister("_asset_frame")
    context.add_output_metadata({"dagster/partition_row_count": len(obj)})


class WarehouseIOManager(DuckDBIOManager):
    """DuckDB IO manager for pandas frames that replaces tables instead of appending."""

    @staticmethod
    def type_handlers() -> list:
        return [ReplacingPandasTypeHandler()]

    @staticmethod
    def default_load_type() -> type:
        return pd.DataFrame


def read_warehouse_table(database: Path, table: str, schema: str = "public") -> pd.DataFrame | None:
    """A table of the warehouse, read through a short read-only connection; None if absent.

    Raises ``duckdb.IOException`` while another process holds the warehouse for writing.
    """
    if not database.is_file():
        return None
    with duckdb.connect(str(database), read_only=True) as con:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
            "AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
        if not exists:
            return None
        return con.execute(f'SELECT * FROM "{schema}"."{table}"').df()


@contextmanager
def open_warehouse(resource: DuckDBResource) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection from the warehouse resource, with the data path's session settings."""
    with resource.get_connection() as con:
        yield wh.prepare_session(con)
