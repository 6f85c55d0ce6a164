"""How the hybrid fuses other evidence into its scores: item-item scores into retrieval and
re-ranking, and the content-only tracks' similarity to a user's plays into retrieval.

Each fusion z-scores both parts per user, so a weight does not depend on either score's scale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from torch.nn import functional as F


class ItemItemEvidence(NamedTuple):
    """Item-item scores of a set of users for every track, ``pooled[u] · targets[j]`` (the
    hybrid's EASE scores from the users' plays, see
    :mod:`musicrec_core.models.hybrid.item_item`), and the weights at which they are fused
    with the dot scores in retrieval and with the head's scores of the candidates (0: not in
    that stage)."""

    pooled: torch.Tensor  # (n_users, r): each user's sum of the source factors of their plays
    targets: torch.Tensor  # (n_items, r): the played tracks' mean for tracks without plays
    rerank_weight: float = 0.0
    retrieval_weight: float = 0.0

    def scores(self, candidates: torch.Tensor, rows: slice = slice(None)) -> torch.Tensor:
        """(m, c) scores of the (m, c) candidates of the users at ``rows``."""
        # an embedding lookup gathers the candidates' factors several times faster than indexing
        listed = F.embedding(candidates, self.targets)
        return torch.bmm(listed, self.pooled[rows].unsqueeze(-1)).squeeze(-1)


class Retrieval(NamedTuple):
    """Retrieval scores as one product ``users @ items.T``.

    Without item-item evidence these are the towers' dot scores (``users`` ends in a column of
    ones for the item bias). With evidence at a weight ``w``, each user's row is rescaled so
    that the product is ``dot / s_dot + w * evidence / s_evidence``, where ``s`` are the user's
    spreads of either score over the catalogue: it ranks as ``z(dot) + w * z(evidence)``.
    ``dot_scale`` (n_users, 1) is then ``s_dot`` and ``evidence_weight`` ``w * s_dot /
    s_evidence``.
    """

    users: torch.Tensor
    items: torch.Tensor
    dot_scale: torch.Tensor | None = None
    evidence_weight: torch.Tensor | None = None

    def scaled_dot(self, scores: torch.Tensor) -> torch.Tensor:
        """Retrieval ``scores`` back on the dot product's scale: the dot scores plus
        ``evidence_weight`` times the evidence."""
        return scores if self.dot_scale is None else self.dot_scale * scores


def retrieval_items(item_table: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
    """The item side of retrieval: item vectors with bias, then the item-item target factors
    when retrieval fuses them."""
    return item_table if targets is None else torch.cat([item_table, targets], dim=1)


class ContentBoost(NamedTuple):
    """The content similarity of users to the tracks ``columns``, which the model knows by
    content alone, fused into their dot scores at ``weight``. ``similarity(rows)`` gives it for
    the users at the given row positions, (len(rows), len(columns)): serving computes it only
    for the users whose top the fusion can change."""

    columns: torch.Tensor
    similarity: Callable[[np.ndarray], torch.Tensor]
    weight: float

    def active(self) -> bool:
        return self.weight > 0 and len(self.columns) > 0


def standardise(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per-row z-scores of ``values`` over the ``valid`` entries; 0 for rows without spread."""
    count = valid.sum(dim=1, keepdim=True).clamp(min=1)
    kept = values.masked_fill(~valid, 0.0)
    mean = kept.sum(dim=1, keepdim=True) / count
    spread = (((kept - mean) * valid) ** 2).sum(dim=1, keepdim=True).div(count).sqrt()
    return torch.where(spread > 1e-6, (values - mean) / spread.clamp(min=1e-6), 0.0)


def boost_content(
    scores: torch.Tensor, boost: ContentBoost | None, exclude: torch.Tensor | None = None
) -> torch.Tensor:
    """``scores`` (finite dot scores), changed in place, with the boosted tracks re-ordered by
    ``z(score) + weight * z(similarity)`` per user, each taking the score its new rank held
    before: the group's scores, and so how many of its tracks reach any top-n among the other
    tracks, stay as they were. Tracks in ``exclude`` (bool, as ``scores``) keep their scores
    and take no part."""
    if boost is None or not boost.active():
        return scores
    own = scores[:, boost.columns]
    if exclude is None:
        valid = torch.ones_like(own, dtype=torch.bool)
    else:
        valid = ~exclude[:, boost.columns]
    fused = _fused(own, valid, boost, np.arange(len(scores)))
    scores[:, boost.columns] = torch.where(valid, fused, own)
    return scores


def _fused(
    own: torch.Tensor, valid: torch.Tensor, boost: ContentBoost, rows: np.ndarray
) -> torch.Tensor:
    """The boosted tracks' scores ``own`` of the users at ``rows`` re-ordered by the fusion over
    the ``valid`` ones; -inf elsewhere."""
    mixed = fusion_order(own, valid, boost, rows)
    return _reassign(own.masked_fill(~valid, float("-inf")), mixed)


def fusion_order(
    own: torch.Tensor, valid: torch.Tensor, boost: ContentBoost, rows: np.ndarray
) -> torch.Tensor:
    """``z(own) + weight * z(similarity)`` of the users at ``rows`` over the ``valid`` boosted
    tracks; -inf elsewhere."""
    mixed = standardise(own, valid) + boost.weight * standardise(boost.similarity(rows), valid)
    return mixed.masked_fill_(~valid, float("-inf"))


def _reassign(values: torch.Tensor, order_by: torch.Tensor) -> torch.Tensor:
    """Each row's ``values`` placed so that their order follows ``order_by``'s: the largest
    where ``order_by`` is largest, and so on."""
    if values.device.type == "cpu":  # numpy sorts many short rows several times faster
        return reassign_numpy(values, order_by)
    return reassign_torch(values, order_by)


def reassign_numpy(values: torch.Tensor, order_by: torch.Tensor) -> torch.Tensor:
    order = np.argsort(-order_by.numpy(), axis=1)
    out = np.empty_like(values.numpy())
    np.put_along_axis(out, order, -np.sort(-values.numpy(), axis=1), axis=1)
    return torch.from_numpy(out)


def reassign_torch(values: torch.Tensor, order_by: torch.Tensor) -> torch.Tensor:
    order = order_by.argsort(dim=1, descending=True)
    ranked = values.sort(dim=1, descending=True).values
    return torch.empty_like(values).scatter_(1, order, ranked)


def fuse(
    head: torch.Tensor, prior: torch.Tensor | None, valid: torch.Tensor, weight: float
) -> torch.Tensor:
    """Head scores of the candidates, or with ``prior`` scores of them and a positive
    ``weight``: ``z(head) + weight * z(prior)``, z-scored per user over the valid candidates, so
    the weight does not depend on either score's scale."""
    if prior is None or weight <= 0:
        return head
    return standardise(head, valid) + weight * standardise(prior, valid)
