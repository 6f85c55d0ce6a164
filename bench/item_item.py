"""The scalable item-item models (low-rank EASE, ELSA) against exact dense EASE, measured in
the same run.

Per data set (the demo catalogue, Echo Nest): each fitted on the split's training plays, warm
NDCG@10 by the evaluation protocol with its bootstrap interval, the paired difference to EASE
over the same users, fit seconds and the fit's peak RSS (the process's high-water mark, reset
before each fit), and the ratios to EASE. Then both alone on a synthetic catalogue of
``--scale-plays`` plays (about 312,000 tracks at 10 M), where dense EASE would need
~12 bytes x tracks² (1.2 TB): low-rank EASE's fit at the default λ, and ELSA's seconds per
epoch, with peak RSS. Usage:
.venv/bin/python bench/item_item.py [--datasets demo,echonest] [--scale-plays 10000000]
[--scale-epochs 1] [--scale-batch-users 8192]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from common import machine, ndcg_at_10, sources
from memory import peak_mb, reset_peak
from scipy import sparse

from musicrec_core import metrics as m
from musicrec_core.data import holdout, prepare
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.data.sources.synthetic import SyntheticConfig, generate
from musicrec_core.evaluation import EvaluationData, evaluate_models, paired_differences
from musicrec_core.models import (
    EASE,
    EASE_FALLBACK_L2,
    EASE_L2_CHOICES,
    ELSA,
    LowRankEASE,
    Recommender,
    choose_low_rank_l2,
    elsa_factors,
    low_rank_ease_factors,
    low_rank_gram,
)
from musicrec_core.models.hybrid import resolve_device

logger = logging.getLogger("bench.item_item")


def _measured(fit: Callable[[], object]) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one call."""
    reset_peak()
    started = time.perf_counter()
    fit()
    return time.perf_counter() - started, peak_mb()


def compare(name: str, source: SourceConfig, elsa: Callable[[], ELSA]) -> list[str]:
    """EASE, low-rank EASE and ELSA on one data set's warm test set, as markdown lines."""
    data = prepare(source)
    train = EvaluationData.from_split(data.split, data.users, data.tracks).train
    models: dict[str, Recommender] = {
        "ease": EASE(),
        "low_rank_ease": LowRankEASE(),
        "elsa": elsa(),
    }
    costs = {key: _measured(lambda model=model: model.fit(train)) for key, model in models.items()}
    result = evaluate_models(
        data.split,
        data.users,
        data.tracks,
        names=list(models),
        ks=(10,),
        fitted=models,
        test_sets=["warm"],
    ).result
    ndcg = ndcg_at_10(result.summary).set_index(s.MODEL_NAME)
    played = len(models["ease"].items)
    lines = [
        f"#### {name} ({source.describe()}; {played:,} played tracks)",
        "",
        "| model | warm NDCG@10 | fit s | peak RSS (MB) | vs EASE: NDCG@10, paired difference, "
        "fit time, peak RSS |",
        "|---|---|---|---|---|",
    ]
    for key in models:
        row = ndcg.loc[key]
        versus = ""
        if key != "ease":
            ratio = row[m.MEAN] / ndcg.loc["ease", m.MEAN]
            paired = paired_differences(result.per_user, key)
            diff = paired[paired["other_model"] == "ease"].iloc[0]
            versus = (
                f"{ratio:.3f}x ({ratio - 1:+.1%}), {diff[m.MEAN]:+.4f} "
                f"[{diff[m.CI_LOW]:+.4f}, {diff[m.CI_HIGH]:+.4f}] over "
                f"{diff[m.N_USERS]:,} users, {costs[key][0] / costs['ease'][0]:.2f}x, "
                f"{costs[key][1] / costs['ease'][1]:.2f}x"
            )
        lines.append(
            f"| {key} | {row[m.MEAN]:.4f} [{row[m.CI_LOW]:.4f}, {row[m.CI_HIGH]:.4f}] "
            f"| {costs[key][0]:.1f} | {costs[key][1]:,.0f} | {versus} |"
        )
    lines += [
        "",
        f"λ chosen: EASE {models['ease'].l2:g}, low-rank EASE {models['low_rank_ease'].l2:g} "
        f"(rank {models['low_rank_ease'].sources.shape[1]}).",
        "",
    ]
    return lines


