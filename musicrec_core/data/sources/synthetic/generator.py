"""Deterministic synthetic music catalogue: users, tracks and plays as raw tables plus ground truth.

The generative story, so a hybrid content + collaborative model has real structure to learn:

- Genres have their own audio-feature distributions, release eras and typical listeners.
- Artists have a home genre, a career era and a popularity; tracks inherit all three, with noise.
- A user's true affinity for a track is
  ``dot(user factors, track factors) + genre preference + era closeness + popularity term``;
  track factors are half content (genre + audio features) and half free, genre preference depends
  on age and gender plus individual taste, and the preferred era depends on age.
- Plays are drawn in two stages that together approximate a softmax over that affinity without
  replacement: a user is exposed to tracks in proportion to ``exp(genre preference) * popularity``,
  then picks among the exposed tracks by Gumbel-top-k on the factor and era terms.

Everything is vectorised with numpy and processed in chunks of users, so ten million plays fit in
memory and take well under two minutes.

This module ties the steps together; each lives in a sibling module: ``config``, ``genres``,
``names``, ``entities``, ``truth``, ``plays``, ``raw_frames`` and ``dirt``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from musicrec_core.data import schema
from musicrec_core.data.sources.synthetic.config import SyntheticConfig
from musicrec_core.data.sources.synthetic.dirt import inject_dirt
from musicrec_core.data.sources.synthetic.entities import make_artists, make_tracks, make_users
from musicrec_core.data.sources.synthetic.plays import sample_plays
from musicrec_core.data.sources.synthetic.raw_frames import (
    add_provenance,
    plays_frame,
    tracks_frame,
    users_frame,
)
from musicrec_core.data.sources.synthetic.truth import GroundTruth, make_truth

logger = logging.getLogger(__name__)


@dataclass
class SyntheticCatalogue:
    """Raw tables as a source would deliver them, the truth behind them and the dirt injected."""

    raw: schema.RawTables
    truth: GroundTruth
    dirty_rows: dict[str, int]  # table -> dirty rows injected (modified plus appended duplicates)
    dirty_kinds: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> kind -> rows


def generate(config: SyntheticConfig) -> SyntheticCatalogue:
    """Generate a catalogue from ``config``; the same config always gives identical frames."""
    started = time.perf_counter()
    rng_users, rng_tracks, rng_taste, rng_plays, rng_dirt = np.random.default_rng(
        config.seed
    ).spawn(5)
    users = make_users(config.n_users, rng_users)
    artists = make_artists(max(4, config.n_tracks // 6), config.end_date.year, rng_tracks)
    tracks = make_tracks(config.n_tracks, artists, config.end_date.year, rng_tracks)
    truth = make_truth(config, users, tracks, rng_taste)
    plays = sample_plays(config, truth, rng_plays)
    clean = {
        "users": users_frame(users),
        "tracks": tracks_frame(tracks, artists),
        "plays": plays_frame(plays, truth),
    }
    frames, kinds = {}, {}
    for table, frame in clean.items():
        dirty, kinds[table] = inject_dirt(frame, table, config.dirty_rate, rng_dirt)
        add_provenance(dirty, table)
        frames[table] = dirty
    logger.info(
        "synthetic catalogue: %d users, %d tracks, %d play rows, %d dirty rows in %.1f s",
        len(users.ids),
        len(tracks.ids),
        len(plays.user),
        sum(sum(k.values()) for k in kinds.values()),
        time.perf_counter() - started,
    )
    return SyntheticCatalogue(
        raw=schema.RawTables(**frames),
        truth=truth,
        dirty_rows={table: sum(k.values()) for table, k in kinds.items()},
        dirty_kinds=kinds,
    )
