"""The model path at scale: synthetic catalogues through split, preprocessor, training,
evaluation, recommend-all and publication.

For each size (plays) the data path builds a warehouse on disk first (not reported here; see
bench/scale_data.py), then each stage runs in a fresh process, reading what the stage before
it left on disk, as the assets do: wall time and the stage's peak resident memory. Training
reports each epoch's seconds and lists per second (``--epochs`` caps the epochs, early
stopping may end sooner); evaluation ranks the default seeded sample of test users with the
hybrid and popularity (``--eval-models all``: with every baseline, as the model_evaluation
asset does, each fitted there); recommend-all is timed against its floor in the same process,
the bare product of the same user and item vectors with its top-k; publication builds the
served lists (the recommendations asset's path: every user's plays so far, MMR) and every
user's list of the tracks nobody has played (the new_track_recommendations asset's), and
writes them into a serving database. ``--stages`` runs some stages only, on the folder a run left.
Prints Markdown with the date and the machine, for docs/benchmarks.md.

Usage: .venv/bin/python bench/scale_model.py [--sizes 100000,1000000,10000000]
[--epochs 20] [--workdir DIR] [--stages evaluation] [--eval-models all]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from memory import peak_mb, run_stage, sized_parser

logger = logging.getLogger("bench.scale_model")
K = 20
STAGES = ("split", "preprocessor", "training", "evaluation", "recommend_all", "publish")
EVAL_MODELS = "popularity,hybrid"


# --- child processes: one stage each ---------------------------------------------------------
def catalogue_tables(con):
    """The user features and the track features, which every model stage reads whole."""
    from musicrec_core.data import schema as s
    from musicrec_core.data import warehouse

    return (
        warehouse.table_frame(con, s.USER_FEATURES_TABLE),
        warehouse.table_frame(con, s.TRACK_FEATURES_TABLE),
    )


def warehouse_tables(folder: Path):
    """Every part of the split, user features and track features in the folder's warehouse:
    what the evaluation asset reads (the preprocessor and training read parts of the split)."""
    from musicrec_core.data import SPLITS, read_split_rows, warehouse
    from musicrec_core.evaluation import SPLIT_COLUMNS

    with warehouse.connect(folder / "musicrec.duckdb") as con:
        split = read_split_rows(con, SPLITS, SPLIT_COLUMNS)
        return split, *catalogue_tables(con)


def served_inputs(folder: Path):
    """Every play, the user features and the track features in the folder's warehouse: what
    the serving assets read (not the split)."""
    from musicrec_core.data import schema as s
    from musicrec_core.data import warehouse

    with warehouse.connect(folder / "musicrec.duckdb") as con:
        return warehouse.table_frame(con, s.INTERACTIONS_TABLE), *catalogue_tables(con)


def build_warehouse(folder: Path, plays: int) -> dict:
    """The data path up to the features (the split is the next stage, timed on its own)."""
    from musicrec_core.data import run_data_path, warehouse
    from musicrec_core.data.sources import SourceConfig

    folder.mkdir(parents=True, exist_ok=True)
    with warehouse.connect(folder / "musicrec.duckdb") as con:
        run_data_path(con, SourceConfig(kind="synthetic", scale_plays=plays), folder / "archive")
    return {}


def split_warehouse(workdir: str | Path, plays: int) -> Path:
    """The folder of a size's warehouse under ``workdir``, where this script keeps it, with the
    data path and the split built in this process if they are not there yet."""
    folder = Path(workdir) / f"plays-{plays}"
    if not (folder / "musicrec.duckdb").exists():
        build_warehouse(folder, plays)
        split(folder)
    return folder


def split(folder: Path) -> dict:
    from musicrec_core.data import build_split_table, warehouse
    from musicrec_core.data import schema as s

    with warehouse.connect(folder / "musicrec.duckdb") as con:
        build_split_table(con)
        rows = warehouse.row_count(con, s.SPLITS_TABLE)
    return {"rows": rows}


def preprocessor(folder: Path) -> dict:
    from musicrec_core.data import (
        FIT_PLAY_COLUMNS,
        TRAIN,
        fit_preprocessor,
        read_split_rows,
        warehouse,
    )

    with warehouse.connect(folder / "musicrec.duckdb") as con:
        plays = read_split_rows(con, [TRAIN], FIT_PLAY_COLUMNS)
        users, tracks = catalogue_tables(con)
    fitted, _, _ = fit_preprocessor(plays, users, tracks)
    fitted.save_preprocessors(folder / "preprocessor")
    return {"rows": len(tracks)}


def training(folder: Path, epochs: int) -> dict:
    """As the hybrid_model asset: the training and validation plays read from the split."""
    from musicrec_core.data import TRAIN, VALIDATION, MusicPreprocessor, read_split_rows, warehouse
    from musicrec_core.data import schema as s
    from musicrec_core.models import TrainingData
    from musicrec_core.models.hybrid import Hybrid, TrainConfig

    with warehouse.connect(folder / "musicrec.duckdb") as con:
        train, validation = (
            read_split_rows(con, [part], s.PLAY_COLUMNS) for part in (TRAIN, VALIDATION)
        )
        users, tracks = catalogue_tables(con)
    model = Hybrid(
        TrainConfig(epochs=epochs, progress=False),
        MusicPreprocessor.load(folder / "preprocessor"),
        validation=validation,
    )
    model.fit(TrainingData(train, users, tracks))
    model.save(folder / "hybrid")
    return {
        "rows": len(train),
        "epochs": [
            {k: h[k] for k in ("epoch", "seconds", "lists_per_second", "val_ndcg@10")}
            for h in model.history
        ],
        "item_item": getattr(model, "item_item_kind", "") or "none",
    }


def _hybrid(folder: Path, plays, users, tracks):
    """The saved hybrid over the training plays (evaluation) or every play (serving): as the
    assets load it, reading the item-item factors kept for those plays, else fitting and
    keeping them."""
    from musicrec_core.data import MusicPreprocessor
    from musicrec_core.models import TrainingData
    from musicrec_core.models.hybrid import Hybrid

    preprocessor = MusicPreprocessor.load(folder / "preprocessor")
    data = TrainingData(plays, users, tracks)
    return Hybrid.load(folder / "hybrid", data, preprocessor, keep_item_item=True)


def evaluation(folder: Path, models: str) -> dict:
    """``models``: comma-separated names, or "all" for the model_evaluation asset's default.
    As the asset does: the split is let go once the test sets are built, and the saved hybrid
    is loaded at its turn over the evaluation's training plays."""
    from musicrec_core.data import MusicPreprocessor
    from musicrec_core.evaluation import compare_models, evaluation_data
    from musicrec_core.models import BASELINES
    from musicrec_core.models.hybrid import Hybrid

    names = [*BASELINES, "hybrid"] if models == "all" else models.split(",")
    preprocessor = MusicPreprocessor.load(folder / "preprocessor")
    comparison = compare_models(
        evaluation_data(*warehouse_tables(folder), cold_user_given=3),
        names,
        preprocessor=preprocessor,
        loaders={
            "hybrid": lambda train: Hybrid.load(
                folder / "hybrid", train, preprocessor, keep_item_item=True
            )
        },
    )
    return {
        "rows": sum(v["sample"] for v in comparison.users.values()),
        "users": comparison.users,
        "fit_seconds": comparison.fit_seconds,
        "left_out": list(comparison.skipped),
    }


