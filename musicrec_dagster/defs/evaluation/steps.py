"""The steps of model_evaluation: fit the compared models once into files, rank each user shard
in a step of its own (which any executor can place in its own process, pod or worker), then
measure every model from all the shards' lists."""

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import dagster as dg
import joblib
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field

from musicrec_core.data import SPLITS, MusicPreprocessor, read_split_rows
from musicrec_core.evaluation import (
    DEFAULT_EVAL_USERS,
    SPLIT_COLUMNS,
    EvaluationData,
    Fits,
    Loader,
    Rankings,
    Shard,
    evaluation_data,
    fit_to_files,
    rank_shard,
)
from musicrec_core.models import BASELINES, load_fitted
from musicrec_core.models.hybrid import Hybrid
from musicrec_dagster.defs.resources import PlatformPaths
from musicrec_dagster.defs.training.assets import MODEL_KIND
from musicrec_dagster.shards import N_USER_SHARDS
from musicrec_dagster.warehouse import open_warehouse

HYBRID = Hybrid.name
STEP_IO_MANAGER = "step_io_manager"  # the steps' outputs, as files any process can read
DATA_FILE = "evaluation_data.joblib"


class EvaluationSettings(dg.Config):
    """Which models to compare, at which cutoffs, on how many users, with how many bootstrap
    resamples."""

    models: list[str] = Field(default_factory=lambda: [*BASELINES, HYBRID])
    ks: list[int] = Field(default_factory=lambda: [5, 10, 20])
    eval_users: int | None = Field(
        default=DEFAULT_EVAL_USERS,
        description="users per test set, a seeded sample shared by every model; 0 or null: all",
    )
    n_boot: int = 1000
    seed: int = 0
    cold_user_given: int = Field(
        default=3,
        ge=0,
        description="plays of each cold-start user given at recommendation time in the "
        "cold_user_given test set (cold_user gives none); 0: no such set",
    )


@dataclass
class EvaluationPlan:
    """What the shard steps and the measuring step read: the run's folder of files (the test
    sets and the fitted baselines), where the hybrid and the preprocessor are, the settings,
    and how the fits went."""

    folder: str
    models: list[str]  # to rank, in the order asked for, those left out removed
    baseline_files: dict[str, str]
    hybrid_folder: str | None
    preprocessor_file: str
    settings: dict
    fits: Fits = field(default_factory=Fits)

    @property
    def data_file(self) -> Path:
        return Path(self.folder) / DATA_FILE

    def data(self) -> EvaluationData:
        return joblib.load(self.data_file)

    def loaders(self) -> dict[str, Loader]:
        """A loader per ranked model: the baselines from their files, the hybrid from the
        trained model's folder."""
        preprocessor = MusicPreprocessor.load(self.preprocessor_file)
        loaders: dict[str, Loader] = {}
        for name in self.models:
            if name == HYBRID:
                loaders[name] = partial(Hybrid.load, self.hybrid_folder, preprocessor=preprocessor)
            else:
                loaders[name] = partial(load_fitted, self.baseline_files[name])
        return loaders


@dg.op(
    ins={"split": dg.In(dg.Nothing), "preprocessor": dg.In(dg.Nothing), "model": dg.In(dg.Nothing)},
    out=dg.Out(io_manager_key=STEP_IO_MANAGER),
)
def fit_compared_models(
    context: dg.OpExecutionContext,
    config: EvaluationSettings,
    paths: PlatformPaths,
    warehouse: DuckDBResource,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> EvaluationPlan:
    """The test sets, and every compared baseline fitted on the training plays, saved in the
    run's folder for the shard steps."""
    store = paths.artifacts()
    preprocessor_file = store.latest("preprocessor")[1]
    folder = paths.steps / context.run_id / "model_evaluation"
    folder.mkdir(parents=True, exist_ok=True)
    data = _evaluation_data(warehouse, user_features, track_features, config)
    joblib.dump(data, folder / DATA_FILE)
    baselines = [name for name in config.models if name != HYBRID]
    files, fits = fit_to_files(data, baselines, folder, MusicPreprocessor.load(preprocessor_file))
    context.log.info("fitted %s into %s", ", ".join(files) or "no baseline", folder)
    return EvaluationPlan(
        folder=str(folder),
        models=[name for name in config.models if name not in fits.skipped],
        baseline_files={name: str(path) for name, path in files.items()},
        hybrid_folder=str(store.latest(MODEL_KIND)[1]) if HYBRID in config.models else None,
        preprocessor_file=str(preprocessor_file),
        settings=config.model_dump(),
        fits=fits,
    )


def _evaluation_data(
    warehouse: DuckDBResource,
    users: pd.DataFrame,
    tracks: pd.DataFrame,
    config: EvaluationSettings,
) -> EvaluationData:
    """The test sets of the split table, read here rather than taken as an input so that the
    split frame (every part, the columns evaluation uses) is let go once they are built."""
    with open_warehouse(warehouse) as con:
        split = read_split_rows(con, SPLITS, SPLIT_COLUMNS)
    return evaluation_data(
        split, users, tracks, config.cold_user_given, config.eval_users, config.seed
    )


def shard_step(index: int) -> dg.OpDefinition:
    """The step that ranks user shard ``index`` of ``N_USER_SHARDS`` with every compared model."""

    @dg.op(name=f"rank_user_shard_{index}", out=dg.Out(io_manager_key=STEP_IO_MANAGER))
    def rank_user_shard(context: dg.OpExecutionContext, plan: EvaluationPlan) -> Rankings:
        settings = EvaluationSettings(**plan.settings)
        rankings = rank_shard(
            plan.data(),
            plan.loaders(),
            Shard(index, N_USER_SHARDS),
            k=max(settings.ks),
            seed=settings.seed,
        )
        context.log.info("ranked user shard %d of %d", index, N_USER_SHARDS)
        return rankings

    return rank_user_shard


SHARD_STEPS = [shard_step(i) for i in range(N_USER_SHARDS)]
