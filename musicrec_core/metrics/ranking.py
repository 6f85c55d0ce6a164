"""Ranking accuracy and diversity metrics at a cutoff k, per user and vectorised over users.

Accuracy metrics (NDCG, precision, recall, F1) are NaN for a user with no relevant items, and
every average here skips NaN, so such users are excluded from accuracy means. Batch functions
take recommended lists as an (n_users, k) array of track indices with -1 for an empty slot.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from musicrec_core.data import schema as s

K = "k"
NDCG = "ndcg"
NDCG_GRADED = "ndcg_graded"
PRECISION = "precision"
RECALL = "recall"
F1 = "f1"
ILS_GENRE = "ils_genre"
ILS_ARTIST = "ils_artist"
GENRE_DIVERSITY = "genre_diversity"
ARTIST_DIVERSITY = "artist_diversity"
NOVELTY = "novelty"
COVERAGE = "coverage"
ACCURACY_METRICS = (NDCG, NDCG_GRADED, PRECISION, RECALL, F1)
PER_USER_METRICS = (
    *ACCURACY_METRICS,
    ILS_GENRE,
    ILS_ARTIST,
    GENRE_DIVERSITY,
    ARTIST_DIVERSITY,
    NOVELTY,
)

METRIC = "metric"
MEAN = "mean"
CI_LOW = "ci_low"
CI_HIGH = "ci_high"
N_USERS = "n_users"
SUMMARY_COLUMNS = [METRIC, K, MEAN, CI_LOW, CI_HIGH, N_USERS]

MISSING_CODE = -1  # a track without the attribute: in the list, but similar to nothing
EMPTY_SLOT = -2  # no track in this slot


# --- one user, from a ranked list of track ids ------------------------------------------------


def _top(ranked: Sequence, k: int) -> list:
    return [t for t in list(ranked)[:k] if t is not None]


def _discounts(n: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, n + 2))


def ndcg_at_k(ranked: Sequence, relevant: Collection | Mapping[Hashable, float], k: int) -> float:
    """NDCG@k; ``relevant`` is a set (binary gains) or a dict track -> gain (graded).

    DCG sums gain / log2(rank + 1) over the top k; IDCG is the DCG of the user's relevant items
    in the ideal (descending gain) order, truncated at k. NaN when there is nothing relevant.
    """
    gains = relevant if isinstance(relevant, Mapping) else dict.fromkeys(relevant, 1.0)
    ideal = np.sort(np.fromiter(gains.values(), dtype=float))[::-1][:k]
    idcg = float(ideal @ _discounts(len(ideal)))
    if idcg <= 0:
        return float("nan")
    top = list(ranked)[:k]
    got = np.array([gains.get(t, 0.0) if t is not None else 0.0 for t in top], dtype=float)
    return float(got @ _discounts(len(got))) / idcg


def ndcg_of_rows(top: np.ndarray, relevant: sparse.csr_matrix) -> np.ndarray:
    """Binary NDCG@k of each row of ``top`` (n, k: ranked track indices) against the tracks of
    the same row of ``relevant`` (n x tracks); NaN where a row has nothing relevant."""
    rows = np.split(relevant.indices, relevant.indptr[1:-1])
    return _ndcg(*hit_gains(top, rows), _discounts(top.shape[1]))


def precision_at_k(ranked: Sequence, relevant: Collection, k: int) -> float:
    """Hits in the top k divided by k, even if fewer than k were ranked; NaN if none is relevant."""
    if not relevant:
        return float("nan")
    return sum(t in relevant for t in _top(ranked, k)) / k


def recall_at_k(ranked: Sequence, relevant: Collection, k: int) -> float:
    """Hits in the top k divided by the number of relevant items (not capped at k); NaN if none."""
    if not relevant:
        return float("nan")
    return sum(t in relevant for t in _top(ranked, k)) / len(relevant)


def f1_at_k(ranked: Sequence, relevant: Collection, k: int) -> float:
    """Harmonic mean of precision@k and recall@k (0 without hits); NaN if nothing is relevant."""
    return _f1(precision_at_k(ranked, relevant, k), recall_at_k(ranked, relevant, k))


def _f1(precision: np.ndarray | float, recall: np.ndarray | float) -> np.ndarray | float:
    total = precision + recall
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1), total)


def ils_at_k(
    ranked: Sequence, similarity: Callable[[Hashable, Hashable], float], k: int | None = None
) -> float:
    """Intra-list similarity: mean pairwise similarity of the (top-k) list; NaN under two items."""
    top = _top(ranked, len(ranked) if k is None else k)
    pairs = [similarity(a, b) for i, a in enumerate(top) for b in top[i + 1 :]]
    return float(np.mean(pairs)) if pairs else float("nan")


def same_attribute(values: Mapping[Hashable, Hashable]) -> Callable[[Hashable, Hashable], float]:
    """Similarity 1 when two tracks share a known attribute value (genre, artist), else 0."""

    def similarity(a: Hashable, b: Hashable) -> float:
        va, vb = values.get(a), values.get(b)
        return float(va is not None and va == vb)

    return similarity


# --- many users at once, from track indices ---------------------------------------------------


def attribute_codes(values: pd.Series, missing: Collection[str] = ("",)) -> np.ndarray:
    """Integer code per track of a text attribute (trimmed, case-folded); missing values get -1."""
    text = values.fillna("").astype(str).str.strip().str.casefold()
    absent = text.isin({m.strip().casefold() for m in missing}) | (text == "")
    codes, _ = pd.factorize(text.where(~absent))
    return np.where(absent, MISSING_CODE, codes).astype(np.int64)


def slot_codes(recommended: np.ndarray, track_codes: np.ndarray) -> np.ndarray:
    """Attribute code of each recommended slot: -1 for a track without it, -2 for an empty slot."""
    filled = recommended >= 0
    return np.where(filled, track_codes[np.where(filled, recommended, 0)], EMPTY_SLOT)


def _sorted_codes(codes: np.ndarray) -> np.ndarray:
    """Each row sorted, with every missing or empty slot made a unique negative value."""
    unique_missing = -3 - np.arange(codes.shape[1])
    return np.sort(np.where(codes >= 0, codes, unique_missing), axis=1)


def ils_codes(codes: np.ndarray) -> np.ndarray:
    """Per-row ILS for same-attribute similarity: equal pairs / (n(n-1)/2) over filled slots.

    ``codes`` is (n_users, k) from :func:`slot_codes`; a track without the attribute counts in
    the list but is similar to nothing. Rows with fewer than two filled slots give NaN.
    """
    ordered = _sorted_codes(codes)
    n_users, k = ordered.shape
    position = np.broadcast_to(np.arange(k), (n_users, k))
    starts = np.ones_like(ordered, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run_start = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    equal_pairs = (position - run_start).sum(axis=1)
    filled = (codes != EMPTY_SLOT).sum(axis=1)
    pairs = filled * (filled - 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, equal_pairs / np.where(pairs > 0, pairs, 1), np.nan)


def distinct_count(codes: np.ndarray) -> np.ndarray:
    """Per-row number of distinct known attribute values (codes >= 0) in an (n_users, k) array."""
    ordered = _sorted_codes(codes)
    new = np.ones_like(ordered, dtype=bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return (new & (ordered >= 0)).sum(axis=1)


def play_probability(played: sparse.spmatrix) -> np.ndarray:
    """Per track, the fraction of training users (rows with any play) who played it.

    A track nobody played gets 1 / (n_users + 1), so its self-information is finite and highest.
    """
    binary = sparse.csr_matrix(played, copy=True)
    binary.data[:] = 1.0
    binary.eliminate_zeros()
    n_users = int((binary.getnnz(axis=1) > 0).sum())
    listeners = np.asarray(binary.sum(axis=0)).ravel()
    return np.where(listeners > 0, listeners / max(n_users, 1), 1.0 / (n_users + 1))


def novelty(recommended: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """Per-row mean self-information -log2 p(track) of the recommended tracks; NaN if empty."""
    filled = recommended >= 0
    info = np.where(filled, -np.log2(probability[np.where(filled, recommended, 0)]), 0.0)
    count = filled.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, info.sum(axis=1) / np.where(count > 0, count, 1), np.nan)


def catalogue_coverage(recommended: np.ndarray, n_catalogue: int) -> float:
    """Fraction of the catalogue recommended to at least one user.

    ``recommended`` holds track indices (-1 empty) or track ids (None empty).
    """
    values = np.asarray(recommended).ravel()
    if values.dtype.kind in "iu":
        distinct = np.unique(values[values >= 0]).size
    else:
        distinct = pd.Series(values, dtype=object).dropna().nunique()
    return distinct / n_catalogue if n_catalogue else float("nan")


def hit_gains(
    recommended: np.ndarray, relevant: list[np.ndarray], gains: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Gain of each recommended slot (0 for a miss or empty slot), and each user's sorted gains.

    ``relevant[i]`` holds user i's distinct relevant track indices and ``gains[i]`` their gains
    (all 1 when None). The second result is an (n_users, k) array of the user's gains in
    descending order, zero-padded, i.e. the ideal list for IDCG.
    """
    n_users, k = recommended.shape
    lengths = np.array([len(r) for r in relevant], dtype=np.int64)
    users = np.repeat(np.arange(n_users, dtype=np.int64), lengths)
    tracks = np.concatenate([*relevant, np.empty(0)]).astype(np.int64)
    values = np.ones(len(tracks)) if gains is None else np.concatenate([*gains, np.empty(0)])
    width = int(max(tracks.max(initial=-1), recommended.max(initial=-1))) + 1
    keys = users * width + tracks
    order = np.argsort(keys, kind="stable")
    keys, sorted_values = np.append(keys[order], -1), np.append(values[order], 0.0)
    wanted = np.where(recommended >= 0, np.arange(n_users)[:, None] * width + recommended, -2)
    pos = np.minimum(np.searchsorted(keys[:-1], wanted), len(keys) - 1)
    got = np.where(keys[pos] == wanted, sorted_values[pos], 0.0)

    by_gain = np.lexsort((-values, users))
    rank = np.arange(len(users)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    ideal = np.zeros((n_users, k))
    keep = rank < k
    ideal[users[by_gain][keep], rank[keep]] = values[by_gain][keep]
    return got, ideal


def evaluate_lists(
    recommended: np.ndarray,
    relevant: list[np.ndarray],
    gains: list[np.ndarray] | None = None,
    ks: Sequence[int] = (5, 10, 20),
    genre_codes: np.ndarray | None = None,
    artist_codes: np.ndarray | None = None,
    popularity: np.ndarray | None = None,
    user_ids: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per-user metrics at each k: one row per (user, k), columns user_id, k, *PER_USER_METRICS.

    ``recommended`` is (n_users, >= max(ks)) track indices, -1 empty; ``gains`` feed graded NDCG
    (binary NDCG when None); ``popularity`` is :func:`play_probability`. A diversity or novelty
    column whose input is None is NaN. ``user_ids`` label rows (default: row positions).
    """
    n_users = recommended.shape[0]
    k_max = max(ks)
    recommended = _pad(recommended, k_max)
    binary, ideal_binary = hit_gains(recommended, relevant)
    graded, ideal_graded = hit_gains(recommended, relevant, gains)
    n_relevant = np.array([len(r) for r in relevant], dtype=float)
    no_relevant = n_relevant == 0
    discounts = _discounts(k_max)
    unknown = np.full(n_users, np.nan)
    frames = []
    for k in ks:
        top = recommended[:, :k]
        hits = (binary[:, :k] > 0).sum(axis=1).astype(float)
        precision = np.where(no_relevant, np.nan, hits / k)
        recall = np.where(no_relevant, np.nan, hits / np.where(no_relevant, 1, n_relevant))
        genres = None if genre_codes is None else slot_codes(top, genre_codes)
        artists = None if artist_codes is None else slot_codes(top, artist_codes)
        frame = {
            s.USER_ID: np.arange(n_users) if user_ids is None else np.asarray(user_ids),
            K: k,
            NDCG: _ndcg(binary[:, :k], ideal_binary[:, :k], discounts[:k]),
            NDCG_GRADED: _ndcg(graded[:, :k], ideal_graded[:, :k], discounts[:k]),
            PRECISION: precision,
            RECALL: recall,
            F1: _f1(precision, recall),
            ILS_GENRE: unknown if genres is None else ils_codes(genres),
            ILS_ARTIST: unknown if artists is None else ils_codes(artists),
            GENRE_DIVERSITY: unknown if genres is None else distinct_count(genres),
            ARTIST_DIVERSITY: unknown if artists is None else distinct_count(artists),
            NOVELTY: unknown if popularity is None else novelty(top, popularity),
        }
        frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True)


def _pad(recommended: np.ndarray, k: int) -> np.ndarray:
    missing = k - recommended.shape[1]
    if missing <= 0:
        return recommended
    return np.pad(recommended, ((0, 0), (0, missing)), constant_values=-1)


def _ndcg(got: np.ndarray, ideal: np.ndarray, discounts: np.ndarray) -> np.ndarray:
    idcg = ideal @ discounts
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(idcg > 0, (got @ discounts) / np.where(idcg > 0, idcg, 1), np.nan)


def pr_curve(recommended: np.ndarray, relevant: list[np.ndarray], k_max: int) -> pd.DataFrame:
    """Precision and recall at k = 1..k_max, averaged over users with relevant items."""
    hits, _ = hit_gains(_pad(recommended, k_max)[:, :k_max], relevant)
    n_relevant = np.array([len(r) for r in relevant], dtype=float)
    keep = n_relevant > 0
    cumulative = np.cumsum(hits[keep] > 0, axis=1)
    ks = np.arange(1, k_max + 1)
    if not keep.any():
        return pd.DataFrame({K: ks, PRECISION: np.nan, RECALL: np.nan})
    return pd.DataFrame(
        {
            K: ks,
            PRECISION: (cumulative / ks).mean(axis=0),
            RECALL: (cumulative / n_relevant[keep][:, None]).mean(axis=0),
        }
    )


# --- aggregation ------------------------------------------------------------------------------

_BOOT_CELLS = 4_000_000  # resampled values held in memory at once


def bootstrap_ci(
    values: np.ndarray, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap (1 - alpha) interval over users, NaN skipped; seeded."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOT_CELLS // n)
    means = np.concatenate(
        [
            values[rng.integers(0, n, size=(min(chunk, n_boot - start), n))].mean(axis=1)
            for start in range(0, n_boot, chunk)
        ]
    )
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(values.mean()), float(low), float(high)


def summarise(
    per_user: pd.DataFrame,
    metrics: Sequence[str] = PER_USER_METRICS,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Long table of metric, k, mean, ci_low, ci_high, n_users (users with a non-NaN value)."""
    rows = []
    for k, group in per_user.groupby(K, sort=True):
        for metric in metrics:
            values = group[metric].to_numpy(dtype=float)
            mean, low, high = bootstrap_ci(values, n_boot=n_boot, alpha=alpha, seed=seed)
            rows.append((metric, k, mean, low, high, int((~np.isnan(values)).sum())))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
