"""Item-item factors kept beside a saved hybrid, keyed by the plays they were fitted on.

Loading a hybrid refits its item-item factors on the plays it serves (seconds for EASE on a
few thousand tracks, a minute or more for low-rank EASE at scale). The pipeline loads the
same model over the same plays once per user shard, and every process answering from the
published snapshot (the HTTP API on each publication) loads it again: with the factors kept
under the model's folder, only the first load fits them. The key is independent of the order
of users, tracks and plays, so a snapshot read back from the serving database finds what the
pipeline wrote.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from musicrec_core.data.interactions import InteractionMatrix
from musicrec_core.models.hybrid.item_item import ItemItemScores

logger = logging.getLogger(__name__)

ITEM_ITEM_DIR = "item_item"  # under the model's folder
KEEP = 2  # newest entries kept: the one being published and the one served before it


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: spreads each 64-bit value over all bits."""
    x = values.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _id_hashes(ids: np.ndarray) -> np.ndarray:
    return _mix(pd.util.hash_array(np.asarray(ids, dtype=object).astype(str)))


def fingerprint(matrix: InteractionMatrix, settings: dict) -> str:
    """A key for the played (user, track) pairs, the catalogue's tracks and the fit's
    settings, the same in whatever order the users, tracks and plays come."""
    played = matrix.matrix.tocoo()
    keep = played.data > 0
    users, tracks = _id_hashes(matrix.user_ids), _id_hashes(matrix.track_ids)
    pairs = _mix(users[played.row[keep]] ^ _mix(tracks[played.col[keep]] + np.uint64(1)))
    parts = [
        settings,
        int(keep.sum()),
        int(pairs.sum(dtype=np.uint64)),
        int(np.bitwise_xor.reduce(pairs)),
        len(tracks),
        int(tracks.sum(dtype=np.uint64)),
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def item_item_settings(config: dict, l2: float | None, rank: int) -> dict:
    """What the factors depend on besides the plays: the model's config, λ and rank."""
    return {"config": config, "l2": l2, "rank": rank}


def keep_item_item(
    folder: Path, matrix: InteractionMatrix, settings: dict, scores: ItemItemScores
) -> None:
    """Keep factors fitted on ``matrix`` with ``settings`` under ``folder``, for later loads."""
    _write(_entry(folder, matrix, settings), matrix, scores)


def _entry(folder: Path, matrix: InteractionMatrix, settings: dict) -> Path:
    return Path(folder) / ITEM_ITEM_DIR / f"{fingerprint(matrix, settings)}.pt"


def cached_item_item(
    folder: Path,
    matrix: InteractionMatrix,
    settings: dict,
    fit: Callable[[], ItemItemScores],
    device: torch.device,
    keep: bool,
) -> ItemItemScores:
    """The factors kept under ``folder`` for these plays and settings, else ``fit()``'s,
    written there for later loads when ``keep`` (write-then-rename; the oldest entries beyond
    ``KEEP`` are removed)."""
    path = _entry(folder, matrix, settings)  # the fingerprint hashes every play: once
    if path.is_file():
        saved = torch.load(path, map_location=device, weights_only=True)
        rows = pd.Index(saved["track_ids"]).get_indexer(matrix.track_ids.astype(str))
        if (rows >= 0).all():
            logger.info("item-item factors read from %s", path)
            at = torch.as_tensor(rows, device=device)
            return ItemItemScores(saved["sources"][at], saved["targets"][at], saved["kind"])
    scores = fit()
    if keep:
        _write(path, matrix, scores)
    return scores


def _write(path: Path, matrix: InteractionMatrix, scores: ItemItemScores) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "track_ids": [str(t) for t in matrix.track_ids],
        "sources": scores.sources.cpu(),
        "targets": scores.targets.cpu(),
        "kind": scores.kind,
    }
    # A name of its own in the same folder (not mkstemp's, whose file only its owner may read,
    # while an API may run as another user), renamed over the entry once complete.
    temporary = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.part")
    try:
        torch.save(entry, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    others = [p for p in path.parent.glob("*.pt") if p != path]
    others.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in others[KEEP - 1 :]:
        old.unlink(missing_ok=True)
    logger.info("item-item factors kept in %s", path)
