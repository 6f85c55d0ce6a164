"""An asset's table read back through the warehouse IO manager is the frame that was stored,
with each repeated text one Python string."""

import dagster as dg
import pandas as pd

from musicrec_dagster.warehouse import WarehouseIOManager

STORED = pd.DataFrame(
    {
        "user_id": [f"user-{i % 3}" for i in range(12)],
        "plays": list(range(12)),
        "played_at": pd.date_range("2024-01-01", periods=12, freq="h").astype("datetime64[us]"),
        "genre": ["rock", None] * 6,
    }
)


@dg.asset
def plays() -> pd.DataFrame:
    return STORED


def test_a_read_table_equals_the_stored_frame_with_texts_shared(tmp_path):
    seen = {}

    @dg.asset
    def reader(plays: pd.DataFrame) -> None:
        seen["frame"] = plays

    io = WarehouseIOManager(database=str(tmp_path / "w.duckdb"))
    assert dg.materialize([plays, reader], resources={"io_manager": io}).success
    frame = seen["frame"]
    pd.testing.assert_frame_equal(frame, STORED)
    assert len({id(value) for value in frame["user_id"]}) == 3
