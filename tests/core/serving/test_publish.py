import os
import subprocess
import sys

import duckdb
import pandas as pd

from musicrec_core.serving import publish_serving_database, read_only_query


def test_publish_replaces_the_database_atomically_and_open_readers_keep_their_copy(tmp_path):
    path = tmp_path / "serving" / "db.duckdb"
    publish_serving_database(
        path, {"t": pd.DataFrame({"x": [1, 2]})}, {"v": "SELECT x * 10 AS y FROM t"}
    )
    reader = duckdb.connect(str(path), read_only=True)
    publish_serving_database(path, {"t": pd.DataFrame({"x": [7]})})
    assert reader.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    reader.close()
    assert read_only_query(path, "SELECT x FROM t")["x"].tolist() == [7]
    assert [p.name for p in path.parent.iterdir()] == ["db.duckdb"]


def test_another_process_reads_while_this_one_publishes(tmp_path):
    path = tmp_path / "db.duckdb"
    publish_serving_database(path, {"t": pd.DataFrame({"x": range(1000)})})
    code = (
        "import duckdb, sys\n"
        "for _ in range(200):\n"
        "    con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "    assert con.execute('SELECT count(*) FROM t').fetchone()[0] in (1000, 2000)\n"
        "    con.close()\n"
    )
    reader = subprocess.Popen([sys.executable, "-c", code, str(path)], env=os.environ.copy())
    for _ in range(10):
        publish_serving_database(path, {"t": pd.DataFrame({"x": range(2000)})})
    assert reader.wait(timeout=120) == 0
