import numpy as np
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.models import (
    Popularity,
    SegmentPopularity,
    TrainingData,
    segment_recommendations,
    top_k,
)


def _data() -> TrainingData:
    users = pd.DataFrame(
        {
            s.USER_ID: ["a", "b", "c", "d"],
            s.AGE_GROUP: ["Gen Z", "Gen Z", "Gen X", "Gen X"],
            s.GENDER: ["F", "F", "M", "M"],
        }
    )
    tracks = pd.DataFrame({s.TRACK_ID: ["t1", "t2", "t3", "t4"]})
    plays = pd.DataFrame(
        {
            s.USER_ID: ["a", "b", "b", "c", "d", "d"],
            s.TRACK_ID: ["t1", "t1", "t2", "t3", "t3", "t4"],
            s.PLAYS: [1, 5, 1, 2, 2, 1],
        }
    )
    return TrainingData(plays, users, tracks)


def test_top_k_orders_best_first_and_handles_k_larger_than_catalogue():
    idx, val = top_k(np.array([[0.1, 0.9, 0.5]]), 5)
    assert idx.tolist() == [[1, 2, 0]] and val[0, 0] == 0.9


def test_popularity_never_recommends_played_tracks():
    model = Popularity().fit(_data())
    recs = model.recommend(["b", "zzz"], k=4)
    assert "t1" not in recs.track_ids[0] and "t2" not in recs.track_ids[0]
    assert recs.track_ids[0][0] == "t3"  # two listeners
    assert recs.track_ids[1][0] in {"t1", "t3"}  # unknown user: global popularity
    assert recs.track_ids[0][-1] is None and np.isneginf(recs.scores[0][-1])


def test_segment_popularity_prefers_the_users_segment():
    model = SegmentPopularity(prior_users=1.0).fit(_data())
    recs = model.recommend(["a", "c"], k=1)
    assert recs.track_ids[0][0] == "t2"  # Gen Z|F listeners played t1 (excluded for a) and t2
    assert recs.track_ids[1][0] == "t4"
    frame = segment_recommendations(model, _data().users, k=2)
    assert set(frame[s.AGE_GROUP]) == {"Gen Z", "Gen X"}
    assert frame.groupby([s.AGE_GROUP, s.GENDER]).size().eq(2).all()


def test_recommendations_frame_has_the_serving_columns():
    model = Popularity().fit(_data())
    frame = model.recommend(["a"], k=2).to_frame("popularity", "v1")
    assert list(frame.columns) == s.RECOMMENDATION_COLUMNS
    assert frame[s.RANK].tolist() == [1, 2]


def test_popularity_leaves_given_plays_out_for_a_new_user():
    model = Popularity().fit(_data())
    given = pd.DataFrame({s.USER_ID: ["new"], s.TRACK_ID: ["t3"], s.PLAYS: [1]})
    recs = model.recommend_with_history(["new"], given, k=2)
    assert recs.track_ids[0][0] == "t1"  # t3 ties it on listeners but was given
    assert "t3" not in recs.track_ids[0]


def test_a_new_listener_gets_their_segments_favourites_without_their_plays():
    model = SegmentPopularity(prior_users=0.0).fit(_data())
    listener = pd.DataFrame({s.USER_ID: ["new"], s.AGE_GROUP: ["Gen X"], s.GENDER: ["M"]})
    history = pd.DataFrame({s.USER_ID: ["new"], s.TRACK_ID: ["t4"], s.PLAYS: [1]})
    recs = model.recommend_new(listener, history, k=2)
    assert recs.track_ids[0].tolist() == ["t3", "t1"]
    unseen = listener.assign(**{s.AGE_GROUP: ["Unknown"], s.GENDER: ["U"]})
    assert model.recommend_new(unseen, history[:0], k=1).track_ids[0].tolist() == ["t1"]
