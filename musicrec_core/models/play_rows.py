"""Neighbourhood baselines: item-item collaborative filtering, EASE and content similarity.

All three are ``Recommender`` subclasses, so the evaluator and serving use them like any model:
``score`` returns float32 scores of shape ``(len(user_ids), n_tracks)`` over
``data.matrix.track_ids`` and the inherited ``recommend`` masks played tracks.

Play counts become confidence weights first (``weighted_matrix``): "binary" (played or not) or
"log" (``log1p(plays)``, so one obsessive listener does not dominate a track).

Users with no training plays (unknown to the matrix, or known but silent) get a row of zeros
from ``score``: the caller routes them to a popularity fallback (zero scores are ties). Given a
handful of a new user's plays, ``recommend_with_history`` scores them with no retraining.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.linalg
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from musicrec_core import metrics as m
from musicrec_core.data import features
from musicrec_core.data import schema as s
from musicrec_core.data.interactions import InteractionMatrix, holdout
from musicrec_core.data.preprocessing import TEXT_ANALYZERS, MusicPreprocessor
from musicrec_core.models.recommender import Recommendations, Recommender, TrainingData, top_k

logger = logging.getLogger(__name__)

WEIGHTINGS = ("binary", "log")
NEIGHBOURHOODS = ("profile", "nearest")
# Dense work arrays (gram blocks, similarity blocks) are cut to about this many elements.
BLOCK_ELEMENTS = 8_000_000
# EASE's λ is chosen from these on held-out plays (``choose_ease_l2``), ranking the held-out
# users in blocks of this many by NDCG at this k.
EASE_L2_CHOICES = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
EASE_FALLBACK_L2 = 500.0  # Steck's value for MovieLens-20M, where nothing is held out
SCORE_BLOCK_USERS = 1024
VALIDATION_K = 10

NUMERIC_BLOCK = "numeric"
# Content blocks and their default weights: the share of the cosine each block contributes.
DEFAULT_BLOCK_WEIGHTS: dict[str, float] = {
    NUMERIC_BLOCK: 1.0,
    s.GENRE: 1.0,
    s.ARTIST_NAME: 1.0,
    s.FEATURED_ARTISTS: 0.5,
}
CONTENT_NUMERIC_COLUMNS = (*s.TRACK_NUMERIC_COLUMNS, s.RELEASE_YEAR)

Block = sparse.spmatrix | np.ndarray


# --- shared helpers ------------------------------------------------------------------------------


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        choices = ", ".join(repr(v) for v in allowed)
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def weighted_matrix(
    matrix: InteractionMatrix | sparse.spmatrix | sparse.sparray, weighting: str = "log"
) -> sparse.csr_matrix:
    """Confidence weights of a user x track play-count matrix, as a float32 CSR copy.

    ``"binary"``: 1 for every played track; ``"log"``: ``log1p(plays)`` (1 play → 0.69,
    10 → 2.4, 1000 → 6.9). Zeros stay structural zeros.
    """
    _check_choice("weighting", weighting, WEIGHTINGS)
    counts = matrix.matrix if isinstance(matrix, InteractionMatrix) else matrix
    out = sparse.csr_matrix(counts, dtype=np.float32, copy=True)
    out.eliminate_zeros()
    if weighting == "binary":
        out.data[:] = 1.0
    else:
        out.data = np.log1p(out.data)
    return out


def _user_rows(
    matrix: InteractionMatrix, weighted: sparse.csr_matrix, user_ids: np.ndarray
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Positions (within ``user_ids``) of the users the matrix knows, and their weighted rows."""
    rows = matrix.user_index(np.asarray(user_ids, dtype=object))
    known = np.flatnonzero(rows >= 0)
    return known, weighted[rows[known]]


