"""Two-stage ranking with a HybridRecommender: the towers' dot product (fused with item-item
evidence and the content boost) retrieves candidates from the whole catalogue, the head
re-ranks them.

Serving works through users a block at a time: blocks this small keep the dot scores, gathered
vectors and hidden layers in cache, which measured faster than one pass over every user.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional as F

from musicrec_core.models.hybrid.fusion import (
    ContentBoost,
    ItemItemEvidence,
    Retrieval,
    boost_content,
    fuse,
    fusion_order,
    retrieval_items,
)
from musicrec_core.models.hybrid.network import HybridRecommender

# Dot scores per retrieval block (4 MB), and user x candidate pairs per head block.
RETRIEVAL_BLOCK = 1 << 20
HEAD_BLOCK = 1 << 13
# Fewest users per retrieval block. Beyond a few tens of thousands of tracks 4 MB of scores
# holds only a few users, and each block re-reads the whole item table from memory: on 312,500
# tracks blocks of 3 users took 4.6 times as long as blocks of 214.
RETRIEVAL_MIN_USERS = 128
# Fewest users for which retrieval scores the catalogue in the order of their average scores:
# for fewer, sorting and copying the item table costs more than it saves (one listener at 1 M
# plays: a third of an answer).
LIKELY_FIRST_MIN_USERS = 32


def _block_size(users: int, n_users: int, device: torch.device) -> int:
    """Users per serving block: ``users`` on the CPU, all at once on an accelerator, where
    small blocks would only add kernel launches."""
    return max(n_users if device.type != "cpu" else users, 1)


def _spread(vectors: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """(n, 1) standard deviation over the table's rows of each vector's products with them."""
    centred = table - table.mean(dim=0, keepdim=True)
    covariance = centred.T @ centred / max(len(table), 1)
    variance = ((vectors @ covariance) * vectors).sum(dim=1, keepdim=True)
    return variance.clamp(min=1e-12).sqrt()


class _BoostedPlaces(NamedTuple):
    """Users whose top holds boosted tracks: their rows, which places of the top those tracks
    hold, and the users' scores of every boosted track (-inf where excluded)."""

    rows: torch.Tensor
    places: torch.Tensor
    own: torch.Tensor


def _boosted_places(
    scores: torch.Tensor,
    indices: torch.Tensor,
    finite: torch.Tensor,
    boosted: torch.Tensor,
    columns: torch.Tensor,
    offset: int,
) -> _BoostedPlaces:
    """The boosted places in the top ``indices`` (``finite``: places with a finite score) of a
    block of users' ``scores`` (-inf where excluded); rows count from ``offset``."""
    places = boosted[indices] & finite
    changed = torch.nonzero(places.any(dim=1)).squeeze(1)
    # two index_select calls gather several times faster than one two-dimensional index
    own = scores.index_select(1, columns).index_select(0, changed)
    return _BoostedPlaces(changed + offset, places[changed], own)


def _relabel(indices: torch.Tensor, found: _BoostedPlaces, boost: ContentBoost) -> None:
    """``indices`` (top tracks by score, high to low) after ``boost_content``, in place.

    The fusion keeps each user's set of boosted scores, so the top keeps its values; only the
    boosted tracks holding them change. A user's q boosted places, from the highest, go to the
    q boosted tracks first in fusion order.
    """
    if not len(found.rows):
        return
    order = fusion_order(found.own, torch.isfinite(found.own), boost, found.rows.cpu().numpy())
    first = order.topk(int(found.places.sum(dim=1).max()), dim=1).indices
    place_rank = (found.places.cumsum(dim=1) - 1).clamp(min=0)
    relabelled = boost.columns[first.gather(1, place_rank)]
    indices[found.rows] = torch.where(found.places, relabelled, indices[found.rows])


