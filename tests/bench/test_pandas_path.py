"""The warehouse data path gives the tables the pandas path it replaced gave (kept in
bench/pandas_path.py as the benchmarks' baseline): the same validated rows, quarantine records,
interactions, feature tables and split."""

import sys
from pathlib import Path

import pandas as pd
import pytest

from musicrec_core.data import SplitConfig, prepare, validate_catalogue
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig, load_source, prepare_echonest
from tests.conftest import PROJECT_ROOT, SHARED_DATA, requires_shared_data

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import pandas_path

OLD_TIMESTAMP_REASON = "(ISO 8601 expected)"
NEW_TIMESTAMP_REASON = "(ISO 8601 or epoch seconds or milliseconds expected)"


def _same(
    new: pd.DataFrame, old: pd.DataFrame, name: str, drop=(s.DELIVERY, s.PLAY_KEY, s.PAIR_KEY)
) -> None:
    new = new.drop(columns=[c for c in drop if c in new.columns])
    pd.testing.assert_frame_equal(
        new.reset_index(drop=True), old.reset_index(drop=True), check_dtype=False, obj=name
    )


def _quarantine(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [s.QUARANTINE_TABLE, s.SOURCE_ROW, s.QUARANTINE_COLUMN, s.QUARANTINE_ACTION]
    out = frame.drop(columns=[s.DELIVERY], errors="ignore")
    out[s.QUARANTINE_REASON] = out[s.QUARANTINE_REASON].str.replace(
        OLD_TIMESTAMP_REASON, NEW_TIMESTAMP_REASON, regex=False
    )
    return out.sort_values(keys).reset_index(drop=True)


def _compare(source: SourceConfig) -> None:
    raw = load_source(source)
    old = pandas_path.validate_catalogue(raw)
    new = validate_catalogue(raw)
    for table in s.TABLES:
        _same(getattr(new, table), getattr(old, table), table)
    pd.testing.assert_frame_equal(_quarantine(new.quarantine), _quarantine(old.quarantine))

    interactions = pandas_path.build_interactions(old.plays)
    prepared = prepare(source, SplitConfig())
    _same(prepared.interactions, interactions, "interactions")
    _same(prepared.users, pandas_path.user_features(old.users, interactions), "user_features")
    _same(prepared.tracks, pandas_path.track_features(old.tracks, interactions), "track_features")
    expected_split = pandas_path.split_interactions(interactions, SplitConfig())
    _same(prepared.split, expected_split, "split")


@pytest.mark.parametrize("dirty_rate", [0.01, 0.2])
def test_the_synthetic_catalogue_gives_the_same_tables(dirty_rate):
    _compare(SourceConfig(size="tiny", dirty_rate=dirty_rate))


def test_a_plays_only_folder_gives_the_same_derived_tables(tmp_path):
    (tmp_path / "plays.csv").write_text(
        "user_id,track_id,plays,played_at\nb,t2,2,\na,t1,3,2024-01-02\na,t1,1,2024-01-01\n"
        "c,t3,x,\nb,t2,2,\n"
    )
    _compare(SourceConfig(kind="files", path=str(tmp_path)))


@requires_shared_data
@pytest.mark.shared_data
def test_echo_nest_and_the_seed_dataset_give_the_same_tables(tmp_path):
    echonest = prepare_echonest(SHARED_DATA / "echonest-taste-profile-subset", tmp_path / "echo")
    _compare(SourceConfig(kind="files", path=str(echonest)))
    seed = SHARED_DATA / "seed-dataset" / "cleaned_modv2.csv"
    _compare(SourceConfig(kind="seed_csv", path=str(Path(seed))))
