"""model_evaluation: every model measured the same way, with plots in the UI and on disk."""

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field

from musicrec_core.data import MusicPreprocessor
from musicrec_core.data import schema as s
from musicrec_core.data import warehouse as wh
from musicrec_core.evaluation import (
    DEFAULT_EVAL_USERS,
    TEST_SET,
    EvaluationData,
    compare_models,
    comparison_table,
    evaluation_data,
    figures,
    to_markdown,
)
from musicrec_core.models import BASELINES
from musicrec_core.models.hybrid import Hybrid
from musicrec_dagster.defs.resources import PlatformPaths
from musicrec_dagster.defs.training.assets import MODEL_KIND
from musicrec_dagster.metadata import choice_scores, image, table_metadata
from musicrec_dagster.warehouse import open_warehouse

HYBRID = Hybrid.name


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


def _evaluation_data(
    warehouse: DuckDBResource,
    users: pd.DataFrame,
    tracks: pd.DataFrame,
    config: EvaluationSettings,
) -> EvaluationData:
    """The test sets of the split table, read here rather than taken as an input so that the
    whole split frame is let go once they are built (at 10 M plays it is about 2 GB)."""
    with open_warehouse(warehouse) as con:
        split = wh.table_frame(con, s.SPLITS_TABLE)
    return evaluation_data(
        split, users, tracks, config.cold_user_given, config.eval_users, config.seed
    )


@dg.asset(
    group_name="evaluation",
    kinds={"pandas", "duckdb"},
    deps=["dataset_splits", "fitted_preprocessor", "hybrid_model"],
)
def model_evaluation(
    context: dg.AssetExecutionContext,
    config: EvaluationSettings,
    paths: PlatformPaths,
    warehouse: DuckDBResource,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> pd.DataFrame:
    """Ranking and diversity metrics (mean and 95% CI) per model, test set, metric and k."""
    store = paths.artifacts()
    preprocessor = MusicPreprocessor.load(store.latest("preprocessor")[1])
    loaders = {}
    if HYBRID in config.models:
        folder = store.latest(MODEL_KIND)[1]
        loaders[HYBRID] = lambda train: Hybrid.load(folder, train, preprocessor)
    comparison = compare_models(
        _evaluation_data(warehouse, user_features, track_features, config),
        config.models,
        preprocessor=preprocessor,
        loaders=loaders,
        ks=config.ks,
        n_boot=config.n_boot,
        seed=config.seed,
    )
    summary = comparison.result.summary
    paths.reports.mkdir(parents=True, exist_ok=True)
    metadata: dict[str, object] = {
        **table_metadata(summary),
        "fit_seconds": dg.MetadataValue.json(comparison.fit_seconds),
        "models_left_out": dg.MetadataValue.json(comparison.skipped),
        "users": dg.MetadataValue.json(comparison.users),
        "reports": dg.MetadataValue.path(str(paths.reports)),
    }
    for name, (l2, validation) in comparison.l2_choices.items():
        metadata[f"{name}_l2"] = l2
        metadata[f"{name}_l2_validation"] = choice_scores(validation)
    for k in config.ks:
        table = comparison_table(summary, k=k)
        metadata[f"comparison@{k}"] = dg.MetadataValue.md(to_markdown(table))
    for name, png in figures(comparison).items():
        (paths.reports / f"{name}.png").write_bytes(png)
        metadata[name] = image(png, name)
    context.log.info("evaluated %s on %s", config.models, comparison.test_sets)
    context.add_output_metadata(metadata)
    return summary.assign(**{TEST_SET: summary[TEST_SET].astype(str)})
