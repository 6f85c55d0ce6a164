"""The DuckDB warehouse of the data path: its tables, connections, and what each stage has done.

Raw, validated and feature tables live in one DuckDB file and are written with SQL, so millions
of rows never pass through pandas. Each stage records in ``pipeline_state`` which generation of
its input it was built from and the last delivery it took in: a stage whose input was rebuilt
rebuilds, and otherwise takes in only the deliveries it has not seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from musicrec_core.data import schema as s

SCHEMA = "public"
RAW = s.RAW_TABLES
VALIDATED = s.VALIDATED_TABLES
QUARANTINE = s.QUARANTINE_TABLE_NAME
REGISTRY = s.REGISTRY_TABLE
INTERACTIONS = s.INTERACTIONS_TABLE
USER_FEATURES = s.USER_FEATURES_TABLE
TRACK_FEATURES = s.TRACK_FEATURES_TABLE
SPLITS = s.SPLITS_TABLE
STATE = "pipeline_state"

# DuckDB spills to disk beyond this, so the data path's memory stays bounded at any size.
DEFAULT_MEMORY_LIMIT = "2GB"


def connection_config(memory_limit: str | None = DEFAULT_MEMORY_LIMIT) -> dict[str, object]:
    """DuckDB settings for every connection to the warehouse (all must open it alike)."""
    config: dict[str, object] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    return config


def connect(
    database: Path | str = ":memory:", memory_limit: str | None = DEFAULT_MEMORY_LIMIT
) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse file (or an in-memory one) with the platform's settings."""
    if str(database) != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    return prepare_session(duckdb.connect(str(database), config=connection_config(memory_limit)))


def prepare_session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Settings of this session: tables in the ``public`` schema (where Dagster's DuckDB IO
    manager looks), and no progress bar on the terminal."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    con.execute(f"SET schema = '{SCHEMA}'")
    con.execute("SET enable_progress_bar = false")
    return con


def quoted(name: str) -> str:
    """An identifier quoted for SQL."""
    return '"' + name.replace('"', '""') + '"'


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """True when the warehouse has a table (or view) of that name in its main schema."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
        "AND table_schema = current_schema()",
        [name],
    ).fetchone()
    return bool(found and found[0])


def row_count(con: duckdb.DuckDBPyConnection, name: str, where: str = "", params=()) -> int:
    """Rows of a table, optionally filtered by a SQL condition."""
    clause = f" WHERE {where}" if where else ""
    return int(
        con.execute(f"SELECT count(*) FROM {quoted(name)}{clause}", list(params)).fetchone()[0]
    )


def create_raw_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """An empty raw table: every field as text, provenance, the read error and the delivery."""
    columns = ", ".join(
        f"{quoted(c)} {'BIGINT' if c == s.SOURCE_ROW else 'VARCHAR'}" for c in s.RAW_COLUMNS[table]
    )
    con.execute(f"CREATE OR REPLACE TABLE {quoted(RAW[table])} ({columns}, {s.DELIVERY} INTEGER)")


def append_raw(
    con: duckdb.DuckDBPyConnection, table: str, batches: Iterable[pa.RecordBatch], delivery: int
) -> int:
    """Append raw batches of ``table`` under a delivery number; returns the rows appended."""
    rows = 0
    target = quoted(RAW[table])
    for batch in batches:
        con.register("_raw_batch", batch)
        try:
            con.execute(f"INSERT INTO {target} SELECT *, {int(delivery)} FROM _raw_batch")
        finally:
            con.unregister("_raw_batch")
        rows += batch.num_rows
    return rows


def frame(con: duckdb.DuckDBPyConnection, sql: str, params=()) -> pd.DataFrame:
    """A query's result as a pandas frame, with timestamps in nanoseconds as pandas expects."""
    return _nanoseconds(con.execute(sql, list(params)).df())


def compact_frame(con: duckdb.DuckDBPyConnection, sql: str, params=()) -> pd.DataFrame:
    """:func:`frame` for a query of many rows over few distinct texts, such as plays' user and
    track ids and split labels: the same frame, in which each distinct text is one Python
    string however many rows hold it (at 10 M plays about 1.4 GB less than one per row)."""
    return _nanoseconds(shared_text_result(con, sql, params))


