"""The hybrid deep model: catalogue inputs, two towers and a re-ranking head, trained with
EnhancedListNetLoss and served in two stages fused with item-item and content evidence."""

from musicrec_core.models.hybrid.config import TrainConfig, resolve_device
from musicrec_core.models.hybrid.content_similarity import ContentSimilarity
from musicrec_core.models.hybrid.inputs import CatalogueInputs
from musicrec_core.models.hybrid.item_item import ItemItemScores
from musicrec_core.models.hybrid.item_item_cache import ITEM_ITEM_DIR
from musicrec_core.models.hybrid.loss import EnhancedListNetLoss
from musicrec_core.models.hybrid.network import HybridRecommender
from musicrec_core.models.hybrid.recommender import Hybrid
from musicrec_core.models.hybrid.storage import META_FILE, MODEL_FORMAT, PREPROCESSOR_DIR
from musicrec_core.models.hybrid.two_stage import RETRIEVAL_BLOCK, RETRIEVAL_MIN_USERS
from musicrec_core.models.hybrid.validation import VAL_CONTENT, VAL_NDCG, VAL_STOP, validation_ndcg
from musicrec_core.models.hybrid.weight_choice import CONTENT_WEIGHTS, ITEM_ITEM_WEIGHTS

__all__ = [
    "CONTENT_WEIGHTS",
    "ITEM_ITEM_DIR",
    "ITEM_ITEM_WEIGHTS",
    "META_FILE",
    "MODEL_FORMAT",
    "PREPROCESSOR_DIR",
    "RETRIEVAL_BLOCK",
    "RETRIEVAL_MIN_USERS",
    "VAL_CONTENT",
    "VAL_NDCG",
    "VAL_STOP",
    "CatalogueInputs",
    "ContentSimilarity",
    "EnhancedListNetLoss",
    "Hybrid",
    "HybridRecommender",
    "ItemItemScores",
    "TrainConfig",
    "resolve_device",
    "validation_ndcg",
]
