"""Play sampling: which tracks each user plays, how often and when, drawn from the ground truth."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from datetime import time as dtime

import numpy as np

from musicrec_core.data.sources.synthetic.config import SyntheticConfig
from musicrec_core.data.sources.synthetic.sampling import GroupedSampler, softmax
from musicrec_core.data.sources.synthetic.truth import GroundTruth

logger = logging.getLogger(__name__)


# --- play sampling ---------------------------------------------------------------------------
_MIN_ROWS_PER_USER = 5
_MAX_ROWS_PER_USER = 2000
_ACTIVITY_SIGMA = 1.0
_POOL_FACTOR = 8  # tracks a user is exposed to, per track they end up playing
_MIN_POOL = 60
_CHUNK_CANDIDATES = 2_000_000
_PLAY_BASE = 6.0
_PLAY_AFFINITY_WEIGHT = 0.4
_PLAY_DISPERSION = 0.6
_PLAY_USER_SIGMA = 0.7


@dataclass
class Plays:
    user: np.ndarray
    track: np.ndarray
    plays: np.ndarray
    played_at: np.ndarray  # datetime64[s]


# --- plays -----------------------------------------------------------------------------------
def sample_plays(config: SyntheticConfig, truth: GroundTruth, rng: np.random.Generator) -> Plays:
    """Per user: a heavy-tailed number of distinct tracks, play counts and timestamps."""
    n_users, n_tracks = len(truth.user_ids), len(truth.track_ids)
    rows = _rows_per_user(config.n_plays, n_users, min(n_tracks // 2, _MAX_ROWS_PER_USER), rng)
    activity = rng.lognormal(0.0, _PLAY_USER_SIGMA, n_users)
    first_second, last_second = _date_range_seconds(config)
    # Users join at some point in the first 80% of the range and play until its end.
    joined = rng.random(n_users) * 0.8 * (last_second - first_second)
    user_start = first_second + joined.astype(np.int64)
    exposure = GroupedSampler.build(
        truth.track_genre, truth.track_popularity**truth.popularity_weight, len(truth.genres)
    )
    with np.errstate(divide="ignore"):
        genre_logits = truth.user_genre_preference + np.log(exposure.totals)[None, :]
    parts = []
    for lo, hi in _user_chunks(_pool_sizes(rows)):
        user, track = _choose_tracks(lo, rows[lo:hi], genre_logits[lo:hi], exposure, truth, rng)
        plays = _play_counts(truth.affinity(user, track), activity[user], rng)
        span = last_second - user_start[user]
        seconds = user_start[user] + (rng.random(len(user)) * span).astype(np.int64)
        order = np.lexsort((seconds, user))
        parts.append((user[order], track[order], plays[order], seconds[order]))
    user, track, plays, seconds = (np.concatenate(col) for col in zip(*parts, strict=True))
    if len(user) < config.n_plays:
        logger.info("synthetic plays: %d rows of %d asked for", len(user), config.n_plays)
    return Plays(user, track, plays, seconds.astype("datetime64[s]"))


def _play_counts(
    affinity: np.ndarray, activity: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Heavy-tailed counts (1 + negative binomial), higher for heavy users and liked tracks."""
    mean = _PLAY_BASE * activity * np.exp(_PLAY_AFFINITY_WEIGHT * affinity)
    return 1 + rng.negative_binomial(_PLAY_DISPERSION, _PLAY_DISPERSION / (_PLAY_DISPERSION + mean))


def _rows_per_user(n_plays: int, n_users: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed (lognormal) rows per user summing to ``n_plays`` where the cap allows."""
    floor = max(1, min(_MIN_ROWS_PER_USER, n_plays // n_users, cap))
    cap = max(cap, floor)
    weights = rng.lognormal(0.0, _ACTIVITY_SIGMA, n_users)
    extra = np.zeros(n_users)
    remaining, free = float(n_plays - floor * n_users), np.ones(n_users, dtype=bool)
    while remaining > 1e-9 and free.any():  # water-filling: share, cap, share the overflow again
        extra[free] += remaining * weights[free] / weights[free].sum()
        over = extra > cap - floor
        remaining = float((extra[over] - (cap - floor)).sum())
        extra[over] = cap - floor
        free &= ~over
    rows = np.floor(extra).astype(np.int64)
    shortfall = min(n_plays - floor * n_users - int(rows.sum()), int(free.sum()))
    rows[np.argsort(-(extra - rows) * free, kind="stable")[:shortfall]] += 1
    return floor + rows


def _pool_sizes(rows: np.ndarray) -> np.ndarray:
    """How many exposure draws each user gets, for the given rows per user."""
    return np.maximum(_POOL_FACTOR * rows, _MIN_POOL)


def _user_chunks(pool: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive user ranges whose exposure pools hold about ``_CHUNK_CANDIDATES`` draws."""
    cumulative = np.cumsum(pool)
    cuts = np.searchsorted(
        cumulative, np.arange(_CHUNK_CANDIDATES, cumulative[-1], _CHUNK_CANDIDATES)
    )
    bounds = np.unique(np.concatenate([[0], cuts + 1, [len(pool)]]).clip(0, len(pool)))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def _choose_tracks(
    first_user: int,
    rows: np.ndarray,
    genre_logits: np.ndarray,
    exposure: GroupedSampler,
    truth: GroundTruth,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Expose each user to tracks by genre preference and popularity, then keep their top picks."""
    n_genres, n_tracks = genre_logits.shape[1], len(truth.track_ids)
    per_genre = rng.multinomial(_pool_sizes(rows), softmax(genre_logits))  # users x genres
    cell = np.repeat(np.arange(per_genre.size), per_genre.ravel())  # user * n_genres + genre
    local = cell // n_genres
    # Draws within a cell are interchangeable, so sort their uniforms for a faster search.
    uniforms = np.sort(cell + rng.random(len(cell))) - cell
    candidate = local * n_tracks + exposure.draw(cell % n_genres, uniforms)
    candidate, exposures = np.unique(candidate, return_counts=True)
    local, track = candidate // n_tracks, candidate % n_tracks
    user = first_user + local
    score = truth.taste(user, track) + np.log(exposures) + rng.gumbel(size=len(candidate))
    keep = _top_k_per_group(local, score, rows)
    return user[keep], track[keep]


def _top_k_per_group(group: np.ndarray, score: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Ascending indices of the ``k[g]`` highest scores within each group ``g``."""
    # One float sort instead of a lexsort: the squashed score lies in (0, 1), so group + squashed
    # score orders by group, then by score descending.
    order = np.argsort(group + 0.5 * (1.0 - np.tanh(score / 16.0)))
    sorted_group = group[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_group, sorted_group)
    return np.sort(order[rank < k[sorted_group]])


def _date_range_seconds(config: SyntheticConfig) -> tuple[int, int]:
    first = datetime.combine(config.start_date, dtime.min)
    last = datetime.combine(config.end_date, dtime(23, 59, 59))
    return (
        int(np.datetime64(first, "s").astype(np.int64)),
        int(np.datetime64(last, "s").astype(np.int64)),
    )
