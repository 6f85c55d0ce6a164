"""The warehouse IO manager writes a partitioned asset partition by partition: a run of one
partition or a range of them replaces those partitions' rows only, an empty partition still
creates the table, and a change of columns rebuilds the table instead of failing."""

import dagster as dg
import duckdb
import pandas as pd

from musicrec_dagster.runs import RANGE_END_TAG, RANGE_START_TAG
from musicrec_dagster.warehouse import WarehouseIOManager

PARTS = dg.StaticPartitionsDefinition(["0", "1", "2"])


def _asset(columns: dict[str, list]):
    @dg.asset(name="sharded", partitions_def=PARTS, metadata={"partition_expr": "part"})
    def sharded(context: dg.AssetExecutionContext) -> pd.DataFrame:
        keys = [int(k) for k in context.partition_keys]
        frame = pd.DataFrame(columns)
        return frame[frame["part"].isin(keys)]

    return sharded


def _materialize(tmp_path, asset, partition: str) -> None:
    io = WarehouseIOManager(database=str(tmp_path / "w.duckdb"))
    assert dg.materialize([asset], partition_key=partition, resources={"io_manager": io}).success


def _table(tmp_path) -> pd.DataFrame:
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return con.execute("SELECT * FROM public.sharded ORDER BY part, v").df()


def test_partitions_replace_their_own_rows(tmp_path):
    first = _asset({"part": [0, 1, 1], "v": [1.0, 2.0, 3.0]})
    _materialize(tmp_path, first, "2")  # no rows: the table exists, empty
    assert _table(tmp_path).empty
    _materialize(tmp_path, first, "0")
    _materialize(tmp_path, first, "1")
    assert _table(tmp_path)["v"].tolist() == [1.0, 2.0, 3.0]
    second = _asset({"part": [0, 1], "v": [9.0, 8.0]})
    _materialize(tmp_path, second, "1")
    assert _table(tmp_path)["v"].tolist() == [1.0, 8.0]


def test_new_columns_rebuild_the_table(tmp_path):
    _materialize(tmp_path, _asset({"part": [0, 1], "v": [1.0, 2.0]}), "0")
    _materialize(tmp_path, _asset({"part": [0, 1], "v": [1.0, 2.0], "w": ["a", "b"]}), "1")
    table = _table(tmp_path)
    assert list(table.columns) == ["part", "v", "w"]
    assert table["part"].tolist() == [1]


def test_a_range_of_partitions_keeps_the_others(tmp_path):
    asset = _asset({"part": [0, 1, 2], "v": [1.0, 2.0, 3.0]})
    _materialize(tmp_path, asset, "0")
    io = WarehouseIOManager(database=str(tmp_path / "w.duckdb"))
    job = dg.Definitions(
        assets=[asset],
        jobs=[dg.define_asset_job("both", selection=[asset])],
        resources={"io_manager": io},
    ).resolve_job_def("both")
    tags = {RANGE_START_TAG: "1", RANGE_END_TAG: "2"}
    assert job.execute_in_process(tags=tags).success
    assert _table(tmp_path)["part"].tolist() == [0, 1, 2]