def _gram_row_blocks(
    x: sparse.csr_matrix, dtype: type = np.float32
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Row blocks ``(start, stop, (XᵀX)[start:stop])`` of the dense item-item gram matrix."""
    n_items = x.shape[1]
    x = sparse.csr_matrix(x)
    xt = sparse.csr_matrix(x.T)  # items x users
    step = _block_rows(n_items)
    for start in range(0, n_items, step):
        stop = min(start + step, n_items)
        block = (xt[start:stop] @ x).toarray().astype(dtype, copy=False)
        yield start, stop, block


def _block_rows(n_cols: int) -> int:
    """Rows per block so that a dense block of ``n_cols`` columns has ~BLOCK_ELEMENTS entries."""
    return max(1, min(n_cols, BLOCK_ELEMENTS // max(n_cols, 1)))


def _top_n_rows(values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``n`` largest entries per row (unordered)."""
    n = min(n, values.shape[1])
    if n == values.shape[1]:
        idx = np.broadcast_to(np.arange(n), values.shape)
        return idx, values
    idx = np.argpartition(-values, n - 1, axis=1)[:, :n]
    return idx, np.take_along_axis(values, idx, axis=1)


def _catalogue_index(track_ids: np.ndarray | list, catalogue: np.ndarray) -> np.ndarray:
    """Column of each track id in the catalogue, -1 for ids it does not hold."""
    return pd.Index(catalogue).get_indexer(pd.Index(np.asarray(track_ids, dtype=object)))


def _similar(
    index: np.ndarray, catalogue: np.ndarray, rows: sparse.csr_matrix, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-n tracks per requested track from its similarity row (one row per known request).

    ``index`` holds the catalogue column of each request (-1: unknown, no row in ``rows``).
    Non-positive similarities and the track itself never count; empty slots are None / -inf.
    """
    scores = np.full((len(index), len(catalogue)), -np.inf)
    known = np.flatnonzero(index >= 0)
    block = rows.tocoo()
    scores[known[block.row], block.col] = block.data
    scores[known, index[known]] = -np.inf
    scores[scores <= 0] = -np.inf
    idx, top = top_k(scores, n)
    return np.where(np.isfinite(top), catalogue[idx], None), top


# --- item-item collaborative filtering -----------------------------------------------------------


class PlayRowRecommender(Recommender):
    """A model that scores any user from a row of weighted plays, with no per-user parameters.

    Scoring a user the model never saw is the same computation as scoring a known one, so new
    users get recommendations from a handful of plays without retraining.
    """

    weighting: str = "log"
    test_sets = ("warm",)

    @abstractmethod
    def _score_rows(self, x: sparse.csr_matrix) -> np.ndarray:
        """Scores of every catalogue track for each row of weighted plays (n_rows, n_tracks)."""

    def score(self, user_ids: np.ndarray) -> np.ndarray:
        known, rows = _user_rows(self.data.matrix, self.weighted, user_ids)
        return self._score_rows(_place_rows(rows, known, len(user_ids)))

    def recommend_with_history(
        self, user_ids: np.ndarray | list, histories: pd.DataFrame, k: int = 20
    ) -> Recommendations:
        """Top-k for users known only by the plays given here (schema play columns)."""
        user_ids = np.asarray(user_ids, dtype=object)
        given = InteractionMatrix.build(histories, user_ids, self.data.matrix.track_ids)
        x = weighted_matrix(given, self.weighting)
        scores = self._score_rows(x).astype(np.float64)
        r, c = x.nonzero()
        scores[r, c] = -np.inf
        return self.best(user_ids, scores, k)


def _place_rows(rows: sparse.csr_matrix, positions: np.ndarray, n_rows: int) -> sparse.csr_matrix:
    """A CSR matrix of n_rows whose rows at ``positions`` are ``rows`` and the rest empty."""
    coo = rows.tocoo()
    return sparse.csr_matrix(
        (coo.data, (positions[coo.row], coo.col)), shape=(n_rows, rows.shape[1]), dtype=np.float32
    )


class ItemKNN(PlayRowRecommender):
    """Item-based k-nearest-neighbours on the user x track matrix (Sarwar et al. 2001).

    ``sim(i, j) = x_i · x_j / (|x_i| |x_j| + shrinkage)`` over the weighted item columns: cosine
    shrunk toward 0 for items with few listeners, so a pair sharing one listener does not look
    identical. Each track keeps only its ``k_neighbours`` most similar tracks (sparse, about
    ``k_neighbours x n_tracks`` entries). A user's score for track j is the sum of the user's
    weights on j's neighbours: ``score = x_user @ S``.

    Defaults: 100 neighbours is the usual range (50-200) and keeps S small; shrinkage 10 damps
    pairs with norms below ~3 (a handful of listeners) while leaving popular pairs near cosine;
    "log" weighting lets repeat plays count without letting them dominate. Tracks without plays
    have no neighbours and score 0; users without training plays get zeros (see module notes).
    """

    name = "item_knn"

    def __init__(
        self, k_neighbours: int = 100, shrinkage: float = 10.0, weighting: str = "log"
    ) -> None:
        if k_neighbours < 1:
            raise ValueError(f"k_neighbours must be at least 1; got {k_neighbours}")
        if shrinkage < 0:
            raise ValueError(f"shrinkage must be non-negative; got {shrinkage}")
        self.k_neighbours = k_neighbours
        self.shrinkage = shrinkage
        self.weighting = _check_choice("weighting", weighting, WEIGHTINGS)

    def _fit(self, data: TrainingData) -> None:
        x = weighted_matrix(data.matrix, self.weighting)
        self.weighted = x
        n_items = x.shape[1]
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel()).astype(np.float32)
        rows, cols, vals = [], [], []
        for start, stop, dots in _gram_row_blocks(x):
            denom = norms[start:stop, None] * norms[None, :] + np.float32(self.shrinkage)
            sim = np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)
            sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
            idx, top = _top_n_rows(sim, self.k_neighbours)
            keep = top > 0
            rows.append(np.nonzero(keep)[0] + start)
            cols.append(idx[keep])
            vals.append(top[keep])
        # neighbours[j, i] = sim(i, j) for the k tracks i nearest to j
        self.neighbours = sparse.csr_matrix(
            (
                np.concatenate(vals) if vals else np.zeros(0, np.float32),
                (
                    np.concatenate(rows) if rows else np.zeros(0, np.int64),
                    np.concatenate(cols) if cols else np.zeros(0, np.int64),
                ),
            ),
            shape=(n_items, n_items),
            dtype=np.float32,
        )
        self.similarity = sparse.csr_matrix(self.neighbours.T)  # score = x_user @ similarity
        logger.info(
            "item_knn: %d tracks, %d neighbour links (k=%d, shrinkage=%g, %s weighting)",
            n_items,
            self.neighbours.nnz,
            self.k_neighbours,
            self.shrinkage,
            self.weighting,
        )

    def _score_rows(self, x: sparse.csr_matrix) -> np.ndarray:
        return (x @ self.similarity).toarray()

    def similar_items(
        self, track_ids: np.ndarray | list, n: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` nearest tracks to each track (ids and similarities, best first).

        Only the ``k_neighbours`` kept per track can appear; missing slots (unknown or unplayed
        tracks, fewer neighbours) hold None and -inf, as in ``Recommendations``.
        """
        catalogue = self.data.matrix.track_ids
        index = _catalogue_index(track_ids, catalogue)
        return _similar(index, catalogue, self.neighbours[index[index >= 0]], n)


# --- EASE ----------------------------------------------------------------------------------------


class EASE(PlayRowRecommender):
    """Embarrassingly Shallow Autoencoder (Steck 2019): a closed-form item-item linear model.

    ``G = XᵀX + λI``, ``P = G⁻¹``, ``B = -P / diag(P)`` (column-wise), ``diag(B) = 0``;
    ``score = x_user @ B``. Solved in float64 by Cholesky (LAPACK potrf/potri, in place, about
    half the work of a general inverse); B is stored dense in float32.

    Only tracks with at least one training play enter B (the others would get an all-zero
    column and score 0 anyway), so the dense cost is ``n_played_tracks²``: about 12 bytes per
    entry at the peak of fitting (3 GB at 15k tracks, 4.8 GB at 20k) and 4 bytes per entry
    kept. ``max_items`` bounds that count: above it fitting raises ValueError before allocating;
    use ``ItemKNN`` there.

    ``l2`` (λ) is absolute, not scaled: diag(XᵀX) counts listeners per track, so how much a
    given λ regularises depends on the data (500 was best on the demo catalogue, 50 on Echo
    Nest's sparser plays). By default (None) it is the best of ``EASE_L2_CHOICES`` by NDCG@10
    on a holdout of the training plays (``choose_ease_l2``), then B is fitted on all of them.
    "binary" is the weighting EASE was published with. Users without training plays get zeros
    (see module notes).
    """

    name = "ease"

    def __init__(
        self,
        l2: float | None = None,
        weighting: str = "binary",
        max_items: int = 30_000,
        seed: int = 0,
    ) -> None:
        if l2 is not None and l2 <= 0:
            raise ValueError(f"l2 must be positive (it keeps XᵀX + λI invertible); got {l2}")
        self.l2_setting = l2
        self.weighting = _check_choice("weighting", weighting, WEIGHTINGS)
        self.max_items = max_items
        self.seed = seed
        self.l2_validation: dict[float, float] = {}

    def _fit(self, data: TrainingData) -> None:
        x = weighted_matrix(data.matrix, self.weighting)
        self.n_tracks = x.shape[1]
        self.weighted = x
        self.l2 = self.l2_setting
        if self.l2 is None:
            kept, held = holdout(x, np.random.default_rng(self.seed))
            self.l2, self.l2_validation = choose_ease_l2(kept, held, self.max_items)
        self.items, self.B = ease_weights(x, self.l2, self.max_items)
        logger.info(
            "ease: %d of %d tracks played, l2=%g, %s weighting",
            len(self.items),
            self.n_tracks,
            self.l2,
            self.weighting,
        )

    def _score_rows(self, x: sparse.csr_matrix) -> np.ndarray:
        out = np.zeros((x.shape[0], self.n_tracks), dtype=np.float32)
        if len(self.items):
            out[:, self.items] = x[:, self.items] @ self.B
        return out


def choose_ease_l2(
    x: sparse.csr_matrix,
    validation: sparse.csr_matrix,
    max_items: int,
    choices: Sequence[float] = EASE_L2_CHOICES,
) -> tuple[float, dict[float, float]]:
    """The λ of ``choices`` whose EASE, fitted on ``x`` (users x tracks weights), ranks each
    user's ``validation`` plays best among the tracks they have not played (mean NDCG@10), and
    every choice's score (``EASE_FALLBACK_L2`` where no user has validation plays). Raises
    ValueError as ``ease_weights`` does."""
    users = np.flatnonzero(np.diff(validation.indptr) > 0)
    if not len(users):
        logger.info("ease: no held-out plays to choose l2 by; l2 %g", EASE_FALLBACK_L2)
        return EASE_FALLBACK_L2, {}
    scores = {}
    for l2 in choices:
        items, weights = ease_weights(x, l2, max_items)
        total = 0.0
        for start in range(0, len(users), SCORE_BLOCK_USERS):
            rows = users[start : start + SCORE_BLOCK_USERS]
            known = x[rows]
            predicted = np.zeros(known.shape, dtype=np.float32)  # as EASE scores them
            predicted[:, items] = known[:, items] @ weights
            predicted[known.nonzero()] = -np.inf
            top = top_k(predicted, min(VALIDATION_K, predicted.shape[1]))[0]
            total += float(m.ndcg_of_rows(top, validation[rows]).sum())
        scores[l2] = total / len(users)
    best = max(scores, key=scores.get)
    logger.info("ease: l2 %g chosen on held-out NDCG@10 %s", best, _rounded(scores))
    return best, scores


def _rounded(scores: Mapping[float, float]) -> dict[float, float]:
    return {key: round(value, 4) for key, value in scores.items()}


def ease_weights(x: sparse.csr_matrix, l2: float, max_items: int) -> tuple[np.ndarray, np.ndarray]:
    """EASE's played-track columns of ``x`` and its B over them (see ``EASE``).

    Raises ValueError, before allocating, when more than ``max_items`` tracks were played.
    """
    items = np.flatnonzero(np.diff(sparse.csc_matrix(x).indptr) > 0)
    n = len(items)
    if n > max_items:
        raise ValueError(
            f"EASE needs a dense {n} x {n} item-item matrix (~{12 * n * n / 1e9:.1f} GB while "
            f"fitting) for {n} played tracks, above max_items={max_items}; use ItemKNN "
            "for a catalogue this size, or raise max_items if the memory is there"
        )
    gram = np.empty((n, n), dtype=np.float64)
    for start, stop, block in _gram_row_blocks(x[:, items], dtype=np.float64):
        gram[start:stop] = block
    gram[np.diag_indices(n)] += l2
    return items, _ease_weights(gram)  # gram is overwritten


def _ease_weights(gram: np.ndarray) -> np.ndarray:
    """EASE's B (float32, C order) from ``G = XᵀX + λI`` (float64, SPD; destroyed).

    Cholesky factor and inverse are computed in place in ``gram``'s memory, so the peak is the
    float64 matrix plus the float32 result (12 bytes per entry).
    """
    n = gram.shape[0]
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    potrf, potri = scipy.linalg.lapack.get_lapack_funcs(("potrf", "potri"), (gram,))
    # LAPACK wants Fortran order: gram.T is that view of the same memory (and G is symmetric).
    factor, info = potrf(gram.T, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: Cholesky of XᵀX + λI failed (LAPACK info {info})")
    p, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: inverse of XᵀX + λI failed (LAPACK info {info})")
    # potri leaves only the upper triangle valid: mirror it, a block of rows at a time.
    step = _block_rows(n)
    for start in range(0, n, step):
        stop = min(start + step, n)
        p[start:stop, :start] = p[:start, start:stop].T
        diagonal = np.triu(p[start:stop, start:stop])
        p[start:stop, start:stop] = diagonal + np.triu(diagonal, 1).T
    p /= -np.diag(p).copy()[None, :]
    p[np.diag_indices(n)] = 0.0
    return p.astype(np.float32, order="C")


# --- content similarity --------------------------------------------------------------------------


def _texts(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), "").astype(str)


def _normalise_rows(block: sparse.spmatrix | np.ndarray) -> sparse.csr_matrix:
    """Rows scaled to unit L2 norm (all-zero rows stay zero), as float32 CSR."""
    block = sparse.csr_matrix(block, dtype=np.float32)
    norms = np.sqrt(np.asarray(block.multiply(block).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sparse.csr_matrix(sparse.diags(scale.astype(np.float32)) @ block)


class ContentKNN(PlayRowRecommender):
    """Content-based baseline: tracks that sound and read like what the user played.

    Each track gets a content vector of blocks: "numeric" (audio features, duration, key, mode,
    time signature, explicit, release year; standardised), "genre", "artist_name" and
    "featured_artists" (TF-IDF of whole names; featured artists split on commas). Each block is
    L2-normalised per track and scaled by the square root of its weight in ``block_weights``
    (default ``DEFAULT_BLOCK_WEIGHTS``: 1 each, featured artists 0.5 as they are sparse and
    noisier), then the whole vector is L2-normalised: the cosine of two tracks is the weighted
    mean of their per-block cosines. A block with no usable column is left out.

    With a fitted ``MusicPreprocessor`` the blocks come from it: ``feature_matrix`` over its
    fitted numeric columns that the tracks frame provides (engineered ones such as music_age
    included) and ``text_features``. Without one, a small transform is fitted on the tracks
    frame: median-filled, StandardScaler-ed numeric columns of ``CONTENT_NUMERIC_COLUMNS`` that
    are present (release year parsed from release_date if need be), one-hot genre (the
    "Unknown" label gives none) and TF-IDF of artist and featured-artist names.

    ``neighbourhood="profile"``: the user profile is the mean of the content vectors of the
    user's training tracks, weighted by ``weighting`` ("log": log1p(plays)); score = cosine
    (profile, track). ``"nearest"``: score = the highest cosine between the track and any track
    the user played (better for eclectic users; costs one dense block per played track).
    Never-played tracks score from content alone, which is the point of this baseline; users
    without training plays get zeros (see module notes).
    """

    name = "content_knn"
    test_sets = ("warm", "cold_track")

    def __init__(
        self,
        preprocessor: MusicPreprocessor | None = None,
        neighbourhood: str = "profile",
        weighting: str = "log",
        block_weights: Mapping[str, float] | None = None,
    ) -> None:
        self.preprocessor = preprocessor
        self.neighbourhood = _check_choice("neighbourhood", neighbourhood, NEIGHBOURHOODS)
        self.weighting = _check_choice("weighting", weighting, WEIGHTINGS)
        self.block_weights = {**DEFAULT_BLOCK_WEIGHTS, **(block_weights or {})}
        unknown = set(self.block_weights) - set(DEFAULT_BLOCK_WEIGHTS)
        if unknown:
            raise ValueError(
                f"unknown content blocks {sorted(unknown)}; known: {DEFAULT_BLOCK_WEIGHTS}"
            )

    def _fit(self, data: TrainingData) -> None:
        tracks = data.tracks.reset_index(drop=True)  # rows follow data.matrix.track_ids
        if self.preprocessor is not None:
            blocks = self._preprocessor_blocks(tracks)
        else:
            blocks = self._own_blocks(tracks)
        parts = [
            _normalise_rows(block) * np.float32(np.sqrt(self.block_weights[name]))
            for name, block in blocks.items()
            if self.block_weights[name] > 0
        ]
        if parts:
            content = _normalise_rows(sparse.hstack(parts, format="csr"))
        else:
            content = sparse.csr_matrix((len(tracks), 0), dtype=np.float32)
        self.blocks = [name for name in blocks if self.block_weights[name] > 0]
        self.content = content
        self.weighted = weighted_matrix(data.matrix, self.weighting)
        logger.info(
            "content_knn: %d tracks x %d content dimensions from blocks %s (%s)",
            content.shape[0],
            content.shape[1],
            self.blocks,
            "fitted preprocessor" if self.preprocessor is not None else "own transform",
        )
        if not self.blocks:
            logger.warning("content_knn: the tracks frame has no content columns; all scores 0")

    def _preprocessor_blocks(self, tracks: pd.DataFrame) -> dict[str, Block]:
        pre = self.preprocessor
        provided = set(pre.transform(tracks.iloc[:1]).columns) if len(tracks) else set()
        numeric = [col for col in pre.numeric_columns if col in provided]
        blocks: dict[str, Block] = {}
        if numeric:
            blocks[NUMERIC_BLOCK] = pre.feature_matrix(tracks, columns=numeric)
        blocks.update(pre.text_features(tracks))
        return blocks

    def _own_blocks(self, tracks: pd.DataFrame) -> dict[str, Block]:
        blocks: dict[str, Block] = {}
        if s.RELEASE_YEAR not in tracks and s.RELEASE_DATE in tracks:
            tracks = tracks.assign(
                **{s.RELEASE_YEAR: features.parse_release_year(tracks[s.RELEASE_DATE])}
            )
        numeric = [col for col in CONTENT_NUMERIC_COLUMNS if col in tracks]
        if numeric and len(tracks):
            values = tracks[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
            values = values.fillna(values.median()).fillna(0.0)
            blocks[NUMERIC_BLOCK] = StandardScaler().fit_transform(values.to_numpy())
        for col, analyzer in TEXT_ANALYZERS.items():
            if col not in tracks:
                continue
            vectorizer = TfidfVectorizer(
                analyzer=analyzer,
                lowercase=False,
                token_pattern=None,
                use_idf=col != s.GENRE,  # genre: plain one-hot
                norm=None,
                dtype=np.float32,
            )
            try:
                blocks[col] = vectorizer.fit_transform(_texts(tracks[col]))
            except ValueError as err:
                if "empty vocabulary" not in str(err):
                    raise
        return blocks

    def _score_rows(self, x: sparse.csr_matrix) -> np.ndarray:
        if self.neighbourhood == "profile":
            profiles = _normalise_rows(x @ self.content)
            return np.asarray((self.content @ profiles.toarray().T).T, dtype=np.float32)
        return self._nearest(x)

    def _nearest(self, x: sparse.csr_matrix) -> np.ndarray:
        """Per user, the highest cosine between each track and any track the user played."""
        n_tracks = self.content.shape[0]
        out = np.zeros((x.shape[0], n_tracks), dtype=np.float32)
        step = max(1, BLOCK_ELEMENTS // max(n_tracks, 1))
        for user in range(x.shape[0]):
            played = x.indices[x.indptr[user] : x.indptr[user + 1]]
            if len(played) == 0:
                continue
            best = np.full(n_tracks, -np.inf, dtype=np.float32)
            for start in range(0, len(played), step):
                chunk = self.content[played[start : start + step]].toarray().T
                np.maximum(best, (self.content @ chunk).max(axis=1), out=best)
            out[user] = best
        return out

    def similar_items(
        self, track_ids: np.ndarray | list, n: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` tracks closest in content to each track (ids and cosines, best first).

        Works for never-played tracks too; unknown ids get None and -inf, as in
        ``Recommendations``. Builds a dense (len(track_ids), n_tracks) array: pass a few hundred
        ids at a time.
        """
        catalogue = self.data.matrix.track_ids
        index = _catalogue_index(track_ids, catalogue)
        rows = self.content[index[index >= 0]] @ self.content.T
        return _similar(index, catalogue, sparse.csr_matrix(rows), n)
