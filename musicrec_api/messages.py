"""Request and response bodies of the HTTP API, with the limits and descriptions the OpenAPI
page shows; field names follow musicrec_core.data.schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from musicrec_core.answers import DEFAULT_K, MAX_GIVEN_PLAYS, MAX_K, gender_code
from musicrec_core.data import TIMESTAMP_RANGE
from musicrec_core.data import schema as s

MAX_FEEDBACK_PLAYS = 5_000  # play rows one feedback request may carry
MAX_FEEDBACK_USERS = 1_000  # user rows one feedback request may carry
MAX_ID_LENGTH = 200
EARLIEST_PLAY, LATEST_PLAY = (
    datetime.fromisoformat(t).replace(tzinfo=UTC) for t in TIMESTAMP_RANGE
)


def _utc(value: datetime | None) -> datetime | None:
    """A play time in UTC (one without a zone is taken as UTC), within the platform's range."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST_PLAY <= value <= LATEST_PLAY:
        raise ValueError(
            f"played_at must fall between {EARLIEST_PLAY:%Y-%m-%d} and {LATEST_PLAY:%Y-%m-%d}"
        )
    return value


Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"\S")]
Gender = Annotated[
    str | None,
    AfterValidator(gender_code),
    Field(
        description=f"{', '.join(s.GENDER_VALUES)} (male, female, non-binary, unknown) or those "
        "words; answered with the code",
        examples=["F"],
    ),
]
Age = Annotated[
    int | None,
    Field(ge=s.AGE_RANGE[0], le=s.AGE_RANGE[1], description="age in years", examples=[24]),
]
# The bounds of k and of a diversity, shared by the body fields here and the query parameters.
TrackCount = Annotated[int, Field(ge=1, le=MAX_K)]
Strength = Annotated[float, Field(ge=0.0, le=1.0)]
K_DESCRIPTION = "how many tracks to answer with"
K = Annotated[TrackCount, Field(description=K_DESCRIPTION)]
Diversity = Annotated[
    Strength | None,
    Field(
        description="MMR strength for a listener with evenly spread tastes (0: the model's "
        "order); omitted: the published lists' setting",
    ),
]


# --- requests -------------------------------------------------------------------------------


class NewListener(BaseModel):
    """A listener the platform has not seen: whatever is known of them."""

    age: Age = None
    gender: Gender = None
    played: list[Id] = Field(
        default_factory=list,
        max_length=MAX_GIVEN_PLAYS,
        description="ids of catalogue tracks they played (any order; repeats count once)",
    )
    k: K = DEFAULT_K
    diversity: Diversity = None


class PlayRow(BaseModel):
    """Plays of one track by one listener."""

    user_id: Id
    track_id: Id
    plays: int = Field(
        strict=True,
        ge=s.PLAYS_RANGE[0],
        le=s.PLAYS_RANGE[1],
        description="how many times (a whole number)",
    )
    played_at: Annotated[datetime | None, AfterValidator(_utc)] = Field(
        default=None, description="when (ISO 8601; without a zone: UTC)"
    )


class UserRow(BaseModel):
    """A listener's demographics: needed for a listener the catalogue does not hold yet."""

    user_id: Id
    age: Age = None
    gender: Gender = None


class Feedback(BaseModel):
    """Plays (and the listeners new to the platform) delivered for ingestion."""

    plays: list[PlayRow] = Field(min_length=1, max_length=MAX_FEEDBACK_PLAYS)
    users: list[UserRow] = Field(
        default_factory=list,
        max_length=MAX_FEEDBACK_USERS,
        description="every listener of `plays` the platform does not know yet",
    )

    @model_validator(mode="after")
    def _distinct_users(self) -> Feedback:
        ids = [row.user_id for row in self.users]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"users described more than once: {', '.join(repeated[:5])}")
        return self


# --- responses ------------------------------------------------------------------------------


class Item(BaseModel):
    """One track of a ranked list and why it is there."""

    rank: int
    track_id: str
    track_name: str | None
    artist_name: str | None
    genre: str | None
    score: float
    reason: str


class RankedList(BaseModel):
    """A ranked list: the audience and model that answered, and the tracks."""

    k: int
    audience: str
    model_name: str
    model_version: str | None
    items: list[Item]


class ListenerList(RankedList):
    """A known listener's list."""

    user_id: str
    diversity: float | None


class NewTrackList(RankedList):
    """A known listener's pick of the tracks nobody has played yet."""

    user_id: str


class NewListenerList(RankedList):
    """A new listener's list, from the model serving their audience."""

    age: float | None
    gender: str
    played: list[str]
    diversity: float | None


class SimilarTracks(RankedList):
    """Tracks like a track: shared listeners first, then closeness in sound."""

    track_id: str


class Reason(BaseModel):
    """One piece of evidence."""

    kind: str = Field(description="co-listening, content or audience")
    reason: str
    strength: float


class ExplanationBody(BaseModel):
    """Why a track would or would not reach a listener."""

    user_id: str
    track_id: str
    track: str
    audience: str
    model_name: str
    rank: int | None = Field(description="position in the listener's list; null when not in it")
    plays: int = Field(description="the listener's plays of the track")
    reasons: list[Reason]


class Delivered(BaseModel):
    """The landing files a feedback request was written to."""

    files: list[str] = Field(description="paths under the data folder")
    rows: dict[str, int] = Field(description="rows written per table")


class ServedModel(BaseModel):
    """The model serving one audience."""

    model_name: str
    model_version: str | None


class Health(BaseModel):
    """Which snapshot is served, since when, and whether the latest publication loaded."""

    status: Literal["ok", "degraded", "unavailable"] = Field(
        description="degraded: an older snapshot is served, the latest publication failed to "
        "load; unavailable: nothing is served"
    )
    database: str
    published_at: str | None
    loaded_at: datetime | None
    served_models: dict[str, ServedModel]
    loading: bool = Field(
        description="a newer publication is being loaded; the served snapshot answers meanwhile"
    )
    error: str | None = Field(description="why the latest publication could not be loaded")


class Problem(BaseModel):
    """Why a question could not be answered."""

    detail: str
