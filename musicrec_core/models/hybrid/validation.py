"""Validation NDCG@10 of the served two-stage ranking, and the stopping score early stopping
and the learning-rate schedule follow."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from scipy import sparse

from musicrec_core.metrics import ndcg_of_rows
from musicrec_core.models.hybrid.config import TrainConfig
from musicrec_core.models.hybrid.content_similarity import ContentSimilarity
from musicrec_core.models.hybrid.fusion import standardise
from musicrec_core.models.hybrid.item_item import ItemItemScores
from musicrec_core.models.hybrid.network import HybridRecommender
from musicrec_core.models.hybrid.sampling import flat_history, played_mask
from musicrec_core.models.hybrid.two_stage import two_stage_tops

VAL_K = 10
VAL_NDCG = f"val_ndcg@{VAL_K}"
VAL_CONTENT = f"val_content_ndcg@{VAL_K}"
VAL_STOP = "val_stopping_score"  # what early stopping and the learning-rate schedule follow


def validation_users(validation: sparse.csr_matrix, config: TrainConfig) -> np.ndarray:
    """Rows with validation plays: all of them, or the same seeded sample of
    ``config.validation_users`` at every call, which bounds the cost of a validation pass
    however many users there are."""
    users = np.flatnonzero(np.diff(validation.indptr) > 0)
    if config.validation_users and len(users) > config.validation_users:
        rng = np.random.default_rng(config.seed)
        users = np.sort(rng.choice(users, config.validation_users, replace=False))
    return users


def validation_ndcg(
    model: HybridRecommender,
    plays: sparse.csr_matrix,
    validation: sparse.csr_matrix,
    config: TrainConfig,
    device: torch.device,
    item_item: ItemItemScores | None = None,
    item_item_weight: float = 0.0,
    item_item_retrieval_weight: float = 0.0,
    content_only: bool = False,
) -> float:
    """Mean binary NDCG@10 of the two-stage ranking over users with validation plays (see
    ``validation_users``), the head
    fused with ``item_item`` scores at ``item_item_weight`` and retrieval at
    ``item_item_retrieval_weight``. With ``content_only``: of the towers' dot product alone
    with every track's vector from content alone, as new tracks are ranked."""
    weights = (item_item_weight,)
    return validation_ndcgs(
        model,
        plays,
        validation,
        config,
        device,
        item_item,
        weights,
        item_item_retrieval_weight,
        content_only,
    )[item_item_weight]


def _user_blocks(
    model: HybridRecommender,
    plays: sparse.csr_matrix,
    users: np.ndarray,
    config: TrainConfig,
    device: torch.device,
    table: torch.Tensor,
) -> Iterator[tuple[np.ndarray, sparse.csr_matrix, tuple, torch.Tensor]]:
    """The ``users`` a validation batch at a time: their rows, plays, plays in
    ``flat_history`` layout and user vectors."""
    for start in range(0, len(users), config.val_batch_size):
        rows = users[start : start + config.val_batch_size]
        block = plays[rows]
        history = flat_history(block, device)
        users_t = torch.as_tensor(rows, device=device)
        yield rows, block, history, model.user_vectors_flat(users_t, *history, table)