def scale(n_plays: int, rank: int, epochs: int, batch_users: int) -> list[str]:
    """Low-rank EASE's and ELSA's fits on a synthetic catalogue of about ``n_plays`` plays, as
    markdown lines."""
    started = time.perf_counter()
    plays = generate(SyntheticConfig.scaled(n_plays, dirty_rate=0.0)).raw.plays
    users, user_ids = pd.factorize(plays[s.USER_ID])
    tracks, track_ids = pd.factorize(plays[s.TRACK_ID])
    x = sparse.csr_matrix(
        (np.ones(len(users), np.float32), (users, tracks)), shape=(len(user_ids), len(track_ids))
    )
    x.sum_duplicates()
    x.data[:] = 1.0
    del plays, users, tracks
    built = time.perf_counter() - started
    device = resolve_device("auto")
    low_rank = LowRankEASE().rank
    kept, held = holdout(x, np.random.default_rng(0))
    search_s, search_peak = _measured(partial(choose_low_rank_l2, kept, held, low_rank))
    low_rank_s, low_rank_peak = _measured(
        lambda: low_rank_ease_factors(low_rank_gram(x, low_rank), EASE_FALLBACK_L2)
    )
    seconds, peak = _measured(lambda: elsa_factors(x, rank, epochs, batch_users, 0.1, 0, device))
    n_users, n_tracks = x.shape
    return [
        f"#### Alone at {x.nnz:,} plays ({n_users:,} users, {n_tracks:,} tracks)",
        "",
        f"Low-rank EASE at rank {low_rank}: its λ search on a holdout of the plays (one "
        f"factorisation, then {len(EASE_L2_CHOICES)} rankings of a sample of held-out "
        f"users) {search_s:.0f} s, peak RSS {search_peak:,.0f} MB; the fit at one λ "
        f"{low_rank_s:.0f} s, peak RSS {low_rank_peak:,.0f} MB (the play matrix included; the "
        f"two factor matrices are {8 * n_tracks * low_rank / 1e6:,.0f} MB).",
        "",
        f"ELSA at rank {rank}, {epochs} epoch(s) of {batch_users:,}-user batches on {device}: "
        f"{seconds:.0f} s ({seconds / epochs:.0f} s per epoch, "
        f"{-(-n_users // batch_users)} steps each), peak RSS {peak:,.0f} MB (the play matrix "
        f"included; A alone is {n_tracks * rank * 4 / 1e6:,.0f} MB, Adam keeps two more). "
        f"Dense EASE would need {12 * n_tracks**2 / 1e12:.1f} TB while fitting. "
        f"(Building the play matrix: {built:.0f} s.)",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", default="demo,echonest", help="empty: the scale part only")
    parser.add_argument("--rank", type=int, default=ELSA().rank)
    parser.add_argument("--epochs", type=int, default=ELSA().epochs)
    parser.add_argument("--scale-plays", type=int, default=10_000_000, help="0: skip")
    parser.add_argument("--scale-epochs", type=int, default=1)
    parser.add_argument("--scale-batch-users", type=int, default=8192)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sys.stdout.write(
        f"### Record of {dt.date.today().isoformat()}, {machine()}\n\n"
        f"Low-rank EASE rank {LowRankEASE().rank}; ELSA rank {args.rank}, {args.epochs} "
        "epochs.\n\n"
    )
    names = [name for name in args.datasets.split(",") if name]
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in sources(names, Path(tmp)).items():
            elsa = partial(ELSA, rank=args.rank, epochs=args.epochs)
            sys.stdout.write("\n".join(compare(name, source, elsa)) + "\n")
            sys.stdout.flush()
    if args.scale_plays:
        lines = scale(args.scale_plays, args.rank, args.scale_epochs, args.scale_batch_users)
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
