"""Recommenders behind one interface: popularity, item and content neighbours, EASE and its
scalable forms low-rank EASE and ELSA, and the hybrid deep model (in ``models.hybrid``), with
MMR diversity re-ranking and the registry."""

from musicrec_core.models.adam import adam
from musicrec_core.models.content_knn import ContentKNN
from musicrec_core.models.diversity import (
    DEFAULT_DIVERSITY,
    DIVERSITY_CANDIDATES,
    mmr_rerank,
    personal_strength,
)
from musicrec_core.models.ease import EASE, EASE_FALLBACK_L2, EASE_L2_CHOICES, choose_ease_l2
from musicrec_core.models.elsa import ELSA, elsa_factors
from musicrec_core.models.fitted_files import load_fitted, save_fitted
from musicrec_core.models.item_knn import ItemKNN
from musicrec_core.models.low_rank_ease import (
    LowRankEASE,
    choose_low_rank_l2,
    low_rank_ease_factors,
    low_rank_gram,
)
from musicrec_core.models.play_rows import weighted_matrix
from musicrec_core.models.popularity import Popularity, SegmentPopularity, segment_recommendations
from musicrec_core.models.recommender import (
    CatalogueTooLarge,
    Recommendations,
    Recommender,
    TrainingData,
    mask_played,
    model_version,
    top_k,
)
from musicrec_core.models.registry import BASELINES, build_models

__all__ = [
    "BASELINES",
    "DEFAULT_DIVERSITY",
    "DIVERSITY_CANDIDATES",
    "EASE",
    "EASE_FALLBACK_L2",
    "EASE_L2_CHOICES",
    "ELSA",
    "CatalogueTooLarge",
    "ContentKNN",
    "ItemKNN",
    "LowRankEASE",
    "Popularity",
    "Recommendations",
    "Recommender",
    "SegmentPopularity",
    "TrainingData",
    "adam",
    "build_models",
    "choose_ease_l2",
    "choose_low_rank_l2",
    "elsa_factors",
    "load_fitted",
    "low_rank_ease_factors",
    "low_rank_gram",
    "mask_played",
    "mmr_rerank",
    "model_version",
    "personal_strength",
    "save_fitted",
    "segment_recommendations",
    "top_k",
    "weighted_matrix",
]
