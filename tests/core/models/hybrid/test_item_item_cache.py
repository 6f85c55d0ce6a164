"""Item-item factors kept beside a saved hybrid: found again whatever the order of the plays and
catalogues, refitted when the plays or settings change."""

import os

import numpy as np
import pandas as pd
import torch

from musicrec_core.data import schema as s
from musicrec_core.data.interactions import InteractionMatrix
from musicrec_core.models.hybrid.item_item import ItemItemScores
from musicrec_core.models.hybrid.item_item_cache import (
    ITEM_ITEM_DIR,
    KEEP,
    cached_item_item,
    fingerprint,
)

SETTINGS = {"l2": 10.0, "rank": 4}
CPU = torch.device("cpu")


def _plays(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            s.USER_ID: [f"u{i}" for i in rng.integers(0, 30, 200)],
            s.TRACK_ID: [f"t{i}" for i in rng.integers(0, 40, 200)],
            s.PLAYS: rng.integers(1, 9, 200),
        }
    )
    return rows.drop_duplicates([s.USER_ID, s.TRACK_ID], ignore_index=True)


def _matrix(plays: pd.DataFrame, users=None, tracks=None) -> InteractionMatrix:
    users = [f"u{i}" for i in range(30)] if users is None else users
    tracks = [f"t{i}" for i in range(40)] if tracks is None else tracks
    return InteractionMatrix.build(plays, np.array(users), np.array(tracks))


class Fits:
    """A stand-in fit that counts its calls: factors whose rows name their track."""

    def __init__(self, matrix: InteractionMatrix) -> None:
        self.calls = 0
        self.numbers = torch.tensor([float(t[1:]) for t in matrix.track_ids])

    def __call__(self) -> ItemItemScores:
        self.calls += 1
        column = self.numbers.unsqueeze(1)
        return ItemItemScores(column.repeat(1, 3), -column.repeat(1, 3), "ease")


def test_the_key_ignores_the_order_of_plays_users_and_tracks():
    plays = _plays()
    reordered = _matrix(
        plays.sample(frac=1.0, random_state=3),
        users=[f"u{i}" for i in reversed(range(30))],
        tracks=[f"t{i}" for i in np.random.default_rng(1).permutation(40)],
    )
    assert fingerprint(_matrix(plays), SETTINGS) == fingerprint(reordered, SETTINGS)


def test_the_key_changes_with_a_new_play_a_new_track_or_other_settings():
    plays = _plays()
    key = fingerprint(_matrix(plays), SETTINGS)
    played = set(zip(plays[s.USER_ID], plays[s.TRACK_ID], strict=True))
    new = next((f"u{u}", "t0") for u in range(30) if (f"u{u}", "t0") not in played)
    more = pd.concat([plays, pd.DataFrame([[*new, 1]], columns=plays.columns)])
    assert fingerprint(_matrix(more), SETTINGS) != key
    assert fingerprint(_matrix(plays, tracks=[f"t{i}" for i in range(41)]), SETTINGS) != key
    assert fingerprint(_matrix(plays), {**SETTINGS, "rank": 8}) != key


def test_kept_factors_are_read_back_in_the_new_track_order_without_fitting(tmp_path):
    plays = _plays()
    first = _matrix(plays)
    fits = Fits(first)
    written = cached_item_item(tmp_path, first, SETTINGS, fits, CPU, keep=True)
    (entry,) = (tmp_path / ITEM_ITEM_DIR).glob("*.pt")
    assert fits.calls == 1 and list((tmp_path / ITEM_ITEM_DIR).iterdir()) == [entry]
    umask = os.umask(0)
    os.umask(umask)
    assert entry.stat().st_mode & 0o777 == 0o666 & ~umask  # readable as any file written here

    tracks = [f"t{i}" for i in np.random.default_rng(2).permutation(40)]
    second = _matrix(plays.iloc[::-1], tracks=tracks)
    refits = Fits(second)
    read = cached_item_item(tmp_path, second, SETTINGS, refits, CPU, keep=True)
    assert refits.calls == 0
    expected = torch.tensor([float(t[1:]) for t in tracks])
    torch.testing.assert_close(read.sources[:, 0], expected)
    torch.testing.assert_close(read.targets[:, 0], -expected)
    assert read.kind == written.kind == "ease"


def test_without_keep_nothing_is_written_and_changed_plays_are_refitted(tmp_path):
    first = _matrix(_plays(0))
    cached_item_item(tmp_path, first, SETTINGS, Fits(first), CPU, keep=False)
    assert not (tmp_path / ITEM_ITEM_DIR).exists()

    cached_item_item(tmp_path, first, SETTINGS, Fits(first), CPU, keep=True)
    changed = _matrix(_plays(1))
    fits = Fits(changed)
    cached_item_item(tmp_path, changed, SETTINGS, fits, CPU, keep=False)
    assert fits.calls == 1


def test_only_the_newest_entries_are_kept(tmp_path):
    entries = KEEP + 2
    for seed in range(entries):
        matrix = _matrix(_plays(seed))
        cached_item_item(tmp_path, matrix, SETTINGS, Fits(matrix), CPU, keep=True)
    assert len(list((tmp_path / ITEM_ITEM_DIR).glob("*.pt"))) == KEEP
    newest = _matrix(_plays(entries - 1))
    fits = Fits(newest)
    cached_item_item(tmp_path, newest, SETTINGS, fits, CPU, keep=False)
    assert fits.calls == 0
