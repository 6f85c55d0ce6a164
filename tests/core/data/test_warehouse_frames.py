"""Reading warehouse queries into pandas: compact_frame is frame with each text held once."""

import duckdb
import pandas as pd
import pytest

from musicrec_core.data import warehouse as wh


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE mixed AS SELECT * FROM (VALUES "
        "('u1', 1, 1.5, true, TIMESTAMP '2024-01-01 10:00:00', DATE '2024-01-02', 3::BIGINT, 'a'),"
        "(NULL, NULL, NULL, NULL, NULL, NULL, 4::BIGINT, 'a'),"
        "('u1', 3, 2.5, false, TIMESTAMP '2024-01-03 10:00:00', DATE '2024-01-04', 5::BIGINT, NULL)"
        ") v(user_id, small, price, flag, played_at, day, plays, label)"
    )
    yield con
    con.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM mixed",
        "SELECT * FROM mixed WHERE plays > 10",
        "SELECT user_id, label FROM mixed",
        "SELECT plays, user_id, small::BIGINT AS small, [1, 2] AS pair, 1.5::DECIMAL(9, 2) AS d "
        "FROM mixed",
    ],
)
def test_compact_frame_equals_frame(con, sql):
    pd.testing.assert_frame_equal(wh.compact_frame(con, sql), wh.frame(con, sql))


def test_compact_frame_takes_parameters(con):
    sql = "SELECT user_id, plays FROM mixed WHERE plays >= ?"
    pd.testing.assert_frame_equal(wh.compact_frame(con, sql, [4]), wh.frame(con, sql, [4]))


def test_equal_texts_are_one_string_across_arrow_batches(con):
    sql = "SELECT 'user-' || (i % 7) AS user_id, i AS plays FROM range(300000) r(i)"
    assert con.sql(sql).to_arrow_table().column(0).num_chunks > 1
    frame = wh.compact_frame(con, sql)
    pd.testing.assert_frame_equal(frame, wh.frame(con, sql))
    assert len({id(value) for value in frame["user_id"]}) == 7


def test_compact_frame_follows_a_result_left_unread(con):
    assert con.execute("SELECT count(*) FROM mixed").fetchone() == (3,)
    pd.testing.assert_frame_equal(
        wh.compact_frame(con, "SELECT * FROM mixed"), wh.frame(con, "SELECT * FROM mixed")
    )
