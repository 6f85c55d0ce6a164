"""Each kind of unanswerable question as its HTTP status, in one place.

A path naming an unknown user or track is 404; a value the platform does not accept (an
unknown track or listener in a body included) is 422; no serving database is 503.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from musicrec_api.messages import Problem
from musicrec_core.answers import (
    AnswerError,
    InvalidQuestion,
    NoServingDatabase,
    UnknownTrack,
    UnknownUser,
)

logger = logging.getLogger(__name__)

STATUS = {
    UnknownUser: 404,
    UnknownTrack: 404,
    InvalidQuestion: 422,
    NoServingDatabase: 503,
}
MEANING = {
    404: "an unknown user or track in the path",
    413: "a request body over the limit",
    422: "a value the platform does not accept",
    503: "no serving database has been published (or loaded) yet",
}


def responses(*codes: int) -> dict[int, dict[str, object]]:
    """The OpenAPI description of an endpoint's error statuses."""
    return {code: {"model": Problem, "description": MEANING[code]} for code in codes}


def status_of(error: AnswerError) -> int:
    """The HTTP status of an error kind (400 for a kind without its own)."""
    return next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)


def _answer_error(request: Request, error: Exception) -> JSONResponse:
    code = status_of(error)
    logger.info("%s %s: %d %s", request.method, request.url.path, code, error)
    return JSONResponse({"detail": str(error)}, status_code=code)


def _too_large(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": f"the request body is over the limit of {request.app.max_body_size:,} bytes"},
        status_code=413,
    )


def install(app: FastAPI) -> None:
    """Answer every ``AnswerError`` with its status and one line saying why, and a body over the
    app's ``max_body_size`` with 413 naming the limit."""
    app.add_exception_handler(AnswerError, _answer_error)
    app.add_exception_handler(413, _too_large)
