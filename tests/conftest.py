"""Shared test helpers: where the real datasets live, and tiny raw tables built in code."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from musicrec_core.data import schema as s

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (PROJECT_ROOT / ".." / "shared" / "data").resolve()

requires_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"the real datasets folder {SHARED_DATA} (../shared/data beside the checkout) is absent",
)


def raw_frame(table: str, rows: list[dict], source: str = "test.csv") -> pd.DataFrame:
    """A raw frame (text values, provenance) from a few dicts; absent columns are None."""
    frame = pd.DataFrame(
        {
            col: [None if r.get(col) is None else str(r[col]) for r in rows]
            for col in s.TABLE_COLUMNS[table]
        }
    )
    frame = frame.astype(object).where(frame.notna(), None)
    frame[s.SOURCE_FILE] = source
    frame[s.SOURCE_ROW] = pd.Series(range(1, len(rows) + 1), dtype="int64")
    return frame


PUBLISHED_PLAYS = 40_000
PUBLISHED_NEW_TRACKS = 20  # delivered unplayed through the landing folder


@pytest.fixture(scope="session")
def published_data_dir(tmp_path_factory) -> Path:
    """A data folder with a small synthetic catalogue materialised end to end (warehouse,
    artifacts, the published serving database), shared by the tests that ask it questions.

    40,000 plays (500 listeners, 1,250 tracks): the smallest size at which a listener's few
    plays carry enough co-listening evidence to place them by taste (the tiny preset's
    3,000 plays do not). The trained hybrid is pinned to serve, so the questions exercise
    the model that places new listeners by demographics and plays. A delivery of new tracks
    waits in the landing folder, so the catalogue holds tracks nobody has played.
    """
    from musicrec_core.data import tracks_delivery
    from musicrec_core.serving import LANDING_DIR
    from tests.dagster.conftest import load_defs, run_all

    data_dir = tmp_path_factory.mktemp("published") / "data"
    tracks_delivery(PUBLISHED_NEW_TRACKS, seed=0).write(data_dir / LANDING_DIR)
    with pytest.MonkeyPatch.context() as patch:
        defs = load_defs(data_dir, patch, MUSICREC_SCALE_PLAYS=str(PUBLISHED_PLAYS))
        run_all(defs, ops={"serving_policy": {"model": "hybrid"}})
    return data_dir
