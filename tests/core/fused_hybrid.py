"""A hybrid on the tiny synthetic catalogue that fuses every kind of evidence it serves with:
item-item scores in both stages and the content similarity of new tracks."""

from musicrec_core.data import PreparedData, fit_preprocessor, prepare, training_rows
from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.data.sources import SourceConfig
from musicrec_core.models import TrainingData
from musicrec_core.models.hybrid import Hybrid, TrainConfig


def fused_tiny_hybrid() -> tuple[Hybrid, PreparedData, MusicPreprocessor]:
    """The model (one epoch on the training plays), the catalogue and its preprocessor."""
    data = prepare(SourceConfig(kind="synthetic", size="tiny"))
    train = training_rows(data.split)
    preprocessor, _, _ = fit_preprocessor(train, data.users, data.tracks)
    config = TrainConfig(
        epochs=1,
        embedding_dim=8,
        hidden_dim=16,
        n_candidates=20,
        item_item_l2=50.0,
        item_item_rank=16,
        item_item_weight=1.0,
        item_item_retrieval_weight=1.0,
        content_weight=0.5,
        progress=False,
    )
    model = Hybrid(config, preprocessor).fit(TrainingData(train, data.users, data.tracks))
    return model, data, preprocessor
