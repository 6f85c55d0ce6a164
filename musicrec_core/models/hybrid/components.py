"""The parts a ``Hybrid`` is built from: its network, item-item factors, its own fitted
preprocessor and the feature blocks of the ILS term."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from musicrec_core.data.interactions import played_columns
from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.models.ease import choose_ease_l2
from musicrec_core.models.hybrid.config import TrainConfig, resolve_device
from musicrec_core.models.hybrid.inputs import CatalogueInputs
from musicrec_core.models.hybrid.item_item import ItemItemScores
from musicrec_core.models.hybrid.network import HybridRecommender
from musicrec_core.models.low_rank_ease import LowRankGram, choose_low_rank_l2, low_rank_gram
from musicrec_core.models.play_rows import weighted_matrix

SIMILARITY_DIM = 64  # random projection of the wide TF-IDF blocks for the ILS term
# EASE ranks tried on the validation plays (by EASE's own NDCG@10) when the config leaves it
# open; EASE is factored to the largest of them.
ITEM_ITEM_RANKS = (64, 256, 1024)


def new_network(inputs: CatalogueInputs, config: TrainConfig) -> HybridRecommender:
    return HybridRecommender(
        inputs,
        embedding_dim=config.embedding_dim,
        hidden_dim=config.hidden_dim,
        n_blocks=config.n_blocks,
        dropout=config.dropout,
        head_dim=config.head_dim,
    ).to(resolve_device(config.device))


def item_item_scores(
    config: TrainConfig,
    plays: sparse.csr_matrix,
    device: torch.device,
    l2: float | None,
    rank: int | None = None,
    gram: LowRankGram | None = None,
) -> ItemItemScores:
    """EASE (``l2``) on the plays, factored as training factors it (to the config's rank, or to
    the largest rank it chooses from), or low-rank EASE of the config's ``item_item_low_rank``
    above its ``item_item_max_tracks`` (from ``gram``, ``item_item_gram``'s of these plays,
    when given), then truncated to ``rank`` if given: a model loaded later gets the same
    factors as the one trained."""
    low_rank = uses_low_rank(config, plays)
    fitted_rank = config.item_item_rank or (
        config.item_item_low_rank if low_rank else max(ITEM_ITEM_RANKS)
    )
    reused = gram if fitted_rank == config.item_item_low_rank else None
    scores = ItemItemScores.fit(
        plays, l2, config.item_item_max_tracks, fitted_rank, device, config.seed, reused
    )
    return scores if rank is None else scores.truncated(rank)


def uses_low_rank(config: TrainConfig, plays: sparse.csr_matrix) -> bool:
    """Whether the plays take low-rank EASE: more played tracks than dense EASE's cap."""
    return len(played_columns(plays)) > config.item_item_max_tracks


def item_item_gram(config: TrainConfig, plays: sparse.csr_matrix) -> LowRankGram | None:
    """Low-rank EASE's eigenpairs of the binary plays at the config's ``item_item_low_rank``,
    which the λ search and the fit both use, when the plays take low-rank EASE; else None."""
    if not uses_low_rank(config, plays):
        return None
    binary = weighted_matrix(plays, "binary")
    return low_rank_gram(binary, config.item_item_low_rank, config.seed)


def item_item_l2(
    config: TrainConfig,
    plays: sparse.csr_matrix,
    validation: sparse.csr_matrix,
    gram: LowRankGram | None = None,
) -> tuple[float, dict[float, float]]:
    """The λ of the item-item model ``item_item_scores`` fits on the plays, chosen on the
    validation plays, and every choice's validation NDCG@10 (low-rank EASE's from ``gram``,
    ``item_item_gram``'s of these plays, when given)."""
    binary = weighted_matrix(plays, "binary")
    if not uses_low_rank(config, plays):
        return choose_ease_l2(binary, validation, config.item_item_max_tracks)
    rank, seed = config.item_item_low_rank, config.seed
    return choose_low_rank_l2(binary, validation, rank, seed, gram=gram)


def item_item_ranks(config: TrainConfig, fitted: ItemItemScores) -> tuple[int, ...]:
    """The ranks to choose from on validation plays: the config's, or ``ITEM_ITEM_RANKS`` (for
    low-rank EASE those below its own rank, and that rank)."""
    if config.item_item_rank is not None:
        return (config.item_item_rank,)
    if fitted.kind == "ease":
        return ITEM_ITEM_RANKS
    return (*(r for r in ITEM_ITEM_RANKS if r < fitted.rank), fitted.rank)


def own_preprocessor(tracks: pd.DataFrame) -> MusicPreprocessor:
    """A preprocessor fitted on the track catalogue, when the caller provides none."""
    preprocessor = MusicPreprocessor()
    preprocessor.fit_transform(tracks)
    return preprocessor


def similarity_blocks(inputs: CatalogueInputs, seed: int) -> list[np.ndarray]:
    """Dense per-item feature blocks for the ILS term: each TF-IDF block (randomly projected to
    ``SIMILARITY_DIM`` if wider, which keeps cosines approximately) and the numeric features."""
    rng = np.random.default_rng(seed)
    blocks = []
    for col in sorted(inputs.text_vocab):
        index, weight = inputs.text_index[col], inputs.text_weight[col]
        rows = np.repeat(np.arange(len(index)), index.shape[1])
        dense = sparse.csr_matrix(
            (weight.ravel(), (rows, index.ravel())), shape=(len(index), inputs.text_vocab[col])
        )
        if dense.shape[1] > SIMILARITY_DIM:
            projection = rng.normal(size=(dense.shape[1], SIMILARITY_DIM)).astype(np.float32)
            blocks.append(np.asarray(dense @ projection, np.float32))
        else:
            blocks.append(dense.toarray().astype(np.float32))
    if inputs.numeric.shape[1]:
        blocks.append(inputs.numeric)
    return blocks
