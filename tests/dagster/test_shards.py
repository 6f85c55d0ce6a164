"""Recommendations are partitioned by user shard: a run of the serve job writes every shard,
a run of one shard replaces only that shard's rows, and the serving database reads them all."""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd
import pytest

from musicrec_core.data import schema as s
from musicrec_core.serving import read_only_query, user_shards
from musicrec_dagster.shards import N_USER_SHARDS, SHARD_COLUMN
from tests.dagster.conftest import load_defs

pytestmark = pytest.mark.integration


def _warehouse_recommendations(data_dir) -> pd.DataFrame:
    with duckdb.connect(str(data_dir / "warehouse" / "musicrec.duckdb"), read_only=True) as con:
        return con.execute("SELECT * FROM public.recommendations").df()


def _run(defs: dg.Definitions, assets: list[str], **kwargs) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(a) for a in assets}
    )
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(instance=instance, **kwargs)


def test_every_shard_is_served_and_one_shard_reruns_alone(materialize_with, monkeypatch):
    result, data_dir = materialize_with(
        MUSICREC_SYNTHETIC_SIZE="tiny", models=["popularity", "hybrid"]
    )
    shards = [str(i) for i in range(N_USER_SHARDS)]
    written = {m.partition for m in result.asset_materializations_for_node("recommendations")}
    assert written == set(shards)

    stored = _warehouse_recommendations(data_dir)
    assert stored[SHARD_COLUMN].tolist() == user_shards(stored[s.USER_ID], N_USER_SHARDS).tolist()
    assert sorted(stored[SHARD_COLUMN].unique()) == list(range(N_USER_SHARDS))
    serving = data_dir / "serving" / "musicrec.duckdb"
    published = read_only_query(serving, "SELECT * FROM recommendations")
    assert list(published.columns) == s.RECOMMENDATION_COLUMNS
    assert len(published) == len(stored)

    # One shard alone, as a backfill's run for it would, after an operator pinned item_knn: its
    # rows change, no other shard's.
    defs = load_defs(data_dir, monkeypatch, MUSICREC_SYNTHETIC_SIZE="tiny")
    pinned = _run(
        defs,
        ["serving_policy"],
        run_config={"ops": {"serving_policy": {"config": {"model": "item_knn"}}}},
    )
    assert pinned.success
    policy = pinned.output_for_node("serving_policy").set_index("audience")[s.MODEL_NAME]
    assert policy["warm"] == policy["cold_user_given"] == "item_knn"
    rerun = _run(defs, ["recommendations"], partition_key="2")
    assert rerun.success
    after = _warehouse_recommendations(data_dir)
    key = [s.USER_ID, s.RANK]
    others = stored[stored[SHARD_COLUMN] != 2].sort_values(key).reset_index(drop=True)
    assert after[after[SHARD_COLUMN] != 2].sort_values(key).reset_index(drop=True).equals(others)
    shard = after[after[SHARD_COLUMN] == 2]
    assert set(shard[s.USER_ID]) == set(stored.loc[stored[SHARD_COLUMN] == 2, s.USER_ID])
    assert set(shard[s.MODEL_NAME]) <= {"segment_popularity", *policy}
    assert "item_knn" in set(shard[s.MODEL_NAME])
    assert "item_knn" not in set(others[s.MODEL_NAME])

    assert _run(defs, ["serving_database"]).success
    republished = read_only_query(serving, "SELECT * FROM recommendations")
    assert len(republished) == len(after)
    served_by = republished.merge(after[[s.USER_ID, SHARD_COLUMN]].drop_duplicates(), on=s.USER_ID)
    assert set(served_by.loc[served_by[SHARD_COLUMN] == 2, s.MODEL_NAME]) == set(
        shard[s.MODEL_NAME]
    )
