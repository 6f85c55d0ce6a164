"""item_knn's fit from sparse co-play blocks against the dense block-wise fit it replaced,
measured in the same run.

Per size (plays): the synthetic catalogue through the data path and the split (reused from
``--workdir``, shared with bench/scale_model.py), then each fit on the training plays in a
process of its own: seconds, peak RSS, neighbour links kept, the ratio of the dense fit's
seconds to the sparse one's, and the largest difference between the two fits' kept
similarities, sorted per track (the same neighbours give 0 up to float32 rounding). The dense fit
computes every block of the tracks x tracks similarity matrix, so its cost grows with the
catalogue squared; the sparse one touches only pairs of tracks some user played both of.
Usage: .venv/bin/python bench/item_knn.py [--sizes 100000,1000000,10000000]
[--workdir /tmp/musicrec-scale-model]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from common import start_record
from memory import peak_mb, run_stage, sized_parser
from scale_model import split_warehouse, warehouse_tables
from scipy import sparse

from musicrec_core.data import training_rows
from musicrec_core.models import ItemKNN, TrainingData, weighted_matrix

logger = logging.getLogger("bench.item_knn")
FITS = ("sparse", "dense")
DENSE_BLOCK_ELEMENTS = 8_000_000


def dense_neighbours(model: ItemKNN, x: sparse.csr_matrix) -> sparse.csr_matrix:
    """The replaced fit: dense row blocks of XᵀX, each turned into similarities and cut to the
    k best per row with argpartition."""
    n_items = x.shape[1]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel()).astype(np.float32)
    xt = sparse.csr_matrix(x.T)
    step = max(1, min(n_items, DENSE_BLOCK_ELEMENTS // max(n_items, 1)))
    k = min(model.k_neighbours, n_items)
    rows, cols, vals = [], [], []
    for start in range(0, n_items, step):
        stop = min(start + step, n_items)
        dots = (xt[start:stop] @ x).toarray().astype(np.float32, copy=False)
        denom = norms[start:stop, None] * norms[None, :] + np.float32(model.shrinkage)
        sim = np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)
        sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
        idx = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sim, idx, axis=1)
        keep = top > 0
        rows.append(np.nonzero(keep)[0] + start)
        cols.append(idx[keep])
        vals.append(top[keep])
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
        dtype=np.float32,
    )


def fit(folder: Path, kind: str) -> dict:
    """One fit on the training plays; its neighbours go to ``folder/item_knn-KIND.npz``."""
    data, users, tracks = warehouse_tables(folder)
    training = TrainingData(training_rows(data), users, tracks)
    del data
    model = ItemKNN()
    matrix = training.matrix
    started = time.perf_counter()
    if kind == "sparse":
        neighbours = model.fit(training).neighbours
    else:
        neighbours = dense_neighbours(model, weighted_matrix(matrix, model.weighting))
    seconds = time.perf_counter() - started
    sparse.save_npz(folder / f"item_knn-{kind}.npz", neighbours)
    return {"tracks": matrix.matrix.shape[1], "links": int(neighbours.nnz), "seconds": seconds}


def largest_difference(folder: Path) -> float:
    """The largest gap, over tracks and ranks, between the two fits' sorted kept similarities."""
    a, b = (sparse.load_npz(folder / f"item_knn-{kind}.npz").tocsr() for kind in FITS)
    worst = 0.0
    for row in range(a.shape[0]):
        x = np.sort(a.data[a.indptr[row] : a.indptr[row + 1]])
        y = np.sort(b.data[b.indptr[row] : b.indptr[row + 1]])
        if len(x) != len(y):
            return float("inf")
        if len(x):
            worst = max(worst, float(np.abs(x - y).max()))
    return worst


def _child(args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    result = fit(folder, args.child)
    result["peak_mb"] = peak_mb()
    Path(args.out).write_text(json.dumps(result))


def main() -> None:
    args = sized_parser(__doc__.split("\n\n")[0], "100000,1000000,10000000").parse_args()
    if args.child:
        _child(args)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    start_record(
        "plays | tracks | fit | seconds | peak RSS (MB) | neighbour links "
        "| dense / sparse | largest difference"
    )
    for plays in (int(x) for x in args.sizes.split(",")):
        folder = split_warehouse(args.workdir, plays)
        results = {
            kind: run_stage(__file__, kind, plays, folder / f"item_knn-{kind}.json", folder=folder)
            for kind in FITS
        }
        ratio = f"**{results['dense']['seconds'] / results['sparse']['seconds']:.1f}x**"
        gap = f"{largest_difference(folder):.1e}"
        for kind in FITS:
            r = results[kind]
            print(
                f"| {plays:,} | {r['tracks']:,} | {kind} | {r['seconds']:.1f} | "
                f"{r['peak_mb']:,.0f} | {r['links']:,} | "
                f"{ratio if kind == 'sparse' else ''} | {gap if kind == 'sparse' else ''} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
