"""EnhancedListNetLoss (design §4.3): ListNet cross-entropy plus an intra-list similarity penalty.

Lists are rows of a batch: one list per user, its positives (the user's held-out plays, target
``log1p(plays)``) and sampled negatives, padded to a common length and marked by a boolean
``mask``. Negatives enter the target distribution with probability 0: targets are softmaxed over
the positives only (``positive`` mask), while predictions are softmaxed over the whole list, so
the loss is the cross-entropy of "which held-out play comes next" against everything listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

_EPS = 1e-10


@dataclass
class LossParts:
    """The loss and its parts, each a scalar tensor (mean over lists)."""

    listnet: torch.Tensor
    ils: torch.Tensor
    total: torch.Tensor


def _masked_softmax(values: torch.Tensor, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    logits = (values / temperature).masked_fill(~mask, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.nan_to_num(probs, nan=0.0)  # an all-masked row gives zeros, not NaN


def listnet_loss(
    y_pred: torch.Tensor,
    y_true: torch.Tensor,
    mask: torch.Tensor,
    positive: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Mean over lists of ``-Σ softmax(y_true/T) · log softmax(y_pred/T)``.

    ``y_pred``, ``y_true``: (n_lists, length); ``mask``: True for real entries (padding is
    False); ``positive``: entries allowed target probability (default: every real entry).
    Lists without a positive entry contribute 0.
    """
    positive = mask if positive is None else positive & mask
    p_true = _masked_softmax(y_true, positive, temperature)
    log_p_pred = torch.log_softmax((y_pred / temperature).masked_fill(~mask, float("-inf")), -1)
    log_p_pred = log_p_pred.masked_fill(~mask, 0.0)
    per_list = -(p_true * log_p_pred).sum(dim=-1)
    has_positive = positive.any(dim=-1)
    return per_list[has_positive].sum() / has_positive.sum().clamp(min=1)


def similarity_matrix(features: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per-list cosine similarity (n_lists, length, length) of the combined feature blocks.

    Each block (n_lists, length, dim_k) is L2-normalised per item, the blocks are concatenated
    and normalised again, so the cosine is the mean of the per-block cosines (all-zero rows
    stay zero and are similar to nothing).
    """
    blocks = [F.normalize(block, dim=-1) for block in features]
    combined = F.normalize(torch.cat(blocks, dim=-1), dim=-1)
    return combined @ combined.transpose(1, 2)


def ils_penalty(
    y_pred: torch.Tensor, mask: torch.Tensor, similarity: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Expected similarity of two different items drawn from softmax(y_pred/T), mean over lists.

    ``Σ_{i≠j} p_i p_j S_ij``: 0 when the listed items are orthogonal, up to 1 - Σ p_i² when all
    are identical.
    """
    p = _masked_softmax(y_pred, mask, temperature)
    off_diagonal = similarity - torch.diag_embed(torch.diagonal(similarity, dim1=1, dim2=2))
    per_list = torch.einsum("bi,bij,bj->b", p, off_diagonal, p)
    has_items = mask.any(dim=-1)
    return per_list[has_items].sum() / has_items.sum().clamp(min=1)


class EnhancedListNetLoss(torch.nn.Module):
    """ListNet loss plus ``ils_weight`` times the intra-list similarity penalty."""

    def __init__(self, ils_weight: float = 0.0, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive; got {temperature}")
        self.ils_weight = ils_weight
        self.temperature = temperature

    def forward(
        self,
        y_pred: torch.Tensor,
        y_true: torch.Tensor,
        mask: torch.Tensor,
        positive: torch.Tensor | None = None,
        features: Sequence[torch.Tensor] = (),
        diversify: torch.Tensor | None = None,
    ) -> LossParts:
        """Loss parts for lists of predictions and targets; ``features`` feed the ILS term
        (e.g. genre, artist and content blocks, each (n_lists, length, dim)); none: ILS = 0.
        ``diversify`` (n_lists, bool): the lists the ILS term applies to (default: all)."""
        listnet = listnet_loss(y_pred, y_true, mask, positive, self.temperature)
        if features and self.ils_weight:
            ils_mask = mask if diversify is None else mask & diversify.unsqueeze(-1)
            ils = ils_penalty(y_pred, ils_mask, similarity_matrix(features), self.temperature)
        else:
            ils = torch.zeros((), device=y_pred.device, dtype=y_pred.dtype)
        return LossParts(listnet=listnet, ils=ils, total=listnet + self.ils_weight * ils)
