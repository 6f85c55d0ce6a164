"""Content similarity of tracks to a user's plays, as the hybrid fuses it for new tracks."""

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from musicrec_core.data import schema as s
from musicrec_core.models import ContentKNN, TrainingData
from musicrec_core.models.hybrid import ContentSimilarity

CPU = torch.device("cpu")


def test_scores_are_cosines_of_the_log_weighted_profile():
    content = sparse.csr_matrix(np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32))
    plays = sparse.csr_matrix(np.array([[3, 0, 0], [1, 1, 0], [0, 0, 0]], dtype=np.float32))
    got = ContentSimilarity(content).scores(plays, np.array([1, 2]), CPU).numpy()
    profile = np.log1p(plays.toarray()) @ content.toarray()
    norms = np.linalg.norm(profile, axis=1, keepdims=True)
    unit = np.divide(profile, norms, out=np.zeros_like(profile), where=norms > 0)
    np.testing.assert_allclose(got, unit @ content.toarray()[[1, 2]].T, rtol=1e-6)
    assert (got[2] == 0).all()  # no plays, no similarity


def _training_data(tracks: pd.DataFrame) -> TrainingData:
    users = pd.DataFrame({s.USER_ID: ["u0", "u1"]})
    plays = pd.DataFrame(
        {s.USER_ID: ["u0", "u1"], s.TRACK_ID: tracks[s.TRACK_ID].iloc[:2], s.PLAYS: [2, 1]}
    )
    return TrainingData(plays, users, tracks)


def test_fit_builds_content_knn_vectors():
    tracks = pd.DataFrame(
        {
            s.TRACK_ID: ["t0", "t1", "t2"],
            s.ARTIST_NAME: ["Ana", "Ana", "Bo"],
            s.GENRE: ["pop", "rock", "pop"],
        }
    )
    data = _training_data(tracks)
    fitted = ContentSimilarity.fit(data, None)
    expected = ContentKNN().fit(data).content
    np.testing.assert_allclose(fitted.content.toarray(), expected.toarray())


def test_a_catalogue_without_content_gives_none():
    tracks = pd.DataFrame({s.TRACK_ID: ["t0", "t1", "t2"]})
    assert ContentSimilarity.fit(_training_data(tracks), None) is None
