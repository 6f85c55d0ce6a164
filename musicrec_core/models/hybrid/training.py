"""Training loop of the HybridRecommender: ListNet lists per user, early stopping on NDCG@10.

Each epoch shuffles every user's plays and deals them into ``round(1 / target_fraction)``
parts; each part is one list's positives (target ``log1p(plays)``), next to sampled negatives
(half uniformly over played tracks, half in proportion to listeners, each scored less the log
of how often it is drawn), and the other parts are the history the user tower pools, so every
play is a target once per epoch and the model learns to predict held-out plays rather than copy
its input. A share of lists drop the history (demographics only), as cold-start users have
none. Both stages are trained on the same lists: the dot product of the towers and the head."""

from __future__ import annotations

import copy
import logging
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy import sparse
from tqdm.auto import tqdm

from musicrec_core.data.interactions import listeners_per_track
from musicrec_core.models.adam import adam
from musicrec_core.models.hybrid.config import TrainConfig, resolve_device, seed_everything
from musicrec_core.models.hybrid.loss import EnhancedListNetLoss
from musicrec_core.models.hybrid.network import HybridRecommender
from musicrec_core.models.hybrid.sampling import ListSampler, batch_tensors, played_mask
from musicrec_core.models.hybrid.validation import (
    VAL_CONTENT,
    VAL_NDCG,
    VAL_STOP,
    stopping_score,
    validation_ndcg,
)

logger = logging.getLogger(__name__)


EpochCallback = Callable[[int, dict], None]


