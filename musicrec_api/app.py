"""The HTTP API over a data folder's published serving database.

Questions are answered from the snapshot ``LiveAnswers`` serves, which follows every new
publication (and so every promoted model) without a restart; plays sent back are written to the
landing folder for the pipeline. An answer is a millisecond or a few of Python and numpy, so
the question endpoints run on the event loop one after another: measured under 50 concurrent
clients (bench/api_load.py), that gave p99 latencies about a third of those of the thread pool,
whose threads take turns at the interpreter lock. Writing a delivery is file work and runs in the
thread pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from musicrec_api import errors
from musicrec_api.docs_page import OPENAPI_VERSION, install_docs
from musicrec_api.feedback import deliver, feedback_frames
from musicrec_api.live import DEFAULT_RELOAD_INTERVAL, LiveAnswers, served_models
from musicrec_api.messages import (
    K_DESCRIPTION,
    Delivered,
    ExplanationBody,
    Feedback,
    Health,
    ListenerList,
    NewListener,
    NewListenerList,
    NewTrackList,
    SimilarTracks,
    Strength,
    TrackCount,
)
from musicrec_core.answers import DEFAULT_K, Answers, InvalidQuestion, UnknownTrack

MAX_BODY_BYTES = 1_000_000  # larger request bodies are refused with 413
TITLE = "musicrec"
DESCRIPTION = """Music recommendations from the published serving database.

* A known listener's list, and why a track would reach them.
* A known listener's pick of the tracks nobody has played yet.
* A new listener's first list from their age, gender and a few plays, placed at once by the
  model serving their audience, without retraining.
* Tracks like a track.
* Plays sent back, delivered to the landing folder for the pipeline to take in.

Every answer comes from one published snapshot; a newly published database (a promoted model
included) is loaded in the background and replaces it without a restart.
"""


async def _served(request: Request) -> Answers:
    """The served snapshot (an attribute read: nothing here waits)."""
    return request.app.state.live.answers()


Served = Annotated[Answers, Depends(_served)]
KQuery = Annotated[TrackCount, Query(description=K_DESCRIPTION)]
DiversityQuery = Annotated[
    Strength | None,
    Query(description="MMR strength (0: the model's order); omitted: the published list"),
]


def create_app(
    data_dir: Path,
    reload_interval: float = DEFAULT_RELOAD_INTERVAL,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The API over ``data_dir``: the published snapshot is loaded at startup and checked for
    a newer one every ``reload_interval`` seconds."""
    data_dir = Path(data_dir)
    live = LiveAnswers(data_dir, reload_interval)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        live.start()
        try:
            yield
        finally:
            live.stop()

    app = FastAPI(
        title=TITLE,
        description=DESCRIPTION,
        version=version("musicrec"),
        lifespan=lifespan,
        max_body_size=max_body_bytes,
        docs_url=None,
    )
    # The bundled Swagger UI (4.x) renders OpenAPI 3.0 documents; the schema uses nothing of
    # 3.1 that it cannot show.
    app.openapi_version = OPENAPI_VERSION
    install_docs(app)
    app.state.live = live
    app.state.data_dir = data_dir
    errors.install(app)
    _routes(app)
    return app


def _routes(app: FastAPI) -> None:
    @app.get(
        "/users/{user_id}/recommendations",
        response_model=ListenerList,
        responses=errors.responses(404, 422, 503),
        tags=["listeners"],
    )
    async def recommendations(
        user_id: str, answers: Served, k: KQuery = DEFAULT_K, diversity: DiversityQuery = None
    ) -> dict[str, object]:
        """A known listener's top k, each with a reason: their published list, or ranked now
        for another diversity."""
        return answers.recommend(user_id, k, diversity).to_dict()

    @app.get(
        "/users/{user_id}/new-tracks",
        response_model=NewTrackList,
        responses=errors.responses(404, 422, 503),
        tags=["listeners"],
    )
    async def new_tracks(user_id: str, answers: Served, k: KQuery = DEFAULT_K) -> dict[str, object]:
        """A known listener's top k of the tracks nobody has played yet, ranked by the model
        serving new tracks; empty when there are none or the model cannot place them."""
        return answers.new_tracks(user_id, k).to_dict()

    @app.post(
        "/recommendations",
        response_model=NewListenerList,
        responses=errors.responses(413, 422, 503),
        tags=["listeners"],
    )
    async def new_listener(question: NewListener, answers: Served) -> dict[str, object]:
        """A first list for a listener the platform has not seen, from the model serving their
        audience (no plays, a few, many), without retraining."""
        try:
            answer = answers.cold_start(
                question.age, question.gender, question.played, question.k, question.diversity
            )
        except UnknownTrack as error:  # in the body, not the path: a value refused
            raise InvalidQuestion(str(error)) from error
        return answer.to_dict()

    @app.get(
        "/tracks/{track_id}/similar",
        response_model=SimilarTracks,
        responses=errors.responses(404, 422, 503),
        tags=["tracks"],
    )
    async def similar(track_id: str, answers: Served, k: KQuery = DEFAULT_K) -> dict[str, object]:
        """The k tracks most like a track: shared listeners first, then closeness in sound."""
        return answers.similar(track_id, k).to_dict()

    @app.get(
        "/users/{user_id}/explanations/{track_id}",
        response_model=ExplanationBody,
        responses=errors.responses(404, 503),
        tags=["listeners"],
    )
    async def explanation(user_id: str, track_id: str, answers: Served) -> dict[str, object]:
        """Why a track is (or is not) in a listener's list: its rank there, their plays linked
        to it, and its standing in their segment."""
        return answers.explain(user_id, track_id).to_dict()

    @app.post(
        "/feedback",
        response_model=Delivered,
        status_code=202,
        responses=errors.responses(413, 422, 503),
        tags=["feedback"],
    )
    def feedback(body: Feedback, answers: Served, request: Request) -> Delivered:
        """Plays (and new listeners' demographics) written to the landing folder as one
        delivery, for the landing sensor to validate and take in; accepted, not yet served."""
        data_dir = request.app.state.data_dir
        frames = feedback_frames(body, answers)
        written = deliver(frames, data_dir)
        return Delivered(
            files=[path.relative_to(data_dir).as_posix() for path in written],
            rows={table: len(frame) for table, frame in frames.items()},
        )

    @app.get(
        "/health",
        response_model=Health,
        responses={503: {"model": Health, "description": "nothing is served yet"}},
        tags=["service"],
    )
    async def health(request: Request) -> Health | JSONResponse:
        """The served snapshot: when it was published and loaded, from which database, the
        models serving each audience, and why the latest publication failed to load, if so."""
        live: LiveAnswers = request.app.state.live
        served, failed = live.served, live.failed
        error = failed.reason if failed is not None else None
        if served is None:
            body = Health(
                status="unavailable",
                database=str(live.path),
                published_at=None,
                loaded_at=None,
                served_models={},
                loading=live.loading,
                error=error or "the serving database is being loaded",
            )
            return JSONResponse(body.model_dump(mode="json"), status_code=503)
        return Health(
            status="ok" if failed is None else "degraded",
            database=str(live.path),
            published_at=served.answers.snapshot.published_at,
            loaded_at=served.loaded_at,
            served_models=served_models(served.answers),
            loading=live.loading,
            error=error,
        )
