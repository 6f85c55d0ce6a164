"""Hyper-parameters of the hybrid model and its training, and the device and seeds they name."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from musicrec_core.models.low_rank_ease import LOW_RANK_EASE_RANK


@dataclass
class TrainConfig:
    """Hyper-parameters of the hybrid model and its training.

    The design's values: batches of 128 lists (validation 64), embedding size 32, learning
    rate 0.01, 20 epochs; the rest are this implementation's choices. Every epoch deals each
    user's plays into ``round(1 / target_fraction)`` lists' positives (at most
    ``max_positives`` each), next to ``negatives`` sampled tracks; ``history_dropout`` of the
    lists keep no history; ``item_id_dropout`` / ``user_id_dropout`` replace ids by "unknown" so
    content and demographics carry the vectors; the head (``head_dim`` wide,
    ``n_blocks`` residual blocks) learns on the ``rerank_list`` best dot scores of each list's
    user and re-ranks the ``n_candidates`` best when serving. EASE item-item scores
    (``item_item_l2``, factored to ``item_item_rank``, None: the λ and then the rank with the
    best EASE NDCG@10 on the validation plays) are, above ``item_item_max_tracks`` played tracks,
    low-rank EASE's (rank ``item_item_low_rank``, λ chosen likewise), and are
    fused with the head's scores of the candidates at ``item_item_weight`` and into retrieval at
    ``item_item_retrieval_weight`` (None: the best on the validation plays, chosen in that
    order; 0: not in that stage). Tracks known by content alone (new tracks) are ranked by
    their dot scores fused with their content similarity to the user's plays at
    ``content_weight`` (None: the best on the validation plays ranked by content alone; 0: no
    fusion). ``sampling_correction`` subtracts each sampled negative's log expected draws from
    its retrieval score (the sampled-softmax correction), so that the dot product learns the
    softmax over the whole catalogue rather than one tilted against the popular tracks that the
    negatives over-represent. ``device``: "auto" picks CUDA.

    Measured on the demo catalogue (warm NDCG@10, 12 epochs): temperature 3 beat 1 (0.082 vs
    0.074), embedding size 32 beat 64 (0.082 vs 0.061) and a user-id embedding with dropout 0.5
    beat none (0.082 vs 0.063). Later (docs/benchmarks.md): every play a target once per epoch
    lifted Echo Nest from 0.056 to 0.066; a 32-wide one-block head over 50 candidates serves in
    about 2.5x the bare matrix multiply; the item-item fusion lifted warm NDCG@10 by a tenth on
    both data sets, and fused into retrieval too, it took Echo Nest past EASE, at which point
    fixed collaborative factors (a truncated SVD of the plays) in the towers no longer helped
    and were dropped. With the fusion no ILS weight lowers warm genre ILS@10 by 15% for at
    most 3% of NDCG@10 (means of three seeds: 30 -15% for -6.2%; 1 -7% at no warm cost but
    new users -0.006), so the default stays 0.01 and serving diversifies by MMR.
    Validation ranks the whole catalogue for a fixed, seeded sample of ``validation_users``
    users with validation plays (None: all of them), so its cost does not grow with the users.
    The lists of a batch share their ``negatives``, so a step reads the tracks of its lists and
    histories, never the whole catalogue, and an epoch's time grows with the plays alone.
    Early stopping follows ``stopping_score`` with patience 5, so that the learning rate is
    cut tenfold twice before training gives up: patience 3 kept a lucky early epoch at the first
    learning rate in some seeds (new-track NDCG@10 0.142 against 0.161 on the demo). The
    content fusion lifted new tracks from 0.171 to 0.193 on the demo and from 0.098 to 0.150
    on Echo Nest, past content kNN (0.156 and 0.122), and costs serving about 50 ms of the
    demo's 140 (4.5x the bare matrix multiply)."""

    batch_size: int = 128
    val_batch_size: int = 64
    epochs: int = 20
    embedding_dim: int = 32
    hidden_dim: int = 128
    n_blocks: int = 1
    head_dim: int = 32
    dropout: float = 0.1
    learning_rate: float = 0.01
    weight_decay: float = 1e-5
    negatives: int = 500
    rerank_list: int = 100
    popular_negative_share: float = 0.5
    max_positives: int = 30
    max_history: int = 200
    target_fraction: float = 0.3
    history_dropout: float = 0.1
    item_id_dropout: float = 0.25
    user_id_dropout: float = 0.5
    patience: int = 5
    validation_users: int | None = 5_000
    ils_weight: float = 0.01
    temperature: float = 3.0
    grad_clip: float = 5.0
    sampling_correction: bool = True
    n_candidates: int = 50
    item_item_weight: float | None = None
    item_item_retrieval_weight: float | None = None
    item_item_l2: float | None = None
    item_item_rank: int | None = None
    item_item_max_tracks: int = 16_384
    item_item_low_rank: int = LOW_RANK_EASE_RANK
    content_weight: float | None = None
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def to_dict(self) -> dict:
        """The config as plain JSON-able values."""
        return asdict(self)


def resolve_device(name: str = "auto") -> torch.device:
    """CUDA when available for "auto", else the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Fix torch's and numpy's global generators (model initialisation, dropout)."""
    torch.manual_seed(seed)
    np.random.seed(seed)
