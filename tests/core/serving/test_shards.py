"""User shards are stable and partition the users, and recommending shard by shard gives the
same lists as recommending for everyone at once."""

import numpy as np
import pandas as pd
import pytest

from musicrec_core.data import fit_preprocessor, prepare, training_rows
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.models import ItemKNN, TrainingData
from musicrec_core.serving import (
    content_vectors,
    segment_popularity,
    served_recommendations,
    shard_users,
    user_shards,
)


def test_shards_are_fixed_by_the_id_alone():
    ids = np.array([f"u{i:06d}" for i in range(1000)], dtype=object)
    shards = user_shards(ids, 4)
    assert set(shards) == {0, 1, 2, 3}
    assert min(np.bincount(shards)) > 200  # roughly even
    reordered = user_shards(ids[::-1], 4)[::-1]
    np.testing.assert_array_equal(shards, reordered)
    # Stored shards depend on these values: a different hash would move users between shards.
    pinned = np.array([f"u00000{i}" for i in range(1, 7)], dtype=object)
    assert user_shards(pinned, 4).tolist() == [0, 2, 1, 3, 2, 3]
    assert user_shards(pinned, 7).tolist() == [6, 5, 2, 2, 1, 1]
    assert user_shards(ids, 1).tolist() == [0] * 1000


def test_shard_users_split_the_users_exactly():
    users = pd.DataFrame({s.USER_ID: [f"u{i}" for i in range(50)]})
    parts = [shard_users(users, shard, 3) for shard in range(3)]
    assert sorted(pd.concat(parts)[s.USER_ID]) == sorted(users[s.USER_ID])
    with pytest.raises(ValueError, match="outside"):
        shard_users(users, 3, 3)
    with pytest.raises(ValueError, match="at least 1"):
        user_shards(users[s.USER_ID], 0)


@pytest.fixture(scope="module")
def serving_inputs():
    data = prepare(SourceConfig(kind="synthetic", size="tiny"))
    # Listeners with no plays yet, whom the fallback serves.
    newcomers = data.users.head(6).assign(**{s.USER_ID: [f"new{i}" for i in range(6)]})
    data.users = pd.concat([data.users, newcomers], ignore_index=True)
    preprocessor, _, _ = fit_preprocessor(training_rows(data.split), data.users, data.tracks)
    training = TrainingData(data.interactions, data.users, data.tracks)
    model = ItemKNN().fit(training)
    fallback = segment_popularity(data.interactions, data.users, data.tracks)
    return data, model, fallback, content_vectors(data.tracks, preprocessor)


def _recommend(inputs, users: pd.DataFrame) -> pd.DataFrame:
    data, model, fallback, vectors = inputs
    frame = served_recommendations(
        model, "v1", fallback, data.interactions, users, data.tracks, vectors, k=10, diversity=0.2
    )
    return frame.drop(columns=[s.GENERATED_AT, s.MODEL_VERSION])


@pytest.mark.parametrize("n_shards", [2, 3, 7])
def test_sharded_recommendations_equal_the_unsharded(serving_inputs, n_shards):
    users = serving_inputs[0].users
    whole = _recommend(serving_inputs, users)
    sharded = pd.concat(
        [_recommend(serving_inputs, shard_users(users, i, n_shards)) for i in range(n_shards)]
    )
    key = [s.USER_ID, s.RANK]
    whole = whole.sort_values(key).reset_index(drop=True)
    sharded = sharded.sort_values(key).reset_index(drop=True)
    assert set(whole[s.MODEL_NAME]) == {"item_knn", "segment_popularity"}  # both paths served
    pd.testing.assert_frame_equal(sharded.drop(columns=[s.SCORE]), whole.drop(columns=[s.SCORE]))
    np.testing.assert_allclose(sharded[s.SCORE], whole[s.SCORE], rtol=1e-5)
