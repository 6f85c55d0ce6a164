"""ELSA, the scalable item-item model: what it learns, its loss, and that a seed fixes it."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse
from torch.nn import functional as F

from musicrec_core.data import schema as s
from musicrec_core.models import ELSA, TrainingData
from musicrec_core.models.elsa import _bags, _dropped, _normalised_mse

CPU = torch.device("cpu")

GROUPS = {"a": ["a0", "a1", "a2", "a3"], "b": ["b0", "b1", "b2", "b3"]}


def _block_data() -> TrainingData:
    """User ai plays every group-A track but a{i}, likewise for group B; one track is unplayed."""
    rows = [
        (f"{group}{i}", track, 1 + (i + j) % 3)
        for group, tracks in GROUPS.items()
        for i in range(len(tracks))
        for j, track in enumerate(tracks)
        if i != j
    ]
    plays = pd.DataFrame(rows, columns=[s.USER_ID, s.TRACK_ID, s.PLAYS])
    users = pd.DataFrame({s.USER_ID: [f"{g}{i}" for g in GROUPS for i in range(4)]})
    tracks = pd.DataFrame({s.TRACK_ID: [*GROUPS["a"], *GROUPS["b"], "cold"]})
    return TrainingData(plays, users, tracks)


@pytest.fixture(scope="module")
def fitted() -> ELSA:
    return ELSA(rank=8, epochs=30, seed=1, device="cpu").fit(_block_data())


def test_elsa_recommends_the_missing_in_group_track_first(fitted):
    recs = fitted.recommend(["a0", "a2", "b1"], k=2)
    assert recs.track_ids[:, 0].tolist() == ["a0", "a2", "b1"]
    scores = fitted.score(np.array(["a0"], dtype=object))[0]
    columns = pd.Index(fitted.data.matrix.track_ids)
    assert scores[columns.get_loc("a0")] > scores[columns.get_indexer(GROUPS["b"])].max()


def test_scores_cover_the_catalogue_and_unknown_users_and_unplayed_tracks_get_zeros(fitted):
    scores = fitted.score(np.array(["nobody", "a1", "b2"], dtype=object))
    assert scores.shape == (3, 9) and np.isfinite(scores).all()
    assert (scores[0] == 0).all()
    assert (scores[:, list(fitted.data.matrix.track_ids).index("cold")] == 0).all()
    assert fitted.A.shape == (8, 8)  # the played tracks only
    np.testing.assert_allclose(np.linalg.norm(fitted.A, axis=1), 1.0, rtol=1e-5)


def test_a_seed_fixes_the_fit_and_another_seed_changes_it(fitted):
    again = ELSA(rank=8, epochs=30, seed=1, device="cpu").fit(_block_data())
    other = ELSA(rank=8, epochs=30, seed=2, device="cpu").fit(_block_data())
    assert np.array_equal(again.A, fitted.A)
    assert not np.array_equal(other.A, fitted.A)


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_the_loss_is_the_normalised_mse_of_the_dense_reconstruction(dropout):
    rng = np.random.default_rng(0)
    rows = (rng.random((5, 12)) < 0.4).astype(np.float32)
    rows[:, 0] = 1.0  # no empty row: the loss is only taken over users with plays
    x = sparse.csr_matrix(rows)
    kept = _dropped(x, dropout, rng)
    a = F.normalize(torch.as_tensor(rng.normal(size=(12, 4)), dtype=torch.float32), dim=1)
    dense, inputs = torch.as_tensor(rows), torch.as_tensor(kept.toarray())
    predicted = inputs @ a @ a.T - inputs
    expected = ((F.normalize(dense, dim=1) - F.normalize(predicted, dim=1)) ** 2).sum(1).mean()
    got = _normalised_mse(a, *_bags(x, CPU), *_bags(kept, CPU))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_settings_must_be_positive():
    with pytest.raises(ValueError, match="rank"):
        ELSA(rank=0)
