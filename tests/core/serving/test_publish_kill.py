"""A process killed in the middle of publishing leaves the previous serving database intact and
queryable, and the next publish clears what the killed one left behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from musicrec_core.serving import publish_serving_database, read_only_query

# Publishes several million rows, far more than the old database, to the path in argv[1]. Its
# fsync never returns, so however fast the machine the rename can only come after the kill.
_BIG_PUBLISH = """
import sys, threading
from pathlib import Path
import numpy as np, pandas as pd
from musicrec_core.serving import publish as serving
serving._fsync = lambda path: threading.Event().wait()
frame = pd.DataFrame({"x": np.arange(5_000_000, dtype=np.int64), "label": "new"})
serving.publish_serving_database(Path(sys.argv[1]), {"t": frame})
"""
_MID_WRITE_BYTES = 1 << 20
_START_TIMEOUT_S = 60


def _temporaries(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.*.tmp*"))


def _kill_mid_publish(path: Path) -> None:
    """Start the big publish and SIGKILL it once its temporary file is being written."""
    child = subprocess.Popen(
        [sys.executable, "-c", _BIG_PUBLISH, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not any(
            tmp.suffix == ".tmp" and tmp.stat().st_size >= _MID_WRITE_BYTES
            for tmp in _temporaries(path)
            if tmp.exists()
        ):
            if child.poll() is not None:
                _, err = child.communicate()
                raise AssertionError(f"the publish ended before it was killed: {err.decode()}")
            assert time.monotonic() < deadline, "the publish never started writing"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL


def test_a_publish_killed_midway_leaves_the_previous_database_served(tmp_path):
    path = tmp_path / "serving" / "db.duckdb"
    publish_serving_database(
        path,
        {"t": pd.DataFrame({"x": [1, 2, 3], "label": "old"})},
        {"v": "SELECT sum(x) AS s FROM t"},
    )

    _kill_mid_publish(path)

    assert _temporaries(path), "the killed publish should have left its temporary file"
    served = read_only_query(path, "SELECT x, label FROM t ORDER BY x")
    assert served.to_dict("list") == {"x": [1, 2, 3], "label": ["old"] * 3}
    assert read_only_query(path, "SELECT s FROM v")["s"].tolist() == [6]

    publish_serving_database(path, {"t": pd.DataFrame({"x": [7], "label": "fixed"})})
    assert read_only_query(path, "SELECT x, label FROM t").to_dict("list") == {
        "x": [7],
        "label": ["fixed"],
    }
    assert [p.name for p in path.parent.iterdir()] == ["db.duckdb"]


def test_a_publish_leaves_the_temporary_files_of_a_running_publish_alone(tmp_path):
    path = tmp_path / "db.duckdb"
    running = tmp_path / f".db.duckdb.{os.getpid()}.{'a' * 32}.tmp"
    running.write_bytes(b"being written")
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    assert exited.wait(timeout=30) == 0
    dead = tmp_path / f".db.duckdb.{exited.pid}.{'b' * 32}.tmp"
    dead.write_bytes(b"left by a killed publish")
    dead_wal = dead.with_name(dead.name + ".wal")
    dead_wal.write_bytes(b"")
    unrelated = tmp_path / ".other.duckdb.1.tmp"
    unrelated.write_bytes(b"")

    publish_serving_database(path, {"t": pd.DataFrame({"x": [1]})})

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["db.duckdb", running.name, unrelated.name]
    )
