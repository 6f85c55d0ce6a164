"""EASE item-item scores of re-ranking candidates: collaborative evidence for the hybrid's head.

EASE's item-item weights B (Steck 2019) are kept as a truncated SVD, ``B ≈ S Tᵀ`` (rank
``rank``), so a user's score for a candidate is ``(Σ S[played]) · T[candidate]``: one pooled
vector per user and one small dot product per candidate, instead of a gather per (played
track, candidate) pair, which cost more than the rest of serving together. In the hybrid,
rank 64 did as well as the full B on the demo catalogue and lost 4% of NDCG@10 on Echo Nest,
whose B is less redundant; each doubling of the rank adds about a tenth of the bare matrix
multiply's time to serving (docs/benchmarks.md). Tracks without plays have no factors and
score 0, as do users without plays, so new tracks and new users are ranked by the towers and
the head alone.
"""

from __future__ import annotations

import logging
from functools import partial

import numpy as np
import torch
from scipy import sparse
from sklearn.utils.extmath import randomized_svd
from torch.nn import functional as F

from musicrec_core.model import CandidatePrior
from musicrec_core.neighbours import ease_weights, weighted_matrix

logger = logging.getLogger(__name__)


class ItemItemScores:
    """Source and target factors of EASE's B for every catalogue track (zero rows: unplayed)."""

    def __init__(self, sources: torch.Tensor, targets: torch.Tensor) -> None:
        self.sources = sources
        self.targets = targets

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
        """EASE (binary plays, ``l2``) on a user x track play matrix, factored to ``rank``;
        None, with a warning, when more than ``max_tracks`` tracks were played (the dense
        weights would not fit)."""
        x = weighted_matrix(plays, "binary")
        try:
            items, weights = ease_weights(x, l2, max_tracks)
        except ValueError as error:
            logger.warning("hybrid serves without item-item scores: %s", error)
            return None
        if len(items) <= rank:
            source, target = weights, np.eye(len(items), dtype=np.float32)
        else:
            u, s, vt = randomized_svd(weights, rank, random_state=seed)
            source, target = u * s, vt.T
        width = source.shape[1]
        sources = np.zeros((x.shape[1], width), np.float32)
        targets = np.zeros((x.shape[1], width), np.float32)
        sources[items], targets[items] = source, target
        return cls(torch.as_tensor(sources, device=device), torch.as_tensor(targets, device=device))

    def prior(self, index: torch.Tensor, offsets: torch.Tensor) -> CandidatePrior:
        """EASE scores of candidates for n users from the tracks they played, as a function of
        the (m, c) candidates of the users at ``rows`` (of the n).

        ``index`` / ``offsets``: the users' played track indices one after another and where
        each user's start (``EmbeddingBag`` layout).
        """
        pooled = F.embedding_bag(index, self.sources, offsets, mode="sum")
        return partial(_candidate_scores, self.targets, pooled)

    def candidate_scores(
        self, index: torch.Tensor, offsets: torch.Tensor, candidates: torch.Tensor
    ) -> torch.Tensor:
        """(n, c) EASE scores of each user's candidates (n, c) from the tracks the user played."""
        return self.prior(index, offsets)(candidates)


def _candidate_scores(
    targets: torch.Tensor,
    pooled: torch.Tensor,
    candidates: torch.Tensor,
    rows: slice = slice(None),
) -> torch.Tensor:
    # an embedding lookup gathers the candidates' factors several times faster than indexing
    listed = F.embedding(candidates, targets)
    return torch.bmm(listed, pooled[rows].unsqueeze(-1)).squeeze(-1)
