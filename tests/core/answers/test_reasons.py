"""Evidence behind answers, on a hand-made catalogue whose co-listening and sound are known."""

import numpy as np
import pandas as pd
from scipy import sparse

from musicrec_core.answers.reasons import AUDIENCE, CO_LISTENING, CONTENT, Evidence, most_alike
from musicrec_core.data import schema as s

# Tracks 0 and 1 share two listeners; 2 sounds like 0 but nobody who played 0 played it;
# 3 has never been played and sounds like 1.
PLAYS = sparse.csr_matrix(
    np.array(
        [
            [3, 1, 0, 0],
            [2, 5, 0, 0],
            [0, 0, 4, 0],
        ],
        dtype=np.float32,
    )
)
TRACKS = pd.DataFrame(
    {
        s.TRACK_ID: ["a", "b", "c", "d"],
        s.TRACK_NAME: ["Alpha", "Beta", "Gamma", "Delta"],
        s.ARTIST_NAME: ["X", "Y", "Z", "W"],
        s.GENRE: ["Rock", "Jazz", "Rock", "Jazz"],
    }
)
CONTENT_VECTORS = np.array([[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0], [0.1, 0.9, 0]], dtype=np.float32)


def evidence() -> Evidence:
    return Evidence(PLAYS, TRACKS, CONTENT_VECTORS)


def test_a_co_listened_play_is_the_reason_before_sound():
    reasons = evidence().for_listener(np.array([0]), np.array([3.0]), np.array([1, 2]), "crowd")
    assert reasons[0].kind == CO_LISTENING and '"Alpha" by X' in reasons[0].text
    assert "2 listeners played both" in reasons[0].text
    assert reasons[1].kind == CONTENT and "sounds like" in reasons[1].text
    assert reasons[1].text.endswith(", Rock")


def test_without_plays_the_audience_is_the_reason():
    reasons = evidence().for_listener(np.array([], int), np.array([]), np.array([0, 1]), "crowd")
    assert [(r.kind, r.text) for r in reasons] == [(AUDIENCE, "crowd")] * 2


def test_similar_ranks_shared_listeners_first_and_never_the_track_itself():
    order, scores, reasons = evidence().similar(0, k=3)
    assert 0 not in order
    assert order[0] == 1 and reasons[0].kind == CO_LISTENING
    assert order[1] == 2 and reasons[1].kind == CONTENT
    assert scores[0] > 0


def test_a_track_nobody_played_is_matched_by_sound():
    order, _, reasons = evidence().similar(3, k=2)
    assert order[0] == 1
    assert all(r.kind == CONTENT for r in reasons)


def test_all_reasons_cite_each_linked_play():
    reasons = evidence().all_reasons(np.array([0, 2]), np.array([3.0, 4.0]), 1)
    assert [r.kind for r in reasons] == [CO_LISTENING] and "(3 plays)" in reasons[0].text
    by_sound = evidence().all_reasons(np.array([1]), np.array([5.0]), 3)
    assert [r.kind for r in by_sound] == [CONTENT] and '"Beta" by Y (Jazz)' in by_sound[0].text


def test_most_alike_is_the_full_sort_order_without_the_track():
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(2, 60))
        # Few distinct values, so that ties in both keys are common.
        colisten = rng.choice([0.0, 0.0, 0.0, 0.25, 0.5, 1.0], n)
        content = rng.choice([-0.5, 0.0, 0.3, 0.3, 0.9], n).astype(np.float32)
        track, k = int(rng.integers(n)), int(rng.integers(1, n + 2))
        full = np.lexsort((-content, -colisten))
        expected = full[full != track][:k]
        np.testing.assert_array_equal(most_alike(colisten, content, track, k), expected, str(trial))
