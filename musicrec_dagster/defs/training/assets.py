"""hybrid_model: the HybridRecommender trained with EnhancedListNetLoss on the training split."""

import time

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from musicrec_core.data import TRAIN, VALIDATION, MusicPreprocessor, read_split_rows
from musicrec_core.data import schema as s
from musicrec_core.models import TrainingData
from musicrec_core.models.hybrid import VAL_NDCG, VAL_STOP, Hybrid, TrainConfig, resolve_device
from musicrec_core.reports import loss_curve, markdown_table
from musicrec_dagster.defs.resources import PlatformPaths
from musicrec_dagster.metadata import choice_scores, image
from musicrec_dagster.warehouse import open_warehouse

MODEL_KIND = "hybrid"


class HybridTrainingSettings(dg.Config):
    """Hyperparameters of the hybrid model; defaults are those of
    ``musicrec_core.models.hybrid.training.TrainConfig``."""

    epochs: int = TrainConfig.epochs
    batch_size: int = TrainConfig.batch_size
    val_batch_size: int = TrainConfig.val_batch_size
    embedding_dim: int = TrainConfig.embedding_dim
    learning_rate: float = TrainConfig.learning_rate
    patience: int = TrainConfig.patience
    ils_weight: float = TrainConfig.ils_weight
    temperature: float = TrainConfig.temperature
    item_id_dropout: float = TrainConfig.item_id_dropout
    negatives: int = TrainConfig.negatives
    sampling_correction: bool = TrainConfig.sampling_correction
    n_candidates: int = TrainConfig.n_candidates
    head_dim: int = TrainConfig.head_dim
    item_item_l2: float | None = TrainConfig.item_item_l2  # None: chosen on validation
    item_item_rank: int | None = TrainConfig.item_item_rank  # likewise
    item_item_weight: float | None = TrainConfig.item_item_weight  # None: chosen on validation
    item_item_retrieval_weight: float | None = TrainConfig.item_item_retrieval_weight  # likewise
    content_weight: float | None = TrainConfig.content_weight  # None: chosen on validation
    seed: int = TrainConfig.seed
    device: str = TrainConfig.device


def _split_plays(warehouse: DuckDBResource, part: str) -> pd.DataFrame:
    """The play columns of one part of the split, read rather than taken as an input so that
    training does not hold the whole split frame (at 10 M plays about 2 GB)."""
    with open_warehouse(warehouse) as con:
        return read_split_rows(con, [part], s.PLAY_COLUMNS)


@dg.asset(group_name="training", kinds={"pytorch"}, deps=["dataset_splits", "fitted_preprocessor"])
def hybrid_model(
    context: dg.AssetExecutionContext,
    config: HybridTrainingSettings,
    paths: PlatformPaths,
    warehouse: DuckDBResource,
    user_features: pd.DataFrame,
    track_features: pd.DataFrame,
) -> dg.MaterializeResult:
    """HybridRecommender trained on the training split, early-stopped on validation NDCG@10
    (``musicrec_core.models.hybrid.training.stopping_score``)."""
    store = paths.artifacts()
    _, preprocessor_folder = store.latest("preprocessor")

    def log_epoch(epoch: int, metrics: dict) -> None:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float))
        context.log.info(f"epoch {epoch}: {shown}")

    train_config = TrainConfig(**config.model_dump(), progress=False)
    model = Hybrid(
        train_config,
        MusicPreprocessor.load(preprocessor_folder),
        validation=_split_plays(warehouse, VALIDATION),
        on_epoch=log_epoch,
    )
    started = time.perf_counter()
    model.fit(TrainingData(_split_plays(warehouse, TRAIN), user_features, track_features))
    seconds = time.perf_counter() - started
    history = pd.DataFrame(model.history)
    best = history.loc[history[VAL_STOP].idxmax()]  # the epoch early stopping kept
    summary = {
        "best_epoch": int(best["epoch"]),
        "best_val_ndcg@10": float(best[VAL_NDCG]),
        "best_val_stopping_score": float(best[VAL_STOP]),
        "epochs_run": len(history),
        "train_seconds": round(seconds, 1),
        "device": str(resolve_device(train_config.device)),
        "item_item_kind": model.item_item_kind,
        "item_item_l2": model.item_item_l2,
        "item_item_rank": model.item_item_rank,
        "item_item_weight": model.item_item_weight,
        "item_item_retrieval_weight": model.item_item_retrieval_weight,
        "content_weight": model.content_weight,
    }
    version, folder = store.new_version(MODEL_KIND)
    model.save(folder, metrics=summary)
    store.mark_latest(MODEL_KIND, version)
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "path": dg.MetadataValue.path(str(folder)),
            **summary,
            "config": dg.MetadataValue.json(train_config.to_dict()),
            "item_item_l2_validation": choice_scores(model.item_item_l2_validation),
            "item_item_rank_validation": choice_scores(model.item_item_rank_validation),
            "item_item_validation": choice_scores(model.item_item_validation),
            "item_item_retrieval_validation": choice_scores(model.item_item_retrieval_validation),
            "content_validation": choice_scores(model.content_validation),
            "history": dg.MetadataValue.md(markdown_table(history.round(4))),
            "loss_curve": image(loss_curve(history, VAL_NDCG), "loss_curve"),
        }
    )