def shared_text_result(con: duckdb.DuckDBPyConnection, sql: str, params=()) -> pd.DataFrame:
    """The query's result as DuckDB's ``df()`` gives it, but with each text column built from
    Arrow's dictionary of its values, so that equal texts are the one string object. A result
    the connection's last ``execute()`` left unread is run to its end first, as ``execute()``
    itself would let it go, since DuckDB's relation API refuses to start beside one."""
    con.complete()
    table = con.sql(sql, params=list(params)).to_arrow_table()
    texts = [i for i, field in enumerate(table.schema) if pa.types.is_string(field.type)]
    others = [i for i in range(table.num_columns) if i not in texts]
    if others:
        out = con.from_arrow(table.select(others)).df()
    else:
        out = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    for i in texts:
        out.insert(i, table.column_names[i], _shared_texts(table.column(i)), allow_duplicates=True)
    return out


def _shared_texts(column: pa.ChunkedArray) -> np.ndarray:
    """A text column as an object array in which equal values are the one string object."""
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    encoded = pa.table({"texts": encoded}).unify_dictionaries().column(0)
    if not encoded.num_chunks:
        return np.empty(0, dtype=object)
    distinct = encoded.chunk(0).dictionary.to_numpy(zero_copy_only=False)
    return distinct[np.concatenate([chunk.indices.to_numpy() for chunk in encoded.chunks])]


def _nanoseconds(out: pd.DataFrame) -> pd.DataFrame:
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].astype("datetime64[ns]")
    return out


def table_frame(con: duckdb.DuckDBPyConnection, name: str, order_by: str = "") -> pd.DataFrame:
    """A whole table as a pandas frame, each distinct text one string (:func:`compact_frame`)."""
    order = f" ORDER BY {order_by}" if order_by else ""
    return compact_frame(con, f"SELECT * FROM {quoted(name)}{order}")


def hash_probe(con: duckdb.DuckDBPyConnection) -> str:
    """What DuckDB's ``hash`` gives for fixed values. Stored key hashes are only valid while
    this is unchanged (a DuckDB upgrade may change the function), so stages that store them
    rebuild when it changes."""
    return str(con.execute("SELECT hash('musicrec', 1, TIMESTAMP '2000-01-01')").fetchone()[0])


@dataclass(frozen=True)
class StageState:
    """What a stage's tables were built from: its input's generation and the last delivery."""

    generation: int
    delivery: int
    fingerprint: str = ""


def read_state(con: duckdb.DuckDBPyConnection, stage: str) -> StageState | None:
    """A stage's recorded state, or None before its first build."""
    if not table_exists(con, STATE):
        return None
    row = con.execute(
        f"SELECT generation, delivery, fingerprint FROM {STATE} WHERE stage = ?", [stage]
    ).fetchone()
    return StageState(int(row[0]), int(row[1]), row[2]) if row else None


def write_state(con: duckdb.DuckDBPyConnection, stage: str, state: StageState) -> None:
    """Record a stage's state (inside the caller's transaction, with the tables it describes)."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE} "
        "(stage VARCHAR PRIMARY KEY, generation INTEGER, delivery INTEGER, fingerprint VARCHAR)"
    )
    con.execute(
        f"INSERT OR REPLACE INTO {STATE} VALUES (?, ?, ?, ?)",
        [stage, state.generation, state.delivery, state.fingerprint],
    )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN ... COMMIT around a block, rolled back when the block raises."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def sample_frame(
    con: duckdb.DuckDBPyConnection, name: str, rows: int, where: str = "true", seed: int = 42
) -> tuple[pd.DataFrame, bool]:
    """The table's rows matching ``where`` as a frame when there are at most ``rows`` of them,
    else a reproducible random sample of that many; and whether it is a sample."""
    selected = f"SELECT * FROM {quoted(name)} WHERE {where}"
    if row_count(con, name, where) <= rows:
        return frame(con, f"{selected} ORDER BY rowid"), False
    sample = f"USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE ({int(seed)})"
    return frame(con, f"SELECT * FROM ({selected}) {sample}"), True
