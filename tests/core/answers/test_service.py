"""Questions asked of a published small catalogue: lists with reasons, new listeners, similar
tracks, explanations, and one clear error per unanswerable question."""

import logging

import numpy as np
import pytest

from musicrec_core.answers import (
    MAX_K,
    Answers,
    InvalidQuestion,
    NoServingDatabase,
    UnknownTrack,
    UnknownUser,
    audience_of,
)
from musicrec_core.data import schema as s
from musicrec_core.evaluation import FEW_PLAYS
from musicrec_core.evaluation.audiences import WARM_USERS
from musicrec_core.models.hybrid.item_item_cache import ITEM_ITEM_DIR
from musicrec_core.serving import read_only_query
from musicrec_core.serving.layout import ARTIFACTS_DIR, SERVING_FILE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def answers(published_data_dir) -> Answers:
    return Answers.open(published_data_dir)


def _listener(answers: Answers) -> str:
    """A listener with more than a few plays and a published list."""
    counts = np.diff(answers.plays.indptr)
    return str(answers.user_index[np.flatnonzero(counts > FEW_PLAYS)[0]])


def _played(answers: Answers, user_id: str) -> set[str]:
    return set(answers.data.interactions.loc[lambda f: f[s.USER_ID] == user_id, s.TRACK_ID])


def test_a_listeners_list_is_the_published_one_with_a_reason_per_track(answers, published_data_dir):
    user = _listener(answers)
    answer = answers.recommend(user, k=5)
    published = read_only_query(
        published_data_dir / SERVING_FILE,
        f"SELECT {s.TRACK_ID} FROM recommendations WHERE {s.USER_ID} = '{user}' ORDER BY {s.RANK}",
    )[s.TRACK_ID].tolist()
    assert answer.items[s.TRACK_ID].tolist() == published[:5]
    assert answer.audience == "warm"
    assert answer.items["reason"].str.len().gt(0).all()
    assert answer.items[s.TRACK_NAME].notna().all()


def test_a_listeners_new_tracks_are_their_published_pick_of_unplayed_tracks(
    answers, published_data_dir
):
    user = _listener(answers)
    answer = answers.new_tracks(user, k=3)
    published = read_only_query(
        published_data_dir / SERVING_FILE,
        f"SELECT {s.TRACK_ID}, {s.MODEL_NAME} FROM new_track_recommendations "
        f"WHERE {s.USER_ID} = '{user}' ORDER BY {s.RANK}",
    )
    assert len(published) > 3, "the published catalogue holds tracks nobody has played"
    assert answer.items[s.TRACK_ID].tolist() == published[s.TRACK_ID].tolist()[:3]
    assert answer.audience == "cold_track"
    assert answer.model_name == published[s.MODEL_NAME].iloc[0] == answers.model_of("cold_track")[0]
    assert not set(answer.items[s.TRACK_ID]) & set(answers.data.interactions[s.TRACK_ID])
    assert answer.items["reason"].str.len().gt(0).all()


def test_asking_for_a_diversity_ranks_now_and_never_returns_a_played_track(answers):
    user = _listener(answers)
    focused = answers.recommend(user, k=10, diversity=0.0)
    varied = answers.recommend(user, k=10, diversity=1.0)
    for answer in (focused, varied):
        assert len(answer.items) == 10
        assert not set(answer.items[s.TRACK_ID]) & _played(answers, user)
    assert varied.items[s.GENRE].nunique() >= focused.items[s.GENRE].nunique()


def test_a_new_listener_is_placed_by_the_model_serving_their_audience(answers):
    played = answers.tracks[s.TRACK_ID].iloc[:3].tolist()
    answer = answers.cold_start(age=24, gender="female", played=played, k=8)
    assert answer.audience == "cold_user_given"
    expected = answers.served.loc["cold_user_given", s.MODEL_NAME]
    assert answer.model_name == expected
    assert len(answer.items) == 8 and not set(answer.items[s.TRACK_ID]) & set(played)
    nobody = answers.cold_start(age=70, gender="M", k=5)
    assert nobody.audience == "cold_user"
    assert nobody.model_name == answers.served.loc["cold_user", s.MODEL_NAME]
    assert len(nobody.items) == 5


