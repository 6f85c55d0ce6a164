"""Low-rank EASE: exact EASE once its rank covers the plays, an approximation below, and the
choice of λ."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from musicrec_core.data import holdout
from musicrec_core.data import schema as s
from musicrec_core.models import EASE, EASE_L2_CHOICES, LowRankEASE, TrainingData
from musicrec_core.models.ease import ease_weights
from musicrec_core.models.low_rank_ease import (
    choose_low_rank_l2,
    low_rank_ease_factors,
    low_rank_gram,
)


def _random_plays(n_users: int, n_tracks: int, seed: int) -> TrainingData:
    """Random plays of ``n_users`` users over ``n_tracks`` tracks (each played by someone),
    the last user a copy of the one before, so the plays' rank is below the users'."""
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_tracks)) < 0.25
    dense[np.arange(n_tracks) % (n_users - 1), np.arange(n_tracks)] = True
    dense[-1] = dense[-2]
    users, tracks = np.nonzero(dense)
    plays = pd.DataFrame(
        {
            s.USER_ID: [f"u{u:02d}" for u in users],
            s.TRACK_ID: [f"t{t:03d}" for t in tracks],
            s.PLAYS: rng.integers(1, 9, len(users)),
        }
    )
    return TrainingData(
        plays,
        pd.DataFrame({s.USER_ID: [f"u{u:02d}" for u in range(n_users)]}),
        pd.DataFrame({s.TRACK_ID: [f"t{t:03d}" for t in range(n_tracks)]}),
    )


def test_with_the_rank_of_the_plays_it_scores_exactly_as_ease():
    data = _random_plays(20, 60, seed=3)
    users = data.users[s.USER_ID].to_numpy(dtype=object)
    exact = EASE(l2=5.0).fit(data).score(users)
    low_rank = LowRankEASE(rank=100, l2=5.0).fit(data)
    assert low_rank.sources.shape[1] == 19  # one fewer than the users; the plays' rank is 19
    np.testing.assert_allclose(low_rank.score(users), exact, atol=2e-4)


def test_below_the_rank_of_the_plays_the_unplayed_scores_approach_eases():
    x = sparse.csr_matrix((np.random.default_rng(0).random((80, 120)) < 0.2).astype(np.float32))
    items, weights = ease_weights(x, 50.0, max_items=1000)
    exact = (x[:, items] @ weights)[(x[:, items].toarray() == 0)]
    errors = []
    for rank in (8, 32, 64):
        gram = low_rank_gram(x, rank)
        sources, targets = low_rank_ease_factors(gram, 50.0)
        approx = ((x[:, gram.items] @ sources) @ targets.T)[(x[:, items].toarray() == 0)]
        errors.append(np.abs(approx - exact).max())
    assert errors[0] > errors[1] > errors[2] and errors[2] < errors[0] / 10


def test_the_eigenpairs_come_highest_first_so_the_first_columns_are_a_lower_rank():
    gram = low_rank_gram(sparse.random(50, 40, density=0.2, format="csr", random_state=1), 10)
    assert gram.vectors.shape == (40, 10) and gram.vectors.dtype == np.float32
    assert np.all(np.diff(gram.eigenvalues) <= 0)


def test_l2_is_chosen_on_held_out_plays_from_the_choices():
    data = _random_plays(60, 80, seed=5)
    x = sparse.csr_matrix(data.matrix.matrix, dtype=np.float32)
    x.data[:] = 1.0
    kept, held = holdout(x, np.random.default_rng(0))
    l2, scores = choose_low_rank_l2(kept, held, rank=16)
    assert list(scores) == list(EASE_L2_CHOICES) and scores[l2] == max(scores.values())
    model = LowRankEASE(rank=16).fit(data)
    assert model.l2 in EASE_L2_CHOICES and model.l2_validation


@pytest.mark.parametrize(("rank", "l2"), [(0, None), (8, 0.0)])
def test_bad_settings_are_refused(rank, l2):
    with pytest.raises(ValueError, match="must be positive"):
        LowRankEASE(rank=rank, l2=l2)
