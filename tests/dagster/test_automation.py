"""The landing sensor, declarative refresh, the retraining schedule and the promotion gate."""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import shutil

import dagster as dg
import duckdb
import pandas as pd
import pytest

from musicrec_core.data import plays_delivery, tracks_delivery, write_then_rename
from musicrec_core.data import schema as s
from musicrec_core.evaluation import read_served, write_served
from musicrec_dagster.defs.automation.jobs import FOLLOWING_ASSETS, RETRAIN_ASSETS
from musicrec_dagster.defs.promotion.assets import served_model
from musicrec_dagster.defs.resources import PlatformPaths
from musicrec_dagster.runs import run_jobs
from musicrec_dagster.shards import N_USER_SHARDS
from tests.dagster.conftest import FAST_RUN_CONFIG, load_defs

pytestmark = pytest.mark.integration


def _warehouse(data_dir, table: str) -> pd.DataFrame:
    with duckdb.connect(str(data_dir / "warehouse" / "musicrec.duckdb"), read_only=True) as con:
        return con.execute(f"SELECT * FROM public.{table}").df()


def _deliver(data_dir, seed: int = 1) -> None:
    """A plays delivery (new and known listeners) and a tracks delivery into the landing folders."""
    users = _warehouse(data_dir, "validated_users")[s.USER_ID]
    tracks = _warehouse(data_dir, "validated_tracks")[[s.TRACK_ID, s.GENRE]]
    plays_delivery(users, tracks, new_users=2, existing_listeners=5, seed=seed).write(
        data_dir / "landing"
    )
    tracks_delivery(5, seed=seed).write(data_dir / "landing")


def _tick(sensor: dg.SensorDefinition, instance, data_dir, cursor: str | None):
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"paths": PlatformPaths(data_dir=str(data_dir))},
    )
    return sensor.evaluate_tick(context)


def test_landing_sensor_requests_runs_for_new_content_only(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    defs = load_defs(data_dir, monkeypatch, MUSICREC_SYNTHETIC_SIZE="tiny")
    sensor = defs.resolve_sensor_def("landing_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    plays_dir = data_dir / "landing" / "plays"
    frame = pd.DataFrame({"user_id": ["u000001"], "track_id": ["t000001"], "plays": ["3"]})
    with dg.instance_for_test() as instance:
        empty = _tick(sensor, instance, data_dir, None)
        assert not empty.run_requests and "no new content" in empty.skip_message

        plays_dir.mkdir(parents=True, exist_ok=True)
        frame.to_csv(plays_dir / ".plays-a.csv.part", index=False)
        (plays_dir / "plays-b.csv.tmp").write_text("user_id,track_id,plays\nu1,t1,")
        writing = _tick(sensor, instance, data_dir, empty.cursor)
        assert not writing.run_requests, "a file still being written was picked up"

        write_then_rename(frame, plays_dir / "plays-a.csv")
        first = _tick(sensor, instance, data_dir, writing.cursor)
        assert len(first.run_requests) == 1
        assert first.run_requests[0].tags["musicrec/landed_files"] == "plays/plays-a.csv"

        again = _tick(sensor, instance, data_dir, first.cursor)
        assert not again.run_requests, "the same file was requested twice"

        shutil.copyfile(plays_dir / "plays-a.csv", plays_dir / "plays-a-resent.csv")
        resent = _tick(sensor, instance, data_dir, again.cursor)
        assert not resent.run_requests, "the same content under another name was requested"

        write_then_rename(frame.assign(plays=["4"]), plays_dir / "plays-a-corrected.csv")
        corrected = _tick(sensor, instance, data_dir, resent.cursor)
        assert len(corrected.run_requests) == 1
        assert corrected.run_requests[0].run_key != first.run_requests[0].run_key

        outside = tmp_path / "outside.csv"
        frame.assign(plays=["5"]).to_csv(outside, index=False)
        (plays_dir / "linked.csv").symlink_to(outside)
        linked = _tick(sensor, instance, data_dir, corrected.cursor)
        assert not linked.run_requests, "a symlink out of the landing folder was followed"


@pytest.fixture
def served_pipeline(tmp_path, monkeypatch):
    """The tiny pipeline materialised once on a persistent test instance."""
    data_dir = tmp_path / "data"
    defs = load_defs(data_dir, monkeypatch, MUSICREC_SYNTHETIC_SIZE="tiny")
    with dg.instance_for_test() as instance:
        outcome = run_jobs(defs, instance, run_config=copy.deepcopy(FAST_RUN_CONFIG))
        assert outcome.success, outcome.failed_job
        yield defs, instance, data_dir


def test_new_data_refreshes_features_and_recommendations_but_not_the_model(served_pipeline):
    defs, instance, data_dir = served_pipeline
    settled = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert settled.total_requested == 0, "automation wants to redo a fresh pipeline"

    _deliver(data_dir)
    ingest = run_jobs(defs, instance, ("ingest_landing",))
    assert ingest.success
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=settled.cursor)
    keys = [node.key for node in defs.resolve_asset_graph().asset_nodes]
    requested = {key.to_user_string() for key in keys if after.get_num_requested(key)}
    # The user shards of the lists run apart from unpartitioned assets, so they follow at the
    # next evaluation, once the features they read are written. The serving policy follows
    # evaluations and promotions, not data.
    sharded = {"recommendations", "new_track_recommendations"}
    assert requested == set(FOLLOWING_ASSETS) - sharded - {"serving_policy"}
    assert {"validated_plays", "serving_database"} <= requested
    refresh = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(a) for a in requested}
    )
    assert refresh.execute_in_process(instance=instance).success
    shards = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
    for asset in sharded:
        assert shards.get_num_requested(dg.AssetKey(asset)) == N_USER_SHARDS
    requested |= {key.to_user_string() for key in keys if shards.get_num_requested(key)}
    assert requested == set(FOLLOWING_ASSETS) - {"serving_policy"}
    assert requested.isdisjoint(RETRAIN_ASSETS), "new data must not retrain by itself"


