"""Answers to everyday questions from the published serving database: a listener's list and
why, tracks like a track, a new listener's first list, and the errors when none can be given."""

from musicrec_core.answers.errors import (
    AnswerError,
    BadQuery,
    InvalidQuestion,
    NoServingDatabase,
    UnknownTrack,
    UnknownUser,
    listed,
)
from musicrec_core.answers.results import ANSWER_COLUMNS, REASON_COLUMNS, Answer, Explanation
from musicrec_core.answers.service import (
    DEFAULT_K,
    MAX_GIVEN_PLAYS,
    MAX_K,
    Answers,
    audience_of,
    gender_code,
)
from musicrec_core.answers.snapshot import Snapshot, Stamp, file_stamp

__all__ = [
    "ANSWER_COLUMNS",
    "DEFAULT_K",
    "MAX_GIVEN_PLAYS",
    "MAX_K",
    "REASON_COLUMNS",
    "Answer",
    "AnswerError",
    "Answers",
    "BadQuery",
    "Explanation",
    "InvalidQuestion",
    "NoServingDatabase",
    "Snapshot",
    "Stamp",
    "UnknownTrack",
    "UnknownUser",
    "audience_of",
    "file_stamp",
    "gender_code",
    "listed",
]
