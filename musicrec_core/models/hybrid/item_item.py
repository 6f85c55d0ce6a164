"""Item-item scores: collaborative evidence that the hybrid fuses into both of its stages.

EASE's item-item weights B (Steck 2019) are kept as a truncated SVD, ``B ≈ S Tᵀ`` (rank
``rank``), so a user's scores are ``(Σ S[played]) · T``: one pooled vector per user, which
retrieval appends to the user's dot-product vector (one matrix multiply still scores the
catalogue) and re-ranking dots with the candidates' factors, instead of a gather per (played
track, candidate) pair, which cost more than the rest of serving together. How much rank B
needs depends on the data: 64 did better than the full B on the demo catalogue (the
truncation regularises), while Echo Nest's B needs about 1,024 (docs/benchmarks.md), so the
hybrid chooses it on validation plays. Above ``max_tracks`` played tracks dense B does not
fit, and low-rank EASE (:mod:`musicrec_core.models.low_rank_ease`) stands in for it: its
factors are already this form, sources ``V diag(d)`` and targets ``V / (1 - q)``, ordered by
eigenvalue (its ``-x q / (1 - q)`` only lowers a user's own plays, which are never
candidates). Users without plays have no
evidence, and tracks
without plays have no co-plays: their target factors are the mean of the played tracks', so
each user's evidence for them is that user's average, which leaves their place to the towers
and the head instead of ranking them below every played track.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from scipy import sparse
from sklearn.utils.extmath import randomized_svd
from torch.nn import functional as F

from musicrec_core.data.interactions import played_columns
from musicrec_core.models.ease import EASE_FALLBACK_L2, ease_weights
from musicrec_core.models.hybrid.fusion import ItemItemEvidence
from musicrec_core.models.low_rank_ease import (
    LowRankGram,
    low_rank_ease_factors,
    low_rank_gram,
)
from musicrec_core.models.play_rows import weighted_matrix

logger = logging.getLogger(__name__)


class ItemItemScores:
    """Source and target factors of the item-item weights (``kind``: "ease" or
    "low_rank_ease") for
    every catalogue track, ordered by singular value, so that their first columns are a
    truncation of lower rank. Unplayed tracks have zero sources and the played tracks' mean
    target."""

    def __init__(self, sources: torch.Tensor, targets: torch.Tensor, kind: str = "ease") -> None:
        self.sources = sources
        self.targets = targets
        self.kind = kind

    @property
    def rank(self) -> int:
        return int(self.sources.shape[1])

    @classmethod
    def fit(
        cls,
        plays: sparse.csr_matrix,
        l2: float | None,
        max_tracks: int,
        rank: int,
        device: torch.device,
        seed: int = 0,
        gram: LowRankGram | None = None,
    ) -> ItemItemScores:
        """EASE (binary plays, ``l2``; None: ``EASE_FALLBACK_L2``) on a user x track play
        matrix, factored to ``rank`` (at most the number of played tracks, which keeps B
        whole); low-rank EASE of ``rank`` instead when more than ``max_tracks`` tracks were
        played (the dense weights would not fit), from ``gram`` when its eigenpairs of these
        plays at this rank were already found."""
        x = weighted_matrix(plays, "binary")
        played = len(played_columns(x))
        l2 = EASE_FALLBACK_L2 if l2 is None else l2
        if played <= max_tracks:
            kind, (items, source, target) = "ease", _ease_factors(x, l2, max_tracks, rank, seed)
        else:
            gram = low_rank_gram(x, rank, seed) if gram is None else gram
            kind, items = "low_rank_ease", gram.items
            source, target = low_rank_ease_factors(gram, l2)
        logger.info(
            "item-item evidence from %s: %d played tracks (dense EASE up to %d), rank %d",
            kind,
            played,
            max_tracks,
            source.shape[1],
        )
        width = source.shape[1]
        sources = np.zeros((x.shape[1], width), np.float32)
        targets = np.tile(target.mean(axis=0, dtype=np.float32), (x.shape[1], 1))
        sources[items], targets[items] = source, target
        return cls(
            torch.as_tensor(sources, device=device), torch.as_tensor(targets, device=device), kind
        )

    def truncated(self, rank: int) -> ItemItemScores:
        """The same scores at a lower rank: the first ``rank`` factors."""
        return ItemItemScores(self.sources[:, :rank], self.targets[:, :rank], self.kind)

    def evidence(
        self,
        index: torch.Tensor,
        offsets: torch.Tensor,
        rerank_weight: float = 0.0,
        retrieval_weight: float = 0.0,
    ) -> ItemItemEvidence:
        """Item-item scores of n users from the tracks they played, fused at the given weights:
        ``index`` / ``offsets`` are the users' played track indices one after another and
        where each user's start (``EmbeddingBag`` layout)."""
        pooled = F.embedding_bag(index, self.sources, offsets, mode="sum")
        return ItemItemEvidence(pooled, self.targets, rerank_weight, retrieval_weight)


def _ease_factors(
    x: sparse.csr_matrix, l2: float, max_tracks: int, rank: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EASE's played tracks and the sources and targets of its B truncated to ``rank``."""
    items, weights = ease_weights(x, l2, max_tracks)
    if len(items) <= rank:
        u, s, vt = np.linalg.svd(weights)
    else:
        u, s, vt = randomized_svd(weights, rank, random_state=seed)
    return items, u * s, vt.T
