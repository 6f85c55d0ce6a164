import numpy as np
import pandas as pd
import pytest

from musicrec_core.models import mmr_rerank, personal_strength
from musicrec_core.models.diversity import listener_strength

# Tracks 0-2 point the same way (one genre), 3 and 4 elsewhere.
VECTORS = np.array([[1, 0], [1, 0.01], [1, -0.01], [0, 1], [-1, 0]], dtype=np.float32)


def test_zero_strength_keeps_the_model_order():
    candidates = np.array([[0, 1, 2, 3, 4]])
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
    tracks, chosen = mmr_rerank(candidates, scores, VECTORS, k=3, strength=0.0)
    assert tracks.tolist() == [[0, 1, 2]]
    assert chosen.tolist() == [[5.0, 4.0, 3.0]]


def test_strength_trades_relevance_for_variety():
    candidates = np.array([[0, 1, 2, 3, 4]])
    scores = np.array([[5.0, 4.9, 4.8, 2.0, 1.0]])
    tracks, _ = mmr_rerank(candidates, scores, VECTORS, k=3, strength=0.6)
    assert tracks[0, 0] == 0  # the most relevant comes first
    assert set(tracks[0, 1:]) == {3, 4}  # then the unlike tracks before the near-duplicates


def test_per_user_strength_and_empty_slots():
    candidates = np.array([[0, 1, 3, -1], [0, 1, 3, -1]])
    scores = np.array([[3.0, 2.9, 1.0, 0.0], [3.0, 2.9, 1.0, 0.0]])
    tracks, chosen = mmr_rerank(candidates, scores, VECTORS, k=4, strength=np.array([0.0, 0.9]))
    assert tracks[0].tolist() == [0, 1, 3, -1]
    assert tracks[1].tolist() == [0, 3, 1, -1]
    assert np.isneginf(chosen[:, -1]).all()


def test_strength_outside_unit_interval_is_refused():
    with pytest.raises(ValueError, match="strength"):
        mmr_rerank(np.array([[0, 1]]), np.array([[1.0, 0.5]]), VECTORS, k=1, strength=1.5)


def test_personal_strength_follows_the_users_own_variety():
    plays = pd.DataFrame(
        {
            "user": ["focused"] * 4 + ["eclectic"] * 4,
            "genre": ["Rock"] * 4 + ["Rock", "Jazz", "Pop", "Folk"],
        }
    )
    strength = personal_strength(
        plays, 0.4, np.array(["focused", "eclectic", "new"]), "user", "genre"
    )
    assert strength[0] == 0.0
    assert strength[1] == pytest.approx(0.4)
    assert strength[2] == 0.4


@pytest.mark.parametrize(
    "genres", [[], ["Rock"] * 3, ["Rock", "Jazz"], ["Rock", "Rock", "Jazz", "Pop", "Folk"]]
)
def test_one_listeners_strength_is_the_batch_strength(genres):
    plays = pd.DataFrame({"user": "one", "genre": genres}, dtype=object)
    batch = personal_strength(plays, 0.3, np.array(["one"]), "user", "genre", n_genres=6)[0]
    assert listener_strength(np.array(genres, dtype=object), 0.3, 6) == pytest.approx(batch)
