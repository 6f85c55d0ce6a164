"""Saving a fitted ``Hybrid`` to a folder and loading it to serve over grown or changed
catalogues: weights, config, id maps, chosen weights and its own preprocessor."""

from __future__ import annotations

import json
import logging
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch

from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.models.hybrid.components import item_item_scores, new_network
from musicrec_core.models.hybrid.config import TrainConfig, resolve_device
from musicrec_core.models.hybrid.content_similarity import ContentSimilarity
from musicrec_core.models.hybrid.inputs import CatalogueInputs
from musicrec_core.models.hybrid.item_item_cache import (
    cached_item_item,
    item_item_settings,
    keep_item_item,
)
from musicrec_core.models.recommender import TrainingData

if TYPE_CHECKING:
    from musicrec_core.models.hybrid.recommender import Hybrid

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "model.pt"
META_FILE = "model.json"
METRICS_FILE = "metrics.json"
PREPROCESSOR_DIR = "preprocessor"  # the model's own fitted MusicPreprocessor
# What the saved weights fit: 2 since the user tower reads the age itself (model.age_basis) and
# the towers carry no fixed collaborative factors, 3 since the item tower has a wide path.
MODEL_FORMAT = 3


def save_model(model: Hybrid, folder: Path | str, metrics: dict | None = None) -> Path:
    """Weights (``torch.save`` of the state dict), config, id maps, training history and the
    model's own fitted preprocessor (sub-folder ``preprocessor``); fused item-item factors are
    kept as a load over the training plays would fit them, so that such a load reads them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.model.state_dict(), folder / WEIGHTS_FILE)
    if model.preprocessor is not None:
        model.preprocessor.save_preprocessors(folder / PREPROCESSOR_DIR)
    meta = {
        "format": MODEL_FORMAT,
        "config": model.config.to_dict(),
        "shapes": model.shapes,
        "user_ids": [str(u) for u in model.data.matrix.user_ids],
        "track_ids": [str(t) for t in model.data.matrix.track_ids],
        "history": model.history,
        "item_item_l2": model.item_item_l2,
        "item_item_l2_validation": {str(l2): v for l2, v in model.item_item_l2_validation.items()},
        "item_item_rank": model.item_item_rank,
        "item_item_rank_validation": {
            str(r): v for r, v in model.item_item_rank_validation.items()
        },
        "item_item_weight": model.item_item_weight,
        "item_item_validation": {str(w): v for w, v in model.item_item_validation.items()},
        "item_item_retrieval_weight": model.item_item_retrieval_weight,
        "item_item_retrieval_validation": {
            str(w): v for w, v in model.item_item_retrieval_validation.items()
        },
        "content_weight": model.content_weight,
        "content_validation": {str(w): v for w, v in model.content_validation.items()},
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=1))
    if model._fuses_item_item():
        settings = item_item_settings(meta["config"], model.item_item_l2, model.item_item_rank)
        keep_item_item(folder, model.data.matrix, settings, model.item_item)
    if metrics is not None:
        (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=1, default=str))
    logger.info("saved hybrid model to %s", folder)
    return folder


def load_model(
    cls: type[Hybrid],
    folder: Path | str,
    data: TrainingData,
    preprocessor: MusicPreprocessor | None = None,
    keep_item_item: bool = False,
) -> Hybrid:
    """A fitted model from ``save``'s folder, serving over ``data``.

    ``data``'s catalogues may differ from training (tracks and users added or removed):
    known ids keep their learned embeddings, new tracks get content-only vectors through
    the saved preprocessor, new users the unknown user id. All of ``data.interactions``
    are the users' histories, and the item-item scores are refitted on them (so tracks
    played since training have co-play evidence too), the content vectors on
    ``data.tracks``. Factors kept under the folder for the same plays are read instead of
    refitted; ``keep_item_item`` keeps newly fitted ones there for later loads.
    ``preprocessor`` is only used for folders saved without one; with neither, new tracks
    are ranked without their content similarity.
    """
    folder = Path(folder)
    meta = json.loads((folder / META_FILE).read_text())
    saved_format = meta.get("format", 1)
    if saved_format != MODEL_FORMAT:
        raise ValueError(
            f"{folder} holds a hybrid model of format {saved_format}; this version reads "
            f"format {MODEL_FORMAT} only: retrain it (musicrec retrain, or the retrain job)"
        )
    known = {f.name for f in fields(TrainConfig)}
    saved = {k: v for k, v in meta["config"].items() if k in known}
    config = TrainConfig(**saved)
    if (folder / PREPROCESSOR_DIR).exists():
        preprocessor = MusicPreprocessor.load(folder / PREPROCESSOR_DIR)
    model = cls(config, preprocessor)
    model.data = data
    model.device = resolve_device(config.device)
    model.history = meta["history"]
    state = torch.load(folder / WEIGHTS_FILE, map_location=model.device, weights_only=True)
    track_ids = [str(t) for t in data.matrix.track_ids]
    user_ids = [str(u) for u in data.matrix.user_ids]
    if track_ids == meta["track_ids"] and user_ids == meta["user_ids"]:
        model.shapes = meta["shapes"]
        model.model = new_network(CatalogueInputs.empty(meta["shapes"]), config)
        model.model.load_state_dict(state)
    else:
        if preprocessor is None:
            raise ValueError(
                f"{folder} has no saved preprocessor: it can only serve its training catalogue"
            )
        inputs = CatalogueInputs.build(data.tracks, data.users, preprocessor)
        check_compatible(inputs.shapes(), meta["shapes"], folder)
        model.shapes = inputs.shapes()
        model.model = new_network(inputs, config)
        model.model.adopt_state(
            state,
            pd.Index(meta["track_ids"]).get_indexer(track_ids),
            pd.Index(meta["user_ids"]).get_indexer(user_ids),
        )
        logger.info(
            "hybrid loaded over a changed catalogue: %d tracks (%d new), %d users (%d new)",
            len(track_ids),
            len(set(track_ids) - set(meta["track_ids"])),
            len(user_ids),
            len(set(user_ids) - set(meta["user_ids"])),
        )
    model.model.to(model.device).eval()
    model._item_table = model._unplayed = None
    model.item_item_weight = float(meta["item_item_weight"])
    model.item_item_retrieval_weight = float(meta["item_item_retrieval_weight"])
    model.item_item_rank = int(meta["item_item_rank"])
    model.item_item_l2 = meta["item_item_l2"]
    if model.item_item_weight > 0 or model.item_item_retrieval_weight > 0:
        l2, rank = model.item_item_l2, model.item_item_rank
        model.item_item = cached_item_item(
            folder,
            data.matrix,
            item_item_settings(meta["config"], l2, rank),
            lambda: item_item_scores(config, data.matrix.matrix, model.device, l2, rank),
            model.device,
            keep_item_item,
        )
    model.content_weight = float(meta.get("content_weight", 0.0))
    if model.content_weight > 0 and preprocessor is None:
        logger.warning(
            "%s has no saved preprocessor: new tracks are served without content similarity",
            folder,
        )
        model.content_weight = 0.0
    if model.content_weight > 0:
        model.content = ContentSimilarity.fit(data, preprocessor)
    return model


def check_compatible(shapes: dict, saved: dict, folder: Path) -> None:
    """The feature widths the weights expect must match those built for the new catalogue."""
    vocab = {col: size for col, (size, _) in shapes["text"].items()}
    saved_vocab = {col: size for col, (size, _) in saved["text"].items()}
    if vocab != saved_vocab or shapes["n_numeric"] != saved["n_numeric"]:
        raise ValueError(
            f"{folder}: the catalogue gives features {vocab}, {shapes['n_numeric']} numeric; "
            f"the model was trained on {saved_vocab}, {saved['n_numeric']} numeric"
        )
