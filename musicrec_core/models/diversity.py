"""Diversity re-ranking: maximal marginal relevance with a per-request, per-user strength.

Each step picks the candidate with the best ``(1 - strength) * relevance - strength * redundancy``
where relevance is the model's score rescaled to [0, 1] within the user's candidates and
redundancy is the highest cosine similarity to a track already picked. Strength 0 keeps the
model's order; strength 1 ignores relevance after the first pick.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_DIVERSITY = 0.2  # MMR strength for a listener with evenly spread tastes
DIVERSITY_CANDIDATES = 100  # the model's top tracks the diversity step re-ranks


def mmr_rerank(
    candidates: np.ndarray,
    scores: np.ndarray,
    item_vectors: np.ndarray,
    k: int,
    strength: float | np.ndarray = DEFAULT_DIVERSITY,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick k of each user's candidates by MMR; returns (track indices, model scores), in order.

    ``candidates`` and ``scores`` are (n_users, n_candidates); ``-1`` marks an empty candidate
    slot (its score is ignored). ``item_vectors`` is (n_tracks, d); ``strength`` a scalar or one
    value per user, each in [0, 1].
    """
    n_users, n_cand = candidates.shape
    k = min(k, n_cand)
    lam = np.broadcast_to(np.asarray(strength, dtype=np.float64), (n_users,))[:, None]
    if ((lam < 0) | (lam > 1)).any():
        raise ValueError("diversity strength must lie in [0, 1]")
    valid = candidates >= 0
    relevance = _rescale(np.where(valid, scores, np.nan))
    vectors = _unit(item_vectors[np.maximum(candidates, 0)].astype(np.float32))
    redundancy = np.zeros((n_users, n_cand))
    available = valid.copy()
    picked = np.full((n_users, k), -1, dtype=np.int64)
    rows = np.arange(n_users)
    for step in range(k):
        gain = (1 - lam) * relevance - lam * redundancy
        gain = np.where(available, gain, -np.inf)
        best = np.argmax(gain, axis=1)
        has = np.isfinite(gain[rows, best])
        picked[has, step] = best[has]
        available[rows[has], best[has]] = False
        similarity = np.einsum("ucd,ud->uc", vectors, vectors[rows, best])
        redundancy = np.where(has[:, None], np.maximum(redundancy, similarity), redundancy)
    slots = picked >= 0
    safe = np.maximum(picked, 0)
    tracks = np.where(slots, np.take_along_axis(candidates, safe, axis=1), -1)
    chosen_scores = np.where(slots, np.take_along_axis(scores, safe, axis=1), -np.inf)
    return tracks, chosen_scores


def personal_strength(
    users_genres: pd.DataFrame,
    base: float,
    user_ids: np.ndarray,
    user_col: str,
    genre_col: str,
    n_genres: int | None = None,
) -> np.ndarray:
    """Per-user strength: ``base`` scaled by how varied each user's own listening is.

    The scale is the normalised entropy of the user's genre distribution (0: one genre only,
    1: evenly spread) over ``n_genres`` genres (default: those in ``users_genres``), so an
    eclectic listener gets more variety and a focused one less; users without plays get
    ``base``.
    """
    counts = users_genres.groupby([user_col, genre_col]).size().rename("n").reset_index()
    counts["p"] = counts["n"] / counts.groupby(user_col)["n"].transform("sum")
    entropy = -(counts["p"] * np.log(counts["p"])).groupby(counts[user_col]).sum()
    if n_genres is None:
        n_genres = users_genres[genre_col].nunique()
    scale = _spread(entropy, n_genres)
    return base * scale.reindex(pd.Index(user_ids, dtype=object)).fillna(1.0).to_numpy()


def listener_strength(genres: np.ndarray, base: float, n_genres: int) -> float:
    """``personal_strength`` of one listener from the genres of their played tracks (one
    entry per track), without building frames: what a single answer needs."""
    if not len(genres):
        return base
    _, counts = np.unique(genres, return_counts=True)
    p = counts / counts.sum()
    return base * float(_spread(-(p * np.log(p)).sum(), n_genres))


def _spread(entropy, n_genres: int):
    """Genre entropy as a share of the most a listener can spread over ``n_genres``."""
    return np.clip(entropy / np.log(max(n_genres, 2)), 0, 1)


def _rescale(values: np.ndarray) -> np.ndarray:
    low = np.nanmin(np.where(np.isnan(values), np.inf, values), axis=1, keepdims=True)
    high = np.nanmax(np.where(np.isnan(values), -np.inf, values), axis=1, keepdims=True)
    span = np.where(high > low, high - low, 1.0)
    return np.nan_to_num((values - low) / span, nan=0.0)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
