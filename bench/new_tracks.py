"""The scores behind the new-track lists: the hybrid's scores of the unplayed tracks only
(``score_tracks``) against its full-catalogue scores cut to those tracks afterwards, the path
they replaced, measured in the same process on the same users.

Per size (plays): the warehouse and saved hybrid that bench/scale_model.py left in
``--workdir`` (run it first), every play served over as the serving assets do; ``--users``
listeners, each path run twice, the faster run kept; the two must give equal scores.
Usage: .venv/bin/python bench/new_tracks.py [--sizes 1000000,10000000] [--users 4000]
[--workdir /tmp/musicrec-scale-model]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import start_record
from memory import sized_parser
from scale_model import _hybrid, served_inputs

from musicrec_core.models import Recommender
from musicrec_core.serving import unplayed_columns

logger = logging.getLogger("bench.new_tracks")


def _fastest(run: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    """Seconds of the faster of two runs, and the result."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def measure(folder: Path, n_users: int) -> str:
    """One Markdown row: tracks, unplayed tracks, both paths' seconds, their ratio."""
    interactions, users, tracks = served_inputs(folder)
    model = _hybrid(folder, interactions, users, tracks)
    matrix = model.data.matrix
    columns = unplayed_columns(matrix)
    user_ids = matrix.user_ids[:n_users]
    only, some = _fastest(lambda: model.score_tracks(user_ids, columns))
    full, cut = _fastest(lambda: Recommender.score_tracks(model, user_ids, columns))
    if not np.array_equal(some, cut):
        raise SystemExit(f"{folder}: the two paths gave different scores")
    return (
        f"| {len(interactions):,} | {len(matrix.track_ids):,} | {len(columns):,} | "
        f"{len(user_ids):,} | {full:.1f} | {only:.1f} | **{full / only:.2f}x** |"
    )


def main() -> None:
    parser = sized_parser(__doc__.split("\n\n")[0], "1000000,10000000")
    parser.add_argument("--users", type=int, default=4000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    start_record(
        "plays | tracks | unplayed tracks | users | full scores, then columns (s) "
        "| unplayed tracks only (s) | speed-up"
    )
    for plays in (int(x) for x in args.sizes.split(",")):
        print(measure(Path(args.workdir) / f"plays-{plays}", args.users), flush=True)


if __name__ == "__main__":
    main()
