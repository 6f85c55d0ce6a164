"""model_evaluation: every model measured the same way, with plots in the UI and on disk.

A graph of steps (``steps``): the compared models fitted once, each user shard ranked in a step
of its own, and every metric measured from all the shards' lists, the same numbers as one
ranking of every user."""

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd

from musicrec_core.evaluation import (
    TEST_SET,
    Rankings,
    comparison_table,
    figures,
    summarise,
    to_markdown,
)
from musicrec_dagster.defs.evaluation.steps import (
    SHARD_STEPS,
    EvaluationPlan,
    EvaluationSettings,
    fit_compared_models,
)
from musicrec_dagster.defs.resources import PlatformPaths
from musicrec_dagster.metadata import choice_scores, image, table_metadata


@dg.op
def measure_models(
    context: dg.OpExecutionContext,
    paths: PlatformPaths,
    plan: EvaluationPlan,
    rankings: list[Rankings],
) -> pd.DataFrame:
    """Ranking and diversity metrics (mean and 95% CI) per model, test set, metric and k, from
    every user shard's lists; the files the run's steps handed on are deleted after."""
    settings = EvaluationSettings(**plan.settings)
    comparison = summarise(
        rankings, plan.data(), plan.fits, ks=settings.ks, n_boot=settings.n_boot, seed=settings.seed
    )
    summary = comparison.result.summary
    paths.reports.mkdir(parents=True, exist_ok=True)
    metadata: dict[str, object] = {
        **table_metadata(summary),
        "fit_seconds": dg.MetadataValue.json(comparison.fit_seconds),
        "models_left_out": dg.MetadataValue.json(comparison.skipped),
        "users": dg.MetadataValue.json(comparison.users),
        "user_shards": len(rankings),
        "reports": dg.MetadataValue.path(str(paths.reports)),
    }
    for name, (l2, validation) in comparison.l2_choices.items():
        metadata[f"{name}_l2"] = l2
        metadata[f"{name}_l2_validation"] = choice_scores(validation)
    for k in settings.ks:
        table = comparison_table(summary, k=k)
        metadata[f"comparison@{k}"] = dg.MetadataValue.md(to_markdown(table))
    for name, png in figures(comparison).items():
        (paths.reports / f"{name}.png").write_bytes(png)
        metadata[name] = image(png, name)
    context.log.info("evaluated %s on %s", plan.models, comparison.test_sets)
    context.add_output_metadata(metadata)
    shutil.rmtree(Path(plan.folder), ignore_errors=True)  # the fitted baselines and test sets
    shutil.rmtree(paths.steps / context.run_id, ignore_errors=True)  # what the steps handed on
    return summary.assign(**{TEST_SET: summary[TEST_SET].astype(str)})


@dg.config_mapping
def evaluation_settings(settings: EvaluationSettings) -> dict:
    """The asset's settings, given to the step that fits the models (it hands them on)."""
    return {fit_compared_models.name: {"config": settings.model_dump()}}


@dg.graph_asset(
    group_name="evaluation",
    kinds={"pandas", "duckdb"},
    config=evaluation_settings,
    ins={
        "split": dg.AssetIn("dataset_splits", dagster_type=dg.Nothing),
        "preprocessor": dg.AssetIn("fitted_preprocessor", dagster_type=dg.Nothing),
        "model": dg.AssetIn("hybrid_model", dagster_type=dg.Nothing),
    },
)
def model_evaluation(split, preprocessor, model, user_features, track_features) -> pd.DataFrame:
    """Ranking and diversity metrics (mean and 95% CI) per model, test set, metric and k."""
    plan = fit_compared_models(
        split=split,
        preprocessor=preprocessor,
        model=model,
        user_features=user_features,
        track_features=track_features,
    )
    return measure_models(plan, [step(plan) for step in SHARD_STEPS])
