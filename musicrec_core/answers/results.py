"""What a question gets back: a ranked list or an explanation, each with a JSON-ready form."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.evaluation.audiences import AUDIENCE

REASON = "reason"
ANSWER_COLUMNS = [s.RANK, s.TRACK_ID, s.TRACK_NAME, s.ARTIST_NAME, s.GENRE, s.SCORE, REASON]
REASON_COLUMNS = ["kind", REASON, "strength"]


@dataclass(frozen=True)
class Answer:
    """A ranked list: the question, the audience and model that answered, and the tracks."""

    question: dict[str, object]
    audience: str
    model_name: str
    model_version: str | None
    rows: list[dict[str, object]]  # one per track, ANSWER_COLUMNS each

    @property
    def items(self) -> pd.DataFrame:
        """The tracks as a frame of ``ANSWER_COLUMNS``."""
        return pd.DataFrame(self.rows, columns=ANSWER_COLUMNS)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: the question's fields, audience, model and items."""
        return {
            **self.question,
            AUDIENCE: self.audience,
            s.MODEL_NAME: self.model_name,
            s.MODEL_VERSION: self.model_version,
            "items": self.rows,
        }


@dataclass(frozen=True)
class Explanation:
    """Why a track would or would not reach a listener: their list position, plays, and the
    evidence linking the track to them."""

    user_id: str
    track_id: str
    track: str
    audience: str
    model_name: str
    rank: int | None  # position in the listener's published list, None when not in it
    plays: int  # the listener's plays of the track (a played track is never recommended)
    reasons: pd.DataFrame  # REASON_COLUMNS

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            s.USER_ID: self.user_id,
            s.TRACK_ID: self.track_id,
            "track": self.track,
            AUDIENCE: self.audience,
            s.MODEL_NAME: self.model_name,
            s.RANK: self.rank,
            s.PLAYS: self.plays,
            "reasons": _records(self.reasons),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [
        {key: (None if pd.isna(value) else value) for key, value in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]
