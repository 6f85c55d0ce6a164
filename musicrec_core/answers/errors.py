"""Questions the platform cannot answer, each with a one-line reason for the person asking.

The CLI turns each kind into its own exit code and the HTTP API into its own status, so a
script can tell an unknown user from a missing serving database without reading the text.
"""

from __future__ import annotations


class AnswerError(Exception):
    """A question that cannot be answered; ``str(error)`` is one line naming the problem."""


class NoServingDatabase(AnswerError):
    """Nothing has been published yet (or the published database cannot be read)."""


class UnknownUser(AnswerError):
    """The user id is not in the published catalogue."""


class UnknownTrack(AnswerError):
    """The track id is not in the published catalogue."""


class InvalidQuestion(AnswerError, ValueError):
    """A value outside what the platform accepts: an age, a gender, k, a diversity (also a
    ``ValueError``, so request validators report it as they report their own checks)."""


class BadQuery(AnswerError):
    """SQL the serving database rejects (a syntax error, an unknown table or column)."""


LISTED_IDS = 5  # unknown ids an error names; the rest are counted


def listed(ids: list[str]) -> str:
    """``'a', 'b' and 3 more``: the distinct ids an error names, in order."""
    distinct = list(dict.fromkeys(ids))
    named = ", ".join(repr(i) for i in distinct[:LISTED_IDS])
    more = len(distinct) - LISTED_IDS
    return f"{named} and {more} more" if more > 0 else named