@torch.no_grad()
def validation_ndcgs(
    model: HybridRecommender,
    plays: sparse.csr_matrix,
    validation: sparse.csr_matrix,
    config: TrainConfig,
    device: torch.device,
    item_item: ItemItemScores | None,
    item_item_weights: tuple[float, ...],
    item_item_retrieval_weight: float = 0.0,
    content_only: bool = False,
) -> dict[float, float]:
    """``validation_ndcg`` at each of the ``item_item_weights`` fusing the head with the
    item-item scores, in one pass: retrieval and the head's scores do not depend on it."""
    model.eval()
    users = validation_users(validation, config)
    if not len(users):
        return dict.fromkeys(item_item_weights, float("nan"))
    table = model.item_vectors()
    candidates = model.item_vectors(id_dropout=1.0) if content_only else table
    totals = dict.fromkeys(item_item_weights, 0.0)
    for rows, block, (index, offsets, _), vectors in _user_blocks(
        model, plays, users, config, device, table
    ):
        coo = block.tocoo()
        exclude = (
            torch.as_tensor(coo.row.astype(np.int64), device=device),
            torch.as_tensor(coo.col.astype(np.int64), device=device),
        )
        n_candidates = 0 if content_only else config.n_candidates
        evidence = None
        if item_item is not None and not content_only:
            evidence = item_item.evidence(index, offsets, 0.0, item_item_retrieval_weight)
        tops = two_stage_tops(
            model,
            vectors,
            candidates,
            exclude,
            n_candidates,
            VAL_K,
            evidence,
            None,
            item_item_weights,
        )
        relevant = validation[rows]
        for w, (top, _) in tops.items():
            totals[w] += float(ndcg_of_rows(top.cpu().numpy(), relevant).sum())
    return {w: total / len(users) for w, total in totals.items()}


@torch.no_grad()
def content_validation_ndcgs(
    model: HybridRecommender,
    plays: sparse.csr_matrix,
    validation: sparse.csr_matrix,
    config: TrainConfig,
    device: torch.device,
    content: ContentSimilarity,
    weights: tuple[float, ...],
) -> dict[float, float]:
    """``validation_ndcg`` with ``content_only`` for each of the ``weights`` at which the
    ``content`` similarity is fused, in one pass.

    With every track ranked by content alone, serving's boost (``boost_content``) re-orders
    all of them by ``z(dot) + weight * z(similarity)``, so the top is that sum's: both z-scores
    are computed once per block of users and only the sum is taken per weight.
    """
    model.eval()
    users = validation_users(validation, config)
    if not len(users):
        return dict.fromkeys(weights, float("nan"))
    candidates = model.item_vectors(id_dropout=1.0)
    every = np.arange(model.n_items)
    table = model.item_vectors()
    totals = dict.fromkeys(weights, 0.0)
    for rows, block, _, vectors in _user_blocks(model, plays, users, config, device, table):
        ones = torch.ones(len(vectors), 1, device=device)
        own = torch.cat([vectors, ones], dim=1) @ candidates.T
        valid = ~played_mask(block, device)
        dot = standardise(own, valid)
        similarity = standardise(content.scores(block, every, device), valid)
        for w in weights:
            fused = (dot + w * similarity).masked_fill_(~valid, float("-inf"))
            top = fused.topk(min(VAL_K, fused.shape[1]), dim=1).indices
            totals[w] += float(ndcg_of_rows(top.cpu().numpy(), validation[rows]).sum())
    return {w: total / len(users) for w, total in totals.items()}


@torch.no_grad()
def item_item_validation_ndcg(
    item_item: ItemItemScores,
    plays: sparse.csr_matrix,
    validation: sparse.csr_matrix,
    config: TrainConfig,
    device: torch.device,
) -> float:
    """Mean binary NDCG@10 of the item-item scores alone, over users with validation plays."""
    users = validation_users(validation, config)
    if not len(users):
        return float("nan")
    total = 0.0
    for start in range(0, len(users), config.val_batch_size):
        rows = users[start : start + config.val_batch_size]
        block = plays[rows]
        index, offsets, _ = flat_history(block, device)
        evidence = item_item.evidence(index, offsets)
        scores = (evidence.pooled @ evidence.targets.T).masked_fill(
            played_mask(block, device), float("-inf")
        )
        top = scores.topk(min(VAL_K, scores.shape[1]), dim=1).indices
        total += float(ndcg_of_rows(top.cpu().numpy(), validation[rows]).sum())
    return total / len(users)


def stopping_score(metrics: dict) -> float:
    """Mean validation NDCG@10 of the served ranking and of the content path.

    New tracks are ranked by the content path alone, which settles later than the served
    ranking: signals without it kept early epochs whose new-track NDCG@10 was 0.14 where the
    settled model gives 0.17-0.19 on the demo.
    """
    return float(np.mean([metrics[key] for key in (VAL_NDCG, VAL_CONTENT) if key in metrics]))
