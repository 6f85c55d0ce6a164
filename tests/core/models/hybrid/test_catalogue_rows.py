import numpy as np
import pandas as pd
import pytest

import musicrec_core.models.hybrid.recommender as recommender_module
import musicrec_core.models.hybrid.two_stage as two_stage_module
from musicrec_core.data import InteractionMatrix
from musicrec_core.data import schema as s
from musicrec_core.models.hybrid import TrainConfig
from musicrec_core.models.hybrid.catalogue_rows import CatalogueRows
from tests.core.fused_hybrid import fused_tiny_hybrid


def _matrix() -> InteractionMatrix:
    plays = pd.DataFrame(
        {
            s.USER_ID: ["a", "b", "b", "c"],
            s.TRACK_ID: ["t1", "t2", "t3", "t1"],
            s.PLAYS: [1, 2, 3, 4],
        }
    )
    return InteractionMatrix.build(plays, np.array(["a", "b", "c"]), np.array(["t1", "t2", "t3"]))


def test_given_rows_are_those_interaction_matrix_builds():
    """Unknown users and tracks are left out and repeated pairs summed, as in the matrix."""
    histories = pd.DataFrame(
        {
            s.USER_ID: ["n", "m", "n", "zz", "m", "n"],
            s.TRACK_ID: ["t3", "t1", "t3", "t1", "t9", "t2"],
            s.PLAYS: [2, 5, 1, 7, 3, 4],
        }
    )
    user_ids = np.array(["m", "n", "o"], dtype=object)
    got = CatalogueRows(_matrix()).given(user_ids, histories)
    expected = InteractionMatrix.build(histories, user_ids, _matrix().track_ids).matrix
    assert got.shape == expected.shape == (3, 3)
    assert (got != expected).nnz == 0
    assert got.toarray().tolist() == [[5, 0, 0], [0, 4, 3], [0, 0, 0]]


def test_stored_rows_leave_unknown_users_empty():
    rows = CatalogueRows(_matrix())
    got = rows.stored(np.array(["c", "zz", "b"], dtype=object))
    assert got.toarray().tolist() == [[4, 0, 0], [0, 0, 0], [0, 2, 3]]
    assert rows.user_rows(np.array(["b", "zz"], dtype=object)).tolist() == [1, -1]


@pytest.fixture(scope="module")
def fused():
    """A hybrid on the tiny catalogue that fuses item-item evidence in both stages and the
    content similarity of new tracks."""
    model, data, _ = fused_tiny_hybrid()
    return model, data.interactions


def test_recommendations_do_not_depend_on_the_block_sizes(fused, monkeypatch):
    """Blocks of one user or of every user, in ``recommend`` and in retrieval, give the same
    lists from the training plays and from given plays."""
    model, interactions = fused
    user_ids = model.data.matrix.user_ids
    stored = model.recommend(user_ids, k=15)
    given = model.recommend_with_history(user_ids, interactions, k=15)
    monkeypatch.setattr(recommender_module, "TOP_BLOCK_USERS", 1)
    monkeypatch.setattr(recommender_module, "BLOCK_SCORES", 1)
    monkeypatch.setattr(two_stage_module, "RETRIEVAL_MIN_USERS", 1)
    monkeypatch.setattr(two_stage_module, "RETRIEVAL_BLOCK", 5 * model.model.n_items)
    model.config.val_batch_size = 3
    try:
        small_stored = model.recommend(user_ids, k=15)
        small_given = model.recommend_with_history(user_ids, interactions, k=15)
    finally:
        model.config.val_batch_size = TrainConfig().val_batch_size
    for big, small in ((stored, small_stored), (given, small_given)):
        assert (big.track_ids == small.track_ids).all()
        np.testing.assert_allclose(big.scores, small.scores, rtol=1e-5)
    assert not (stored.track_ids == given.track_ids).all()
