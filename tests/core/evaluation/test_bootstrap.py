"""One resampling for every metric gives the intervals that resampling each metric alone gives."""

import numpy as np
import pandas as pd
import pytest

from musicrec_core import metrics as m
from musicrec_core.evaluation.bootstrap import resampled_means, summarise


def _per_user(n_users: int, seed: int) -> pd.DataFrame:
    """Per-user metrics at three cutoffs: one metric never known, one missing for some users."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in (5, 10, 20):
        frame = {metric: rng.random(n_users) for metric in m.PER_USER_METRICS}
        frame[m.ILS_GENRE] = np.full(n_users, np.nan)
        frame[m.NOVELTY] = np.where(rng.random(n_users) < 0.3, np.nan, rng.random(n_users))
        frames.append(pd.DataFrame({"user_id": np.arange(n_users), m.K: k, **frame}))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("n_users", [0, 1, 7, 300, 4_500])  # 4,500: resampled in two chunks
def test_the_summary_equals_resampling_each_metric_alone(n_users):
    per_user = _per_user(n_users, seed=n_users)
    expected = m.summarise(per_user, n_boot=1000, seed=3)
    got = summarise(per_user, n_boot=1000, seed=3)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12, atol=1e-14)


def test_resampled_means_are_means_of_users_drawn_with_replacement():
    values = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0]])
    means = resampled_means(values, n_boot=500, seed=0)
    assert means.shape == (500, 2)
    np.testing.assert_allclose(means[:, 1], 10.0 + 10.0 * means[:, 0])
    assert means[:, 0].min() == 0.0 and means[:, 0].max() == 2.0
    assert len(np.unique(means[:, 0])) > 3
