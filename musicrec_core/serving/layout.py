"""Where the published pieces live inside a data folder, for the pipeline and every reader."""

from __future__ import annotations

from pathlib import Path

SERVING_FILE = Path("serving") / "musicrec.duckdb"
ARTIFACTS_DIR = Path("artifacts")
LANDING_DIR = Path("landing")