def recommend_all(folder: Path) -> dict:
    import torch

    from musicrec_core.data import schema as s
    from musicrec_core.models.hybrid import RETRIEVAL_BLOCK, RETRIEVAL_MIN_USERS

    interactions, users, tracks = served_inputs(folder)
    model = _hybrid(folder, interactions, users, tracks)
    user_ids = users[s.USER_ID].to_numpy(dtype=object)
    started = time.perf_counter()
    model.recommend(user_ids, k=K)
    seconds = time.perf_counter() - started
    user_vectors = torch.from_numpy(model.user_vectors(user_ids))
    item_vectors = torch.from_numpy(model.item_vectors())
    step = max(RETRIEVAL_BLOCK // item_vectors.shape[0], RETRIEVAL_MIN_USERS)
    started = time.perf_counter()
    for start in range(0, len(user_vectors), step):
        torch.topk(user_vectors[start : start + step] @ item_vectors.T, K, dim=1)
    floor = time.perf_counter() - started
    return {"rows": len(user_ids), "seconds_inner": seconds, "floor": floor}


def publish(folder: Path) -> dict:
    import tempfile

    from musicrec_core.data import MusicPreprocessor
    from musicrec_core.evaluation import single_model_audiences
    from musicrec_core.models import segment_recommendations
    from musicrec_core.serving import (
        NEW_TRACKS_K,
        SERVING_VIEWS,
        content_vectors,
        new_track_recommendations,
        publish_serving_database,
        segment_popularity,
        served_recommendations,
        serving_tables,
    )

    interactions, users, tracks = served_inputs(folder)
    model = _hybrid(folder, interactions, users, tracks)
    fallback = segment_popularity(interactions, users, tracks)
    vectors = content_vectors(tracks, MusicPreprocessor.load(folder / "preprocessor"))
    started = time.perf_counter()
    served = served_recommendations(
        model, "bench", fallback, interactions, users, tracks, vectors, k=K, diversity=0.2
    )
    serve_s = time.perf_counter() - started
    started = time.perf_counter()
    new = new_track_recommendations(model, "bench", users, NEW_TRACKS_K)
    new_s = time.perf_counter() - started
    cold = segment_recommendations(fallback, users, K)
    audiences = single_model_audiences(model.name, "bench", "benchmark")
    tables = serving_tables(served, new, cold, users, tracks, interactions, audiences, "synthetic")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        publish_serving_database(Path(tmp) / "musicrec.duckdb", tables, SERVING_VIEWS)
        publish_s = time.perf_counter() - started
    return {
        "rows": len(served) + len(new),
        "serve": serve_s,
        "new_tracks": new_s,
        "new_rows": len(new),
        "publish": publish_s,
    }


def _child(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    folder = Path(args.folder)
    work = {
        "warehouse": lambda: build_warehouse(folder, args.plays),
        "split": lambda: split(folder),
        "preprocessor": lambda: preprocessor(folder),
        "training": lambda: training(folder, args.epochs),
        "evaluation": lambda: evaluation(folder, args.eval_models),
        "recommend_all": lambda: recommend_all(folder),
        "publish": lambda: publish(folder),
    }[args.child]
    started = time.perf_counter()
    result = work()
    result |= {"seconds": time.perf_counter() - started, "peak_mb": peak_mb()}
    Path(args.out).write_text(json.dumps(result, default=str))


# --- the parent: runs the children and reports -----------------------------------------------
def run_model_stage(
    stage: str, plays: int, folder: Path, epochs: int, eval_models: str = EVAL_MODELS
) -> dict:
    """One stage of this script in a process of its own, on the folder's files."""
    out = folder / f"{stage}.json"
    options = {"epochs": epochs, "eval_models": eval_models}
    return run_stage(__file__, stage, plays, out, folder=folder, **options)


def _lines(plays: int, results: dict) -> list[str]:
    lines = [
        f"| {plays:,} | stage | rows | seconds | peak RSS (MB) | notes |",
        "|---|---|---|---|---|---|",
    ]
    for stage, row in results.items():
        notes = ""
        if stage == "training":
            epochs = row["epochs"]
            each = ", ".join(
                f"{e['seconds']:.0f} s ({e['lists_per_second']:,.0f} lists/s)" for e in epochs
            )
            notes = f"epochs run {len(epochs)}: {each}; item-item: {row['item_item']}"
        elif stage == "evaluation":
            notes = ", ".join(
                f"{k} {v['sample']:,} of {v['population']:,}" for k, v in row["users"].items()
            )
            fits = ", ".join(f"{k} {v:.0f} s" for k, v in row["fit_seconds"].items())
            notes += f" users; fits: {fits or 'none'}"
            if row["left_out"]:
                notes += f"; left out: {', '.join(row['left_out'])}"
        elif stage == "recommend_all":
            ratio = row["seconds_inner"] / row["floor"]
            notes = (
                f"`Hybrid.recommend` top {K} of every user {row['seconds_inner']:.1f} s; floor "
                f"(bare product + top-{K}) {row['floor']:.1f} s: **{ratio:.2f}x**"
            )
        elif stage == "publish":
            notes = (
                f"served lists (MMR) {row['serve']:.1f} s; new-track lists "
                f"({row['new_rows']:,} rows) {row['new_tracks']:.1f} s; publishing "
                f"{row['rows']:,} rows {row['publish']:.1f} s"
            )
        lines.append(
            f"| | {stage} | {row.get('rows', 0):,} | {row['seconds']:.1f} | "
            f"{row['peak_mb']:,.0f} | {notes} |"
        )
    return lines


def main() -> None:
    parser = sized_parser(__doc__.split("\n\n")[0], "100000,1000000,10000000")
    parser.add_argument("--epochs", type=int, default=20, help="most epochs to train")
    parser.add_argument("--stages", default=",".join(STAGES), help="stages to run, in order")
    parser.add_argument(
        "--eval-models",
        default=EVAL_MODELS,
        help='models evaluation ranks, comma-separated, or "all" (the asset\'s default)',
    )
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from common import record_heading

    print(record_heading())
    for plays in (int(x) for x in args.sizes.split(",")):
        folder = Path(args.workdir) / f"plays-{plays}"
        if not (folder / "musicrec.duckdb").exists():
            run_model_stage("warehouse", plays, folder, args.epochs)
        results = {
            stage: run_model_stage(stage, plays, folder, args.epochs, args.eval_models)
            for stage in args.stages.split(",")
        }
        print()
        print("\n".join(_lines(plays, results)), flush=True)


if __name__ == "__main__":
    main()
