"""EASE item-item scores: collaborative evidence that the hybrid fuses into both of its stages.

EASE's item-item weights B (Steck 2019) are kept as a truncated SVD, ``B ≈ S Tᵀ`` (rank
``rank``), so a user's scores are ``(Σ S[played]) · T``: one pooled vector per user, which
retrieval appends to the user's dot-product vector (one matrix multiply still scores the
catalogue) and re-ranking dots with the candidates' factors, instead of a gather per (played
track, candidate) pair, which cost more than the rest of serving together. How much rank B
needs depends on the data: 64 did better than the full B on the demo catalogue (the
truncation regularises), while Echo Nest's B needs about 1,024 (docs/benchmarks.md), so the
hybrid chooses it on validation plays. Users without plays have no evidence, and tracks
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

from musicrec_core.models.ease import ease_weights
from musicrec_core.models.hybrid.fusion import ItemItemEvidence
from musicrec_core.models.play_rows import weighted_matrix

logger = logging.getLogger(__name__)


class ItemItemScores:
    """Source and target factors of EASE's B for every catalogue track, ordered by singular
    value, so that their first columns are a truncation of lower rank. Unplayed tracks have
    zero sources and the played tracks' mean target."""

    def __init__(self, sources: torch.Tensor, targets: torch.Tensor) -> None:
        self.sources = sources
        self.targets = targets

    @property
    def rank(self) -> int:
        return int(self.sources.shape[1])

    @classmethod
    def fit(
        cls,
        plays: sparse.csr_matrix,
        l2: float,
        max_tracks: int,
        rank: int,
        device: torch.device,
        seed: int = 0,
    ) -> ItemItemScores | None:
        """EASE (binary plays, ``l2``) on a user x track play matrix, factored to ``rank`` (at
        most the number of played tracks, which keeps B whole); None, with a warning, when
        more than ``max_tracks`` tracks were played (the dense weights would not fit)."""
        x = weighted_matrix(plays, "binary")
        try:
            items, weights = ease_weights(x, l2, max_tracks)
        except ValueError as error:
            logger.warning("hybrid serves without item-item scores: %s", error)
            return None
        if len(items) <= rank:
            u, s, vt = np.linalg.svd(weights)
        else:
            u, s, vt = randomized_svd(weights, rank, random_state=seed)
        source, target = u * s, vt.T
        width = source.shape[1]
        sources = np.zeros((x.shape[1], width), np.float32)
        targets = np.tile(target.mean(axis=0, dtype=np.float32), (x.shape[1], 1))
        sources[items], targets[items] = source, target
        return cls(torch.as_tensor(sources, device=device), torch.as_tensor(targets, device=device))

    def truncated(self, rank: int) -> ItemItemScores:
        """The same scores at a lower rank: the first ``rank`` factors."""
        return ItemItemScores(self.sources[:, :rank], self.targets[:, :rank])

    def evidence(
        self,
        index: torch.Tensor,
        offsets: torch.Tensor,
        rerank_weight: float = 0.0,
        retrieval_weight: float = 0.0,
    ) -> ItemItemEvidence:
        """EASE scores of n users from the tracks they played, fused at the given weights:
        ``index`` / ``offsets`` are the users' played track indices one after another and
        where each user's start (``EmbeddingBag`` layout)."""
        pooled = F.embedding_bag(index, self.sources, offsets, mode="sum")
        return ItemItemEvidence(pooled, self.targets, rerank_weight, retrieval_weight)
