"""One hybrid training with overridden TrainConfig fields, for tuning; prints NDCG@10 per test set.

Also measures the model's dot-product ranking alone (``--dot``: no re-ranking head),
baselines next to it in the same run, and every pair of item-item fusion weights on the trained
model (``--weight-grid``: validation and warm test NDCG@10 of each, to see how far the chosen
pair is from the best). Usage: .venv/bin/python bench/tune.py [--data demo]
[--sets warm,cold_user,cold_track] [--baselines ease] [--dot] [--weight-grid] [field=value ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import ndcg_at_10, sources, train_hybrid

from musicrec_core import metrics as m
from musicrec_core.data import InteractionMatrix, PreparedData, prepare
from musicrec_core.evaluation import TEST_SET, WARM, EvaluationData, compare, evaluate_models
from musicrec_core.models.hybrid import ITEM_ITEM_WEIGHTS, Hybrid, TrainConfig, validation_ndcg


def overrides(pairs: list[str]) -> dict:
    """``field=value`` pairs typed as the TrainConfig field's default."""
    types = {f.name: type(f.default) for f in dataclasses.fields(TrainConfig)}
    out = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        if types[key] is type(None):  # open choices are numbers: ranks whole, weights not
            out[key] = int(value) if value.isdigit() else float(value)
        else:
            kind = types[key]
            out[key] = value.lower() == "true" if kind is bool else kind(value)
    return out


def ndcg_rows(data: PreparedData, models: dict, names: list[str], sets: list[str]) -> pd.DataFrame:
    """Summary rows of NDCG@10 of the named models on the given test sets."""
    result = evaluate_models(
        data.split,
        data.users,
        data.tracks,
        names,
        fitted=models,
        test_sets=sets,
        ks=(10,),
        n_boot=200,
    ).result.summary
    return ndcg_at_10(result)


def ndcg_lines(
    data: PreparedData, models: dict, names: list[str], sets: list[str], label: str
) -> list[str]:
    return [
        f"{label}{r.model_name} {getattr(r, TEST_SET)} ndcg@10 {r.mean:.4f} "
        f"[{r.ci_low:.4f}, {r.ci_high:.4f}]"
        for r in ndcg_rows(data, models, names, sets).itertuples()
    ]


def weight_grid_lines(data: PreparedData, model: Hybrid) -> list[str]:
    """Validation / warm test NDCG@10 of every (head, retrieval) item-item weight pair, a row
    per head weight, with the pair chosen in training and the validation-best pair."""
    matrix = model.data.matrix
    validation = InteractionMatrix.build(model.validation, matrix.user_ids, matrix.track_ids)
    # the test sets are built once and serve every pair
    test_sets = EvaluationData.from_split(data.split, data.users, data.tracks)
    chosen = (model.item_item_weight, model.item_item_retrieval_weight)
    scores = {}
    for pair in itertools.product(ITEM_ITEM_WEIGHTS, ITEM_ITEM_WEIGHTS):
        model.item_item_weight, model.item_item_retrieval_weight = pair
        on_validation = validation_ndcg(
            model.model,
            matrix.matrix,
            validation.matrix,
            model.config,
            model.device,
            item_item=model.item_item,
            item_item_weight=pair[0],
            item_item_retrieval_weight=pair[1],
        )
        summary = compare(
            {"hybrid": model}, test_sets, ks=(10,), test_sets=[WARM], n_boot=200
        ).summary
        test = summary.loc[summary[m.METRIC] == m.NDCG, m.MEAN].iloc[0]
        scores[pair] = (on_validation, float(test))
    model.item_item_weight, model.item_item_retrieval_weight = chosen
    best = max(scores, key=lambda pair: scores[pair][0])
    header = " | ".join(f"{w:g}" for w in ITEM_ITEM_WEIGHTS)
    lines = [
        "item-item weights, validation / warm test NDCG@10 (rows: head, columns: retrieval):",
        f"| head | {header} |",
        "|---" * (len(ITEM_ITEM_WEIGHTS) + 1) + "|",
    ]
    for head in ITEM_ITEM_WEIGHTS:
        cells = " | ".join(
            f"{scores[head, r][0]:.4f} / {scores[head, r][1]:.4f}" for r in ITEM_ITEM_WEIGHTS
        )
        lines.append(f"| {head:g} | {cells} |")
    for label, pair in (("chosen", chosen), ("validation-best", best)):
        on_validation, test = scores[pair]
        lines.append(f"{label} {pair}: validation {on_validation:.4f}, test {test:.4f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="demo")
    parser.add_argument("--sets", default="warm")
    parser.add_argument("--baselines", default="")
    parser.add_argument("--dot", action="store_true")
    parser.add_argument("--weight-grid", action="store_true")
    parser.add_argument("fields", nargs="*")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = TrainConfig(progress=False, **overrides(args.fields))
    sets = args.sets.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare(sources([args.data], Path(tmp))[args.data])
    started = time.perf_counter()
    model = train_hybrid(data, config)
    seconds = time.perf_counter() - started
    names = [*filter(None, args.baselines.split(",")), "hybrid"]
    lines = [
        f"{args.data}: {overrides(args.fields)}, fit {seconds:.0f} s, {len(model.history)} epochs, "
        f"item-item l2 {model.item_item_l2:g} rank {model.item_item_rank} "
        f"weights {model.item_item_weight:g} (head) "
        f"{model.item_item_retrieval_weight:g} (retrieval), "
        f"content weight {model.content_weight:g}"
    ]
    lines += ndcg_lines(data, {"hybrid": model}, names, sets, "")
    if args.weight_grid:
        lines += weight_grid_lines(data, model)
    if args.dot:
        model.config.n_candidates = 0
        lines += ndcg_lines(data, {"hybrid": model}, ["hybrid"], ["warm"], "dot product only: ")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
