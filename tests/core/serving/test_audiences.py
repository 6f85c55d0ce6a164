"""Recommendations per audience: listeners are placed by how many distinct tracks they played,
each audience's lists come from its own model, and shards still add up to the whole."""

import numpy as np
import pandas as pd
import pytest

from musicrec_core.data import fit_preprocessor, prepare, training_rows
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.evaluation import FEW_PLAYS
from musicrec_core.models import ItemKNN, Popularity, TrainingData
from musicrec_core.serving import (
    audience_recommendations,
    content_vectors,
    segment_popularity,
    shard_users,
    user_audiences,
)


def test_audiences_count_distinct_tracks():
    users = pd.DataFrame({s.USER_ID: ["none", "one", "few", "many"]}, index=[10, 11, 12, 13])
    counts = {"one": 1, "few": FEW_PLAYS, "many": FEW_PLAYS + 1}
    plays = pd.DataFrame(
        [(user, f"t{i}") for user, n in counts.items() for i in range(n)],
        columns=[s.USER_ID, s.TRACK_ID],
    )
    audiences = user_audiences(users, plays)
    assert audiences.index.tolist() == users.index.tolist()
    assert audiences.tolist() == ["cold_user", "cold_user_given", "cold_user_given", "warm"]


@pytest.fixture(scope="module")
def inputs():
    """The tiny catalogue with listeners of every audience: warm ones, three with two plays
    each, and three with none."""
    data = prepare(SourceConfig(kind="synthetic", size="tiny"))
    few = data.users.head(3).assign(**{s.USER_ID: [f"few{i}" for i in range(3)]})
    new = data.users.tail(3).assign(**{s.USER_ID: [f"new{i}" for i in range(3)]})
    data.users = pd.concat([data.users, few, new], ignore_index=True)
    given = data.interactions.head(6).assign(**{s.USER_ID: np.repeat(few[s.USER_ID], 2).to_numpy()})
    data.interactions = pd.concat([data.interactions, given], ignore_index=True)
    preprocessor, _, _ = fit_preprocessor(training_rows(data.split), data.users, data.tracks)
    training = TrainingData(data.interactions, data.users, data.tracks)
    fallback = segment_popularity(data.interactions, data.users, data.tracks)
    models = {
        "warm": (ItemKNN().fit(training), "v1"),
        "cold_user_given": (Popularity().fit(training), "v2"),
        "cold_user": (fallback, "v3"),
    }
    return data, models, fallback, content_vectors(data.tracks, preprocessor)


def _recommend(inputs, users: pd.DataFrame) -> pd.DataFrame:
    data, models, fallback, vectors = inputs
    audiences = user_audiences(users, data.interactions)
    return audience_recommendations(
        models, audiences, fallback, data.interactions, users, data.tracks, vectors, 10, 0.2
    )


def test_each_audience_gets_its_model(inputs):
    frame = _recommend(inputs, inputs[0].users)
    served = frame.groupby(s.USER_ID)[[s.MODEL_NAME, s.MODEL_VERSION]].first()
    assert set(served.loc[["few0", "few1", "few2"], s.MODEL_NAME]) == {"popularity"}
    assert set(served.loc[["new0", "new1", "new2"], s.MODEL_NAME]) == {"segment_popularity"}
    warm = served.drop(index=["few0", "few1", "few2", "new0", "new1", "new2"])
    assert set(warm[s.MODEL_NAME]) == {"item_knn"} and set(warm[s.MODEL_VERSION]) == {"v1"}
    assert (frame.groupby(s.USER_ID).size() == 10).all()
    given = inputs[0].interactions
    played = frame.merge(given[[s.USER_ID, s.TRACK_ID]], on=[s.USER_ID, s.TRACK_ID])
    assert played.empty, "a listener is recommended a track they played"


def test_sharded_audiences_equal_the_whole(inputs):
    users = inputs[0].users
    whole = _recommend(inputs, users)
    sharded = pd.concat([_recommend(inputs, shard_users(users, i, 3)) for i in range(3)])
    key = [s.USER_ID, s.RANK]
    columns = [s.USER_ID, s.RANK, s.TRACK_ID, s.MODEL_NAME]
    pd.testing.assert_frame_equal(
        sharded.sort_values(key)[columns].reset_index(drop=True),
        whole.sort_values(key)[columns].reset_index(drop=True),
    )
    empty = _recommend(inputs, users.head(0))
    assert empty.empty and list(empty.columns) == s.RECOMMENDATION_COLUMNS