def test_similar_tracks_exclude_the_track_and_explain_themselves(answers):
    track = answers.tracks.sort_values("n_listeners")[s.TRACK_ID].iloc[-1]
    answer = answers.similar(track, k=6)
    assert len(answer.items) == 6 and track not in set(answer.items[s.TRACK_ID])
    assert "played both" in answer.items["reason"].iloc[0]


def test_an_explanation_gives_the_rank_the_plays_and_the_segment(answers):
    user = _listener(answers)
    first = answers.recommend(user, k=1).items[s.TRACK_ID].iloc[0]
    explanation = answers.explain(user, first)
    assert explanation.rank == 1 and explanation.plays == 0
    assert explanation.reasons["kind"].iloc[-1] == "audience"
    played = sorted(_played(answers, user))[0]
    assert answers.explain(user, played).plays > 0


@pytest.mark.parametrize(
    ("question", "error", "words"),
    [
        (lambda a: a.recommend("no-such-user"), UnknownUser, "no-such-user"),
        (lambda a: a.new_tracks("no-such-user"), UnknownUser, "no-such-user"),
        (lambda a: a.new_tracks(_listener(a), k=0), InvalidQuestion, f"1 and {MAX_K}"),
        (lambda a: a.similar("no-such-track"), UnknownTrack, "no-such-track"),
        (lambda a: a.recommend(_listener(a), k=0), InvalidQuestion, f"1 and {MAX_K}"),
        (lambda a: a.recommend(_listener(a), k=MAX_K + 1), InvalidQuestion, "k must be"),
        (lambda a: a.recommend(_listener(a), diversity=1.5), InvalidQuestion, "diversity"),
        (lambda a: a.cold_start(age=3), InvalidQuestion, "age 3"),
        (lambda a: a.cold_start(age=200), InvalidQuestion, "age 200"),
        (lambda a: a.cold_start(gender="robot"), InvalidQuestion, "'robot'"),
        (lambda a: a.cold_start(played=["nope"]), UnknownTrack, "'nope'"),
        (lambda a: a.explain(_listener(a), "nope"), UnknownTrack, "'nope'"),
    ],
)
def test_each_unanswerable_question_names_its_problem_in_one_line(answers, question, error, words):
    with pytest.raises(error) as raised:
        question(answers)
    assert words in str(raised.value) and "\n" not in str(raised.value)


def test_no_published_database_is_its_own_error(tmp_path):
    with pytest.raises(NoServingDatabase, match="musicrec demo"):
        Answers.open(tmp_path)


def test_audiences_follow_the_number_of_tracks_played():
    assert audience_of(0) == "cold_user"
    assert audience_of(1) == audience_of(FEW_PLAYS) == "cold_user_given"
    assert audience_of(FEW_PLAYS + 1) == "warm"


def test_three_plays_of_one_genre_place_a_new_listener_mostly_in_that_genre(answers):
    """Across the five largest genres: mostly that genre, and far more of it than the same
    listener gets with no plays (their segment's taste)."""
    tracks = answers.tracks
    unplaced = answers.cold_start(age=30, gender="F", k=10).items[s.GENRE]
    placed_shares, unplaced_shares = [], []
    for genre in tracks[s.GENRE].value_counts().index[:5]:
        of_genre = tracks[tracks[s.GENRE] == genre]
        played = of_genre.nlargest(3, "n_listeners")[s.TRACK_ID].tolist()
        placed = answers.cold_start(age=30, gender="F", played=played, k=10).items[s.GENRE]
        placed_shares.append((placed == genre).mean())
        unplaced_shares.append((unplaced == genre).mean())
    assert np.median(placed_shares) >= 0.6, placed_shares
    assert np.mean(placed_shares) > np.mean(unplaced_shares) + 0.3, (placed_shares, unplaced_shares)


def test_the_served_hybrid_reads_the_item_item_factors_the_pipeline_kept(
    published_data_dir, caplog
):
    kept = sorted(
        (published_data_dir / ARTIFACTS_DIR).glob(f"hybrid/*/{ITEM_ITEM_DIR}/*.pt"),
        key=lambda path: path.stat().st_mtime_ns,
    )
    # Those of the training plays, saved with the model, then those of every play, which the
    # first user shard's lists fitted.
    assert len(kept) == 2
    with caplog.at_level(logging.INFO, logger="musicrec_core.models.hybrid.item_item_cache"):
        Answers.open(published_data_dir).model(WARM_USERS)
    assert f"item-item factors read from {kept[-1]}" in caplog.text
