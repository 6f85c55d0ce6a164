"""Evaluation in two steps: lists ranked in parts give the metrics of one ranking; lists that do
not match the test sets are refused."""

import numpy as np
import pandas as pd
import pytest

from musicrec_core import evaluation as ev
from musicrec_core.data import prepare
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.evaluation.rankings import recommended_indices

KS = (5, 10)
MODELS = ["popularity", "segment_popularity", "item_knn"]


@pytest.fixture(scope="module")
def fitted() -> tuple[ev.EvaluationData, ev.FittedModels]:
    data = prepare(SourceConfig(kind="synthetic", size="tiny"))
    evaluation = ev.evaluation_data(
        data.split, data.users, data.tracks, cold_user_given=2, eval_users=None
    )
    return evaluation, ev.fit_models(MODELS, evaluation)


def test_metrics_from_lists_ranked_in_parts_equal_those_of_one_ranking(fitted):
    data, fits = fitted
    whole = ev.compare(fits.models, data, ks=KS, n_boot=50)
    parts = [ev.rank_models({name: model}, data, max(KS)) for name, model in fits.models.items()]
    summed = ev.summarise(ev.Rankings.concat(parts[::-1]), data, KS, n_boot=50, models=MODELS)
    assert set(whole.summary[ev.TEST_SET]) == set(ev.TEST_SETS)  # every test set is measured
    for part in ("summary", "per_user", "pr_curve", "score_samples"):
        pd.testing.assert_frame_equal(getattr(summed, part), getattr(whole, part))


def test_lists_of_other_users_are_refused(fitted):
    data, fits = fitted
    fewer = ev.sample_users(data, 5)
    rankings = ev.rank_models(fits.models, fewer, max(KS))
    with pytest.raises(ValueError, match="other evaluation settings"):
        ev.summarise(rankings, data, KS, n_boot=10)


def test_lists_shorter_than_the_largest_k_are_refused(fitted):
    data, fits = fitted
    rankings = ev.rank_models(fits.models, data, 5)
    with pytest.raises(ValueError, match="ranked to 5 places, fewer than the 10"):
        ev.summarise(rankings, data, KS, n_boot=10)


def test_short_and_empty_lists_keep_their_users_and_length(fitted):
    data, _ = fitted
    test = data.test_sets[ev.WARM]
    track_ids = data.train.matrix.track_ids
    recommended = np.full((len(test.user_ids), 4), -1, dtype=np.int64)
    allowed = np.flatnonzero(test.candidates(slice(0, 1))[0])
    recommended[0, :2] = allowed[[3, 1]]  # a short list; every other user's is empty
    model = _Fixed(recommended, len(track_ids))
    lists = ev.rank_models({"fixed": model}, data, 4, test_sets=[ev.WARM]).lists
    assert set(lists[s.USER_ID]) == set(test.user_ids) and lists[s.RANK].max() == 4
    np.testing.assert_array_equal(recommended_indices(lists, test, track_ids, 4), recommended)


class _Fixed:
    """Scores that rank the given catalogue indices first, in order, and nothing else."""

    test_sets = (ev.WARM,)

    def __init__(self, recommended: np.ndarray, n_tracks: int) -> None:
        self.recommended = recommended
        self.n_tracks = n_tracks
        self.users: dict = {}  # users in the order they are scored: the test set's

    def score(self, user_ids: np.ndarray) -> np.ndarray:
        rows = [self.users.setdefault(u, len(self.users)) for u in user_ids]
        scores = np.full((len(rows), self.n_tracks), -np.inf)
        for i, row in enumerate(rows):
            for place, track in enumerate(self.recommended[row]):
                if track >= 0:
                    scores[i, track] = -place
        return scores
