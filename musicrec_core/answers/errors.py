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


class InvalidQuestion(AnswerError):
    """A value outside what the platform accepts: an age, a gender, k, a diversity."""


class BadQuery(AnswerError):
    """SQL the serving database rejects (a syntax error, an unknown table or column)."""
