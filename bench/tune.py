"""One hybrid training with overridden TrainConfig fields, for tuning; prints NDCG@10 per test set.

Also measures the model's dot-product ranking alone (``--dot``: no re-ranking head) and
baselines next to it in the same run. Usage: .venv/bin/python bench/tune.py [--data demo]
[--sets warm,cold_user,cold_track] [--baselines ease] [--dot] [field=value ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
import time
from pathlib import Path

from common import sources, train_hybrid

from musicrec_core import metrics as m
from musicrec_core.comparison import evaluate_models
from musicrec_core.evaluation import TEST_SET
from musicrec_core.pipeline import prepare
from musicrec_core.training import TrainConfig


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


def ndcg_lines(data, models: dict, names: list[str], sets: list[str], label: str) -> list[str]:
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
    rows = result[(result[m.K] == 10) & (result[m.METRIC] == m.NDCG)]
    return [
        f"{label}{r.model_name} {getattr(r, TEST_SET)} ndcg@10 {r.mean:.4f} "
        f"[{r.ci_low:.4f}, {r.ci_high:.4f}]"
        for r in rows.itertuples()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="demo")
    parser.add_argument("--sets", default="warm")
    parser.add_argument("--baselines", default="")
    parser.add_argument("--dot", action="store_true")
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
    if args.dot:
        model.config.n_candidates = 0
        lines += ndcg_lines(data, {"hybrid": model}, ["hybrid"], ["warm"], "dot product only: ")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
