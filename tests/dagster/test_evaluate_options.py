"""`musicrec evaluate --eval-users`: parsed into the model_evaluation config, bad values refused
with one line; the printed summary says how many users each test set was measured on."""

import pandas as pd
import pytest

from musicrec_core.evaluation import DEFAULT_EVAL_USERS, POPULATION_USERS, SAMPLE_USERS, TEST_SET
from musicrec_dagster.cli import _op_config, build_parser, users_line
from musicrec_dagster.defs.evaluation.assets import EvaluationSettings


def _evaluation_config(*options: str) -> dict:
    args = build_parser().parse_args(["evaluate", *options])
    return _op_config(args).get("model_evaluation", {})


@pytest.mark.parametrize(
    ("value", "expected"), [("2000", 2000), ("1", 1), ("all", 0), ("ALL", 0), (" all ", 0)]
)
def test_eval_users_is_a_number_of_users_or_all(value, expected):
    assert _evaluation_config("--eval-users", value) == {"eval_users": expected}


def test_without_the_option_the_asset_s_default_sample_applies():
    assert "eval_users" not in _evaluation_config("--models", "popularity")
    assert EvaluationSettings().eval_users == DEFAULT_EVAL_USERS


def test_other_commands_that_evaluate_take_the_option_too():
    for command in ("retrain", "materialize"):
        args = build_parser().parse_args([command, "--eval-users", "300"])
        assert _op_config(args)["model_evaluation"] == {"eval_users": 300}


@pytest.mark.parametrize("value", ["0", "-5", "many", "2.5", ""])
def test_a_bad_value_is_refused_with_one_line(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["evaluate", "--eval-users", value])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        "musicrec evaluate: error: argument --eval-users: "
        f"expected a positive number of users or 'all', not {value!r}"
    )


def test_the_printed_summary_names_sample_and_population_per_test_set():
    summary = pd.DataFrame(
        {
            TEST_SET: ["warm", "warm", "cold_user", "cold_track"],
            SAMPLE_USERS: [5000, 5000, 80, 5000],
            POPULATION_USERS: [118204, 118204, 80, 15003],
        }
    )
    assert users_line(summary) == (
        "users evaluated: warm 5,000 of 118,204, cold_user 80 of 80, cold_track 5,000 of 15,003"
    )
