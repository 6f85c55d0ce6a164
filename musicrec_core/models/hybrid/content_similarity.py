"""How close in content a track is to a user's plays: the content kNN baseline's profile cosine.

The hybrid fuses it into its ranking of the tracks it knows by content alone (new tracks): the
towers place a new track through learned embeddings of its artist, genre and audio features,
which blur an exact artist match that the cosine keeps.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from sklearn.preprocessing import normalize

from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.models.content_knn import ContentKNN
from musicrec_core.models.play_rows import weighted_matrix
from musicrec_core.models.recommender import TrainingData


class ContentSimilarity:
    """Cosine between each user's play-weighted content profile and given tracks."""

    def __init__(self, content: sparse.csr_matrix) -> None:
        """``content``: (n_tracks, d) track content vectors with unit rows (content kNN's)."""
        self.content = sparse.csr_matrix(content, dtype=np.float32)

    @classmethod
    def fit(
        cls, data: TrainingData, preprocessor: MusicPreprocessor | None
    ) -> ContentSimilarity | None:
        """Content vectors of ``data.tracks``, built as the content kNN baseline builds them;
        None for a catalogue without content columns."""
        content = ContentKNN(preprocessor=preprocessor).fit(data).content
        return cls(content) if content.shape[1] else None

    def scores(
        self,
        plays: sparse.csr_matrix,
        tracks: np.ndarray,
        device: torch.device,
        rows: np.ndarray | None = None,
    ) -> torch.Tensor:
        """(n_users, len(tracks)) cosines of the users' profiles (``log1p(plays)``-weighted
        means of their tracks' vectors) to ``tracks``; 0 for users without plays. ``rows``:
        positions of the only users wanted (default all)."""
        if rows is not None:
            plays = plays[rows]
        profiles = normalize(weighted_matrix(plays, "log") @ self.content).toarray()
        # sparse tracks times dense profiles: a product of two sparse matrices with a dense
        # result took four times as long on the demo
        cosines = (self.content[tracks] @ profiles.T).T
        return torch.as_tensor(np.ascontiguousarray(cosines, np.float32), device=device)
