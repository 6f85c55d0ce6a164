"""Content-based kNN: scores tracks by how they sound and read (audio features, genre, artists),
so never-played tracks get scores too."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from musicrec_core.data import features
from musicrec_core.data import schema as s
from musicrec_core.data.preprocessing import TEXT_ANALYZERS, MusicPreprocessor
from musicrec_core.models.play_rows import (
    BLOCK_ELEMENTS,
    WEIGHTINGS,
    PlayRowRecommender,
    _catalogue_index,
    _check_choice,
    _similar,
    weighted_matrix,
)
from musicrec_core.models.recommender import TrainingData

logger = logging.getLogger(__name__)

NEIGHBOURHOODS = ("profile", "nearest")

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