def unique_rows(rows: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.unique(rows, return_inverse=True)`` for indices below ``n``, by marking them in
    a mask of ``n`` instead of sorting ``rows`` (a batch's listed rows among its pooled ones,
    which are already unique)."""
    seen = torch.zeros(n, dtype=torch.bool, device=rows.device)
    seen[rows] = True
    position = torch.cumsum(seen, dim=0) - 1
    return seen.nonzero().ravel(), position[rows]


def _batch_loss(
    model: HybridRecommender,
    batch: dict[str, torch.Tensor],
    plays: sparse.csr_matrix,
    loss_fn: EnhancedListNetLoss,
    similarity: Sequence[torch.Tensor],
    config: TrainConfig,
) -> dict[str, torch.Tensor]:
    """Loss of both stages on a batch of lists (``plays``: the batch users' rows).

    Item vectors are computed for the tracks the batch reads (its lists and histories) only.
    Retrieval: the dot product over each list (positives and the shared sampled negatives).
    Re-ranking: the head over the ``rerank_list`` best dot scores among the batch's listed
    tracks outside each user's history, positives being the held-out plays among them: a
    sample of the candidates the head sees when serving, which on catalogues smaller than a
    batch's lists is nearly all of them. The ILS term applies to the head's ranking.
    """
    listed_ids, history = batch["items"], batch["history"]
    pool, rows = torch.unique(torch.cat([listed_ids.ravel(), history.ravel()]), return_inverse=True)
    listed_rows = rows[: listed_ids.numel()].view_as(listed_ids)
    table = model.item_vectors(pool, id_dropout=config.item_id_dropout)
    users = model.user_vectors(
        batch["users"],
        history,
        batch["history_weight"],
        table,
        id_dropout=config.user_id_dropout,
        table_rows=rows[listed_ids.numel() :].view_as(history),
    )
    listed = table[listed_rows]
    dot = (users[:, None, :] * listed[..., : model.dim]).sum(-1) + listed[..., model.dim]
    if config.sampling_correction:  # times the temperature the loss divides by
        dot = dot - config.temperature * batch["log_draws"]
    retrieval = loss_fn(dot, batch["target"], batch["mask"], batch["positive"])

    with torch.no_grad():
        candidates, slots = unique_rows(listed_rows, len(pool))
        tracks = pool[candidates]
        gains = torch.zeros((len(users), len(candidates)), device=dot.device)
        listed_gains = torch.where(batch["positive"], batch["target"], 0.0)
        gains.scatter_reduce_(1, slots, listed_gains, reduce="amax")  # duplicates
        is_target = gains > 0
        played = played_mask(plays[:, tracks.cpu().numpy()], dot.device)
        scores = model.dot(users, table[candidates])
        scores = scores.masked_fill(played & ~is_target, float("-inf"))
        top = scores.topk(min(config.rerank_list, scores.shape[1]), dim=1).indices
        positive = is_target.gather(1, top)
        target = gains.gather(1, top)
        mask = torch.isfinite(scores.gather(1, top))
    head = model(users, table[candidates[top]])
    feats = [block[tracks[top]] for block in similarity]
    # Only lists with a history are diversified: a listener known by demographics alone gets
    # the surest tracks for them, not a spread (the penalty cost new users a fifth of their
    # NDCG@10 at weights where it pays for warm ones).
    has_history = batch["history_weight"].sum(dim=1) > 0
    rerank = loss_fn(head, target, mask, positive, features=feats, diversify=has_history)
    return {
        "listnet": retrieval.listnet + rerank.listnet,
        "ils": rerank.ils,
        "total": retrieval.total + rerank.total,
    }


def train(
    model: HybridRecommender,
    plays: sparse.csr_matrix,
    validation: sparse.csr_matrix | None,
    config: TrainConfig,
    similarity: Sequence[np.ndarray] = (),
    on_epoch: EpochCallback | None = None,
) -> list[dict]:
    """Train ``model`` in place on a user x item play-count matrix; returns per-epoch metrics.

    ``validation`` (same shape) holds each user's validation plays: the weights of the epoch
    with the best ``stopping_score`` are kept, training stops after ``patience`` epochs without
    improvement. ``similarity``: per-item feature blocks (n_items, dim) for the ILS term.
    """
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.utils.deterministic.fill_uninitialized_memory,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)  # embedding gradients, CPU threads
    # Every tensor is written before it is read: filling new memory with NaN only costs time.
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        return _train(model, plays, validation, config, similarity, on_epoch)
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.utils.deterministic.fill_uninitialized_memory = previous[2]


def _train(
    model: HybridRecommender,
    plays: sparse.csr_matrix,
    validation: sparse.csr_matrix | None,
    config: TrainConfig,
    similarity: Sequence[np.ndarray],
    on_epoch: EpochCallback | None,
) -> list[dict]:
    device = resolve_device(config.device)
    seed_everything(config.seed)
    rng = np.random.default_rng(config.seed)
    model.to(device)
    model.item_known[:] = torch.as_tensor(listeners_per_track(plays) > 0)
    sampler = ListSampler(plays, config, rng)
    blocks = [torch.as_tensor(np.asarray(b, np.float32), device=device) for b in similarity]
    loss_fn = EnhancedListNetLoss(config.ils_weight, config.temperature)
    optimizer = adam(model.parameters(), device, config.learning_rate, config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", patience=1)
    show = config.progress and sys.stderr.isatty()
    history: list[dict] = []
    best, best_state, stale = -np.inf, None, 0
    bar = tqdm(range(1, config.epochs + 1), desc="hybrid", unit="epoch", disable=not show)
    for epoch in bar:
        started = time.perf_counter()
        model.train()
        sums = {"listnet": 0.0, "ils": 0.0, "total": 0.0}
        order, parts_all = sampler.lists()
        n_batches = 0
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            if len(rows) < 2:  # BatchNorm needs two samples
                continue
            part = None if parts_all is None else parts_all[start : start + config.batch_size]
            batch = batch_tensors(sampler.batch(rows, part), device)
            parts = _batch_loss(model, batch, plays[rows], loss_fn, blocks, config)
            optimizer.zero_grad()
            parts["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            for key in sums:
                sums[key] += float(parts[key].detach())
            n_batches += 1
        lists_per_second = len(order) / (time.perf_counter() - started)
        metrics = {"epoch": epoch, **{k: v / max(n_batches, 1) for k, v in sums.items()}}
        metrics["lists_per_second"] = round(lists_per_second, 1)
        if validation is not None:
            metrics[VAL_NDCG] = validation_ndcg(model, plays, validation, config, device)
            metrics[VAL_CONTENT] = validation_ndcg(
                model, plays, validation, config, device, content_only=True
            )
            metrics[VAL_STOP] = stopping_score(metrics)
        metrics["lr"] = optimizer.param_groups[0]["lr"]
        metrics["seconds"] = round(time.perf_counter() - started, 3)
        history.append(metrics)
        logger.info("hybrid epoch %d: %s", epoch, metrics)
        bar.set_postfix({k: round(v, 4) for k, v in metrics.items() if k != "epoch"})
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        score = metrics.get(VAL_STOP, -metrics["total"])
        if score > best:
            best, best_state, stale = score, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
        if validation is not None:
            scheduler.step(score)
            if stale >= config.patience:
                logger.info(
                    "hybrid: early stop after epoch %d (best %s %.4f)", epoch, VAL_STOP, best
                )
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
