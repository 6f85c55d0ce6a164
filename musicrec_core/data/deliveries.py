"""Realistic new delivery files from the synthetic generator, for demos and tests.

A plays delivery brings new listeners (with their demographics) and more plays by existing
ones, of existing tracks chosen genre by genre; a tracks delivery brings new tracks with full
metadata and audio features and no plays yet. Files are written under a ``.part`` name and
renamed when complete, the landing folders' rule.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.data.sources.synthetic import SyntheticConfig, generate

PLAYS_PER_LISTENER = 12
_MIN_SYNTHETIC_TRACKS = 30
_DAYS = 7  # a delivery's plays fall in the week before its day


@dataclass(frozen=True)
class Delivery:
    """The frames of one delivery, keyed by table (schema columns, text values)."""

    frames: dict[str, pd.DataFrame]
    stamp: str

    def write(self, landing_root: Path) -> list[Path]:
        """Write each frame to ``landing/<table>/<table>-<stamp>.csv`` by write-then-rename."""
        return [
            write_then_rename(frame, landing_root / table / f"{table}-{self.stamp}.csv")
            for table, frame in self.frames.items()
        ]


def delivery_stamp(now: datetime | None = None) -> str:
    """A sortable, file-name-safe stamp of the delivery time (UTC, microseconds)."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%f")


def plays_delivery(
    existing_users: pd.Series,
    existing_tracks: pd.DataFrame,
    new_users: int = 5,
    existing_listeners: int = 20,
    seed: int | None = None,
    now: datetime | None = None,
) -> Delivery:
    """New users and plays by them and by ``existing_listeners`` known users, of known tracks.

    ``existing_tracks`` needs ``track_id`` and ``genre``: each generated track is mapped to a
    known track of the same genre (any track where the genre is unknown), so a listener's
    generated taste survives the mapping.
    """
    if existing_tracks.empty:
        raise ValueError("a plays delivery needs known tracks to play; none were given")
    now = now or datetime.now(UTC)
    stamp = delivery_stamp(now)
    seed = _seed(seed)
    rng = np.random.default_rng(seed)
    known = existing_users.dropna().astype(str).unique()
    existing_listeners = min(existing_listeners, len(known))
    n_users = new_users + existing_listeners
    if n_users < 1:
        raise ValueError("a plays delivery needs at least one new user or existing listener")
    n_tracks = max(_MIN_SYNTHETIC_TRACKS, min(len(existing_tracks), 500))
    catalogue = generate(
        SyntheticConfig(
            n_users=n_users,
            n_tracks=n_tracks,
            n_plays=n_users * PLAYS_PER_LISTENER,
            seed=seed,
            dirty_rate=0.0,
            start_date=(now - timedelta(days=_DAYS)).date(),
            end_date=(now - timedelta(days=1)).date(),
            reference_year=now.year,
        )
    ).raw
    user_map = dict(
        zip(
            catalogue.users[s.USER_ID],
            [f"u-{stamp}-{i:04d}" for i in range(new_users)]
            + list(rng.choice(known, size=existing_listeners, replace=False)),
            strict=True,
        )
    )
    track_map = _tracks_by_genre(catalogue.tracks, existing_tracks, rng)
    plays = catalogue.plays.assign(
        **{
            s.USER_ID: catalogue.plays[s.USER_ID].map(user_map),
            s.TRACK_ID: catalogue.plays[s.TRACK_ID].map(track_map),
            s.PLAYS: catalogue.plays[s.PLAYS].astype(int),
        }
    )
    plays = (
        plays.groupby([s.USER_ID, s.TRACK_ID], as_index=False)
        .agg(**{s.PLAYS: (s.PLAYS, "sum"), s.PLAYED_AT: (s.PLAYED_AT, "max")})
        .astype({s.PLAYS: str})
    )
    users = catalogue.users[s.USER_COLUMNS].head(new_users)
    users = users.assign(**{s.USER_ID: users[s.USER_ID].map(user_map)})
    return Delivery({"users": users, "plays": plays[s.PLAY_COLUMNS]}, stamp)


def tracks_delivery(
    n_tracks: int = 20, seed: int | None = None, now: datetime | None = None
) -> Delivery:
    """``n_tracks`` new tracks (new ids, metadata, audio features), not played by anyone yet."""
    if n_tracks < 1:
        raise ValueError("a tracks delivery needs at least one track")
    now = now or datetime.now(UTC)
    stamp = delivery_stamp(now)
    seed = _seed(seed)
    catalogue = generate(
        SyntheticConfig(
            n_users=1,
            n_tracks=max(n_tracks, _MIN_SYNTHETIC_TRACKS),
            n_plays=1,
            seed=seed,
            dirty_rate=0.0,
            end_date=now.date(),
            start_date=date(now.year, 1, 1),
            reference_year=now.year,
        )
    ).raw
    tracks = catalogue.tracks[s.TRACK_COLUMNS].head(n_tracks).copy()
    tracks[s.TRACK_ID] = [f"t-{stamp}-{i:04d}" for i in range(len(tracks))]
    return Delivery({"tracks": tracks}, stamp)


def _seed(seed: int | None) -> int:
    """The given seed, or a fresh one so that each delivery differs."""
    return secrets.randbelow(2**31) if seed is None else seed


def _tracks_by_genre(
    generated: pd.DataFrame, existing: pd.DataFrame, rng: np.random.Generator
) -> dict[str, str]:
    """Map each generated track id to a known track id of the same genre, or any if none."""
    by_genre = existing.groupby(s.GENRE)[s.TRACK_ID].agg(list).to_dict()
    every = existing[s.TRACK_ID].astype(str).to_numpy()
    mapping = {}
    for track_id, genre in zip(generated[s.TRACK_ID], generated[s.GENRE], strict=True):
        pool = by_genre.get(genre) or every
        mapping[track_id] = str(pool[rng.integers(len(pool))])
    return mapping


def write_then_rename(frame: pd.DataFrame, path: Path) -> Path:
    """Write a CSV under a ``.part`` name beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path
