"""`--epochs`: the commands that train the hybrid pass it to hybrid_model's config, which the
retrain job accepts; bad values are refused with one line."""

import dagster as dg
import pytest

from musicrec_dagster.cli import _op_config, build_parser, run_config
from musicrec_dagster.defs.training.assets import HybridTrainingSettings
from musicrec_dagster.runs import _for_job
from tests.dagster.conftest import load_defs


@pytest.mark.parametrize("command", ["demo", "materialize", "retrain", "evaluate"])
def test_epochs_reach_the_hybrid_model_config(command):
    args = build_parser().parse_args([command, "--epochs", "3"])
    assert _op_config(args)["hybrid_model"] == {"epochs": 3}


def test_without_the_option_the_asset_s_default_applies():
    args = build_parser().parse_args(["materialize"])
    assert "hybrid_model" not in _op_config(args)
    assert HybridTrainingSettings().epochs == 20


def test_the_retrain_job_accepts_the_config(tmp_path, monkeypatch):
    defs = load_defs(tmp_path / "data", monkeypatch)
    job = defs.resolve_job_def("retrain")
    args = build_parser().parse_args(["retrain", "--epochs", "2"])
    config = _for_job(job, run_config(_op_config(args)))
    assert config["ops"]["hybrid_model"] == {"config": {"epochs": 2}}
    dg.validate_run_config(job, config)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_value_is_refused_with_one_line(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["materialize", "--epochs", value])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        f"musicrec materialize: error: argument --epochs: expected a whole number above 0, "
        f"got {value!r}"
    )
