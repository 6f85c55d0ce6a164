"""Plays sent to the API, written as a landing delivery for the pipeline to take in.

The rows become CSV files in ``landing/plays/`` (and ``landing/users/`` for listeners new to
the platform), named and written as every delivery is (write-then-rename), so the landing
sensor validates them and they reach the recommendations the next time they are published.
Nothing else in the data folder is written.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd

from musicrec_api.messages import Feedback
from musicrec_core.answers import Answers, InvalidQuestion, listed
from musicrec_core.data import Delivery, delivery_stamp
from musicrec_core.data import schema as s
from musicrec_core.serving import LANDING_DIR

_writing = threading.Lock()  # one delivery at a time, so no two share a stamp


def feedback_frames(feedback: Feedback, answers: Answers) -> dict[str, pd.DataFrame]:
    """The delivery's tables (users first, so they are registered with their plays); an
    ``InvalidQuestion`` names tracks not in the catalogue and listeners neither in it nor
    described in the request."""
    tracks = [row.track_id for row in feedback.plays]
    _check_known("track", tracks, answers.track_index, "not in the serving database")
    described = pd.Index([row.user_id for row in feedback.users], dtype=object)
    _check_known(
        "user",
        [row.user_id for row in feedback.plays],
        answers.user_index.append(described),
        "neither in the serving database nor described in `users`",
    )
    plays = pd.DataFrame(
        [
            (
                row.user_id,
                row.track_id,
                row.plays,
                None if row.played_at is None else row.played_at.isoformat(),
            )
            for row in feedback.plays
        ],
        columns=s.PLAY_COLUMNS,
    )
    frames = {}
    if feedback.users:
        frames["users"] = pd.DataFrame(
            [(row.user_id, row.age, row.gender) for row in feedback.users],
            columns=s.USER_COLUMNS,
        ).astype({s.AGE: "Int64"})
    frames["plays"] = plays
    return frames


def deliver(frames: dict[str, pd.DataFrame], data_dir: Path) -> list[Path]:
    """Write the tables into the landing folders under one new delivery stamp."""
    landing = data_dir / LANDING_DIR
    with _writing:
        stamp = delivery_stamp()
        while any((landing / t / f"{t}-{stamp}.csv").exists() for t in frames):
            stamp = delivery_stamp()
        return Delivery(frames, stamp).write(landing)


def _check_known(kind: str, ids: list[str], known: pd.Index, why: str) -> None:
    hits = pd.Index(ids, dtype=object).isin(known)
    unknown = [i for i, hit in zip(ids, hits, strict=True) if not hit]
    if unknown:
        raise InvalidQuestion(f"unknown {kind} {listed(unknown)}: {why}")