def test_rerun_leaves_the_same_state(served_pipeline):
    defs, instance, data_dir = served_pipeline
    _deliver(data_dir, seed=3)
    assert run_jobs(defs, instance, ("refresh_catalogue",)).success
    tables = ("landing_registry", "validated_plays", "validated_tracks", "quarantine")
    before = {table: _warehouse(data_dir, table) for table in tables}
    assert len(before["landing_registry"]) == 3

    for landed in (data_dir / "landing" / "plays").iterdir():
        shutil.copyfile(landed, landed.with_name(f"again-{landed.name}"))
    assert run_jobs(defs, instance, ("refresh_catalogue",)).success
    for table in tables:
        pd.testing.assert_frame_equal(_warehouse(data_dir, table), before[table])


def test_a_worse_model_is_not_promoted(served_pipeline):
    defs, instance, data_dir = served_pipeline
    store = PlatformPaths(data_dir=str(data_dir)).artifacts()
    served_version, _ = store.latest("hybrid")
    # As if the first model had scored 0.99 when it was promoted: the next one falls short.
    write_served(store.served_record, "hybrid", served_version, 0.99)
    before = store.served_record.read_text()

    retrain = run_jobs(defs, instance, ("retrain",), copy.deepcopy(FAST_RUN_CONFIG))
    assert retrain.success and retrain.promotion_refused
    assert f"within 2% of served hybrid {served_version}" in retrain.promotion_refused
    assert store.latest("hybrid")[0] != served_version
    assert store.served_record.read_text() == before
    gate = next(
        e.asset_check_evaluation_data
        for e in retrain.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "promotion_gate"
    )
    assert not gate.passed and "is not promoted" in gate.description

    # The hybrid serves the audiences where it measures best at the promoted version only.
    serve = run_jobs(defs, instance, ("serve",))
    assert serve.success
    policy = serve.output_for_node("serving_policy")
    assert set(policy.loc[policy[s.MODEL_NAME] == "hybrid", s.MODEL_VERSION]) <= {served_version}
    recommendations = serve.output_for_node("recommendations")
    hybrid_rows = recommendations[recommendations[s.MODEL_NAME] == "hybrid"]
    assert set(hybrid_rows[s.MODEL_VERSION]) <= {served_version}


def test_served_model_records_only_a_candidate_that_passed(tmp_path):
    paths = PlatformPaths(data_dir=str(tmp_path))
    report = pd.DataFrame(
        {
            "requirement": ["beats popularity"],
            "required": [0.1],
            "candidate": [0.2],
            "passed": [True],
            "score": [0.2],
            "version": ["v2"],
            "reason": ["passes"],
        }
    ).assign(model_name="hybrid")
    refused = report.assign(passed=[False], reason=["hybrid v2 is not promoted: too weak"])
    with pytest.raises(dg.Failure, match="too weak"):
        served_model(dg.build_asset_context(), paths, refused)
    assert read_served(paths.artifacts().served_record) is None
    frame = served_model(dg.build_asset_context(), paths, report)
    record = read_served(paths.artifacts().served_record)
    assert (record.model_name, record.version, record.ndcg_at_10) == ("hybrid", "v2", 0.2)
    assert frame["version"].tolist() == ["v2"]


def test_weekly_retrain_schedule_targets_the_retrain_job(tmp_path, monkeypatch):
    defs = load_defs(tmp_path / "data", monkeypatch)
    schedule = defs.resolve_schedule_def("weekly_retrain")
    assert schedule.job_name == "retrain"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == "0 3 * * 1"
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 11, 30, 3, tzinfo=dt.UTC)
    )
    assert len(schedule.evaluate_tick(context).run_requests) == 1
    retrain = defs.resolve_job_def("retrain")
    assert {"hybrid_model", "model_evaluation", "promotion_report", "served_model"} <= set(
        retrain.graph.node_dict
    )

    from musicrec_dagster.defs.automation import schedules

    monkeypatch.setenv("MUSICREC_RETRAIN_CRON", "30 1 * * *")
    try:
        assert importlib.reload(schedules).retrain_schedule.cron_schedule == "30 1 * * *"
    finally:
        monkeypatch.delenv("MUSICREC_RETRAIN_CRON")
        importlib.reload(schedules)


def test_sensors_and_automation_start_running(tmp_path, monkeypatch):
    defs = load_defs(tmp_path / "data", monkeypatch)
    statuses = {sensor.name: sensor.default_status for sensor in defs.sensors}
    assert statuses == dict.fromkeys(
        ("landing_sensor", "follow_new_data", "recommendations_freshness"),
        dg.DefaultSensorStatus.RUNNING,
    )