def build_retrieval(
    model: HybridRecommender,
    user_vectors: torch.Tensor,
    item_table: torch.Tensor,
    evidence: ItemItemEvidence | None = None,
) -> Retrieval:
    """Retrieval of the users (n, dim) over the items (n_items, dim + 1): the dot product
    with the item bias, fused with ``evidence`` at its retrieval weight."""
    ones = torch.ones(len(user_vectors), 1, device=user_vectors.device)
    users = torch.cat([user_vectors, ones], dim=1)
    if evidence is None or evidence.retrieval_weight <= 0:
        return Retrieval(users, item_table)
    weight = evidence.retrieval_weight
    dot_scale = _spread(users, item_table)
    evidence_scale = _spread(evidence.pooled, evidence.targets)
    return Retrieval(
        torch.cat([users / dot_scale, weight * evidence.pooled / evidence_scale], dim=1),
        retrieval_items(item_table, evidence.targets),
        dot_scale,
        weight * dot_scale / evidence_scale,
    )


def _head_and_prior(
    model: HybridRecommender,
    user_vectors: torch.Tensor,
    item_table: torch.Tensor,
    retrieval: Retrieval,
    candidates: torch.Tensor,
    scores: torch.Tensor,
    evidence: ItemItemEvidence | None,
    fuses_evidence: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The head's scores of the candidates from their retrieval ``scores``, and their
    item-item ``evidence`` when retrieval or ``fuses_evidence`` (the re-ranking) needs it."""
    fused = retrieval.evidence_weight is not None
    needed = evidence if fused or fuses_evidence else None
    head, prior = head_scores(
        model, user_vectors, item_table, candidates, retrieval.scaled_dot(scores), needed
    )
    if fused:  # the head adds to the dot scores alone
        head = head - retrieval.evidence_weight * prior
    return head, prior


def _rerank(
    model: HybridRecommender,
    user_vectors: torch.Tensor,
    item_table: torch.Tensor,
    retrieval: Retrieval,
    candidates: torch.Tensor,
    scores: torch.Tensor,
    evidence: ItemItemEvidence | None,
) -> torch.Tensor:
    """The head's scores of the candidates from their retrieval ``scores``, fused with
    their item-item ``evidence`` at its re-ranking weight; -inf where ``scores`` are."""
    weight = 0.0 if evidence is None else evidence.rerank_weight
    head, prior = _head_and_prior(
        model, user_vectors, item_table, retrieval, candidates, scores, evidence, weight > 0
    )
    valid = torch.isfinite(scores)
    return fuse(head, prior, valid, weight).masked_fill(~valid, float("-inf"))


def _retrieve(
    retrieval: Retrieval,
    exclude: tuple[torch.Tensor, torch.Tensor],
    n: int,
    boost: ContentBoost | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each user's ``n`` best retrieval scores (with ``boost``) outside ``exclude``: values
    high to low and track indices, and the row maxima (n_users, 1) of the unmasked scores,
    a block of users at a time."""
    user_vectors, item_table = retrieval.users, retrieval.items
    n_users = len(user_vectors)
    device = user_vectors.device
    values = torch.empty(n_users, n, device=device)
    indices = torch.empty(n_users, n, dtype=torch.long, device=device)
    ceiling = torch.empty(n_users, device=device)
    rows, cols = exclude
    if len(rows) and not bool((rows[1:] >= rows[:-1]).all()):
        by_row = rows.argsort()
        rows, cols = rows[by_row], cols[by_row]
    per_block = max(RETRIEVAL_BLOCK // max(item_table.shape[0], 1), RETRIEVAL_MIN_USERS)
    step = _block_size(per_block, n_users, device)
    starts = torch.arange(0, n_users + step, step, device=device)
    bounds = torch.searchsorted(rows, starts).tolist()
    if n_users >= LIKELY_FIRST_MIN_USERS:
        order, position = _likely_first(user_vectors, item_table)
        table, cols = item_table[order], position[cols]
    else:
        order = position = torch.arange(item_table.shape[0], device=device)
        table = item_table
    boosted = None
    if boost is not None and boost.active():
        boost_columns = position[boost.columns]
        boosted = torch.zeros(item_table.shape[0], dtype=torch.bool, device=device)
        boosted[boost_columns] = True
    found = []
    for block, start in enumerate(range(0, n_users, step)):
        span = slice(start, start + step)
        scores = user_vectors[span] @ table.T
        lo, hi = bounds[block], bounds[block + 1]
        r, c = rows[lo:hi] - start, cols[lo:hi]
        excluded = scores[r, c]
        scores[r, c] = float("-inf")
        top, top_index = scores.topk(n, dim=1)
        values[span], indices[span] = top, order[top_index]
        # the boost only moves scores between the boosted tracks: the maximum stays
        ceiling[span] = top[:, 0].scatter_reduce(0, r, excluded, reduce="amax")
        if boosted is not None:
            finite = torch.isfinite(top)
            found.append(_boosted_places(scores, top_index, finite, boosted, boost_columns, start))
    if found:
        rows_found, places, own = (torch.cat(part) for part in zip(*found, strict=True))
        _relabel(indices, _BoostedPlaces(rows_found, places, own), boost)
    return values, indices, ceiling.unsqueeze(1)


def _likely_first(
    user_vectors: torch.Tensor, item_table: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Track indices in the order of the average user's scores, and each track's place in
    it. Retrieval scores tracks in this order: top-k keeps a heap of the best so far, and
    with likely winners first it turns most other scores away at once (a quarter off its
    time on the demo)."""
    average = item_table @ user_vectors.mean(dim=0)
    order = average.argsort(descending=True)
    position = torch.empty_like(order)
    position[order] = torch.arange(len(order), device=order.device)
    return order, position


def head_scores(
    model: HybridRecommender,
    user_vectors: torch.Tensor,
    item_table: torch.Tensor,
    candidates: torch.Tensor,
    dot: torch.Tensor,
    prior: ItemItemEvidence | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Head scores (n, c) of each user's candidates from their ``dot`` scores, and the
    ``prior``'s scores of them (None without a prior), a block of users at a time."""
    head = torch.empty_like(dot)
    evidence = None if prior is None else torch.empty_like(dot)
    items = item_table[:, : model.dim]
    step = _block_size(HEAD_BLOCK // max(candidates.shape[1], 1), len(candidates), dot.device)
    for start in range(0, len(candidates), step):
        rows = slice(start, start + step)
        # an embedding lookup gathers rows several times faster than indexing
        listed = F.embedding(candidates[rows], items)
        head[rows] = dot[rows] + model.correction(user_vectors[rows], listed)
        if evidence is not None:
            evidence[rows] = prior.scores(candidates[rows], rows)
    return head, evidence


def two_stage(
    model: HybridRecommender,
    user_vectors: torch.Tensor,
    item_table: torch.Tensor,
    exclude: torch.Tensor,
    n_candidates: int,
    evidence: ItemItemEvidence | None = None,
    boost: ContentBoost | None = None,
    columns: torch.Tensor | None = None,
) -> torch.Tensor:
    """Full-catalogue scores whose order is the two-stage ranking, or only their ``columns``
    (distinct catalogue indices), which the candidates are still drawn from every track for.

    The retrieval scores (the dot product fused with ``evidence``, see ``build_retrieval``, with
    ``boost``, see ``boost_content``) of the ``n_candidates`` best tracks not in
    ``exclude`` (bool, n_users x n_items) are re-scored by the head (fused with
    ``evidence``, see ``fuse``) and lifted into a band above every retrieval score (order
    within the band = head order); other tracks keep their retrieval score.
    """
    retrieval = build_retrieval(model, user_vectors, item_table, evidence)
    scores = boost_content(retrieval.users @ retrieval.items.T, boost, exclude)
    retrievable = scores.masked_fill(exclude, float("-inf"))
    k = min(n_candidates, scores.shape[1])
    if k == 0:
        return scores if columns is None else scores.index_select(1, columns)
    top, candidates = retrievable.topk(k, dim=1)
    head = _rerank(model, user_vectors, item_table, retrieval, candidates, top, evidence)
    valid = torch.isfinite(top)
    floor = head.masked_fill(~valid, float("inf")).min(dim=1, keepdim=True).values
    ceiling = scores.max(dim=1, keepdim=True).values
    band = head - floor + ceiling + 1.0
    lifted = torch.where(valid, band, scores.gather(1, candidates))
    if columns is None:
        return scores.scatter(1, candidates, lifted)
    return _scattered_columns(scores, candidates, lifted, columns)


def _scattered_columns(
    scores: torch.Tensor, candidates: torch.Tensor, lifted: torch.Tensor, columns: torch.Tensor
) -> torch.Tensor:
    """``scores.scatter(1, candidates, lifted)[:, columns]`` without the scattered full copy."""
    out = scores.index_select(1, columns)
    place = torch.full((scores.shape[1],), -1, dtype=torch.long, device=scores.device)
    place[columns] = torch.arange(len(columns), device=scores.device)
    at = place[candidates]
    hit = at >= 0
    rows = torch.arange(len(scores), device=scores.device).unsqueeze(1).expand_as(candidates)
    out[rows[hit], at[hit]] = lifted[hit]
    return out


def two_stage_top(
    model: HybridRecommender,
    user_vectors: torch.Tensor,
    item_table: torch.Tensor,
    exclude: tuple[torch.Tensor, torch.Tensor],
    n_candidates: int,
    k: int,
    evidence: ItemItemEvidence | None = None,
    boost: ContentBoost | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The top ``k`` of ``two_stage``'s ranking (indices, scores) without the full matrix.

    ``exclude``: (rows, columns) of tracks never to return; the head runs on the
    ``n_candidates`` best retrieval scores only.
    """
    weight = 0.0 if evidence is None else evidence.rerank_weight
    tops = two_stage_tops(
        model, user_vectors, item_table, exclude, n_candidates, k, evidence, boost, (weight,)
    )
    return tops[weight]


def two_stage_tops(
    model: HybridRecommender,
    user_vectors: torch.Tensor,
    item_table: torch.Tensor,
    exclude: tuple[torch.Tensor, torch.Tensor],
    n_candidates: int,
    k: int,
    evidence: ItemItemEvidence | None,
    boost: ContentBoost | None,
    rerank_weights: tuple[float, ...],
) -> dict[float, tuple[torch.Tensor, torch.Tensor]]:
    """``two_stage_top`` with the head fused with ``evidence`` at each of the
    ``rerank_weights`` (its own ``rerank_weight`` aside): retrieval and the head's scores are
    computed once, only their fusion per weight."""
    retrieval = build_retrieval(model, user_vectors, item_table, evidence)
    n = min(max(n_candidates, k), item_table.shape[0])
    top, candidates, ceiling = _retrieve(retrieval, exclude, n, boost)
    c = min(n_candidates, n)
    if c == 0:
        return dict.fromkeys(rerank_weights, (candidates[:, :k], top[:, :k]))
    head, prior = _head_and_prior(
        model,
        user_vectors,
        item_table,
        retrieval,
        candidates[:, :c],
        top[:, :c],
        evidence,
        any(weight > 0 for weight in rerank_weights),
    )
    valid = torch.isfinite(top[:, :c])
    tops = {}
    for weight in rerank_weights:
        fused = fuse(head, prior, valid, weight)
        floor = fused.masked_fill(~valid, float("inf")).min(dim=1, keepdim=True).values
        band = torch.where(valid, fused - floor + ceiling + 1.0, float("-inf"))
        values, order = torch.cat([band, top[:, c:]], dim=1).topk(min(k, n), dim=1)
        tops[weight] = (candidates.gather(1, order), values)
    return tops
