"""Answers to everyday questions from the published serving database and the served models:
what a listener gets and why, which tracks are like a track, what a new listener would get.

Everything comes from one snapshot of the serving database and the models it names per
audience (``served_models``), so an answer agrees with the published tables. A known
listener's list is the published one unless another diversity is asked for; a new listener
is placed at once by the model serving their audience, without retraining.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from musicrec_core.answers.errors import (
    InvalidQuestion,
    NoServingDatabase,
    UnknownTrack,
    UnknownUser,
    listed,
)
from musicrec_core.answers.reasons import Evidence, Reason
from musicrec_core.answers.results import (
    REASON,
    REASON_COLUMNS,
    Answer,
    Explanation,
)
from musicrec_core.answers.snapshot import PublishedLists, Snapshot, optional_text
from musicrec_core.data import features
from musicrec_core.data import schema as s
from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.evaluation.audiences import (
    AUDIENCE,
    FEW_PLAYS,
    NEW_TRACKS,
    NEW_USERS,
    NEW_USERS_GIVEN,
    WARM_USERS,
    audiences_of,
    served_by,
)
from musicrec_core.models.diversity import (
    DEFAULT_DIVERSITY,
    DIVERSITY_CANDIDATES,
    listener_strength,
    mmr_rerank,
)
from musicrec_core.models.hybrid.recommender import Hybrid
from musicrec_core.models.recommender import Recommender, TrainingData
from musicrec_core.models.registry import build_models
from musicrec_core.serving.artifacts import ArtifactStore
from musicrec_core.serving.layout import ARTIFACTS_DIR, SERVING_FILE
from musicrec_core.serving.tables import content_vectors

logger = logging.getLogger(__name__)

DEFAULT_K = 10
MAX_K = 100
MAX_GIVEN_PLAYS = 500
NEW_LISTENER = "new-listener"
GENDER_WORDS = {"M": "male", "F": "female", "X": "non-binary", "U": "unknown-gender"}
POPULARITY_MODELS = ("popularity", "segment_popularity")


def gender_code(gender: str | None) -> str | None:
    """The schema's code of a gender code or word (None stays None); ``InvalidQuestion``
    names the accepted values."""
    if gender is None:
        return None
    code = s.GENDER_ALIASES.get(str(gender).strip().lower())
    if code is None:
        raise InvalidQuestion(
            f"gender {gender!r} is not one of {', '.join(s.GENDER_VALUES)} "
            "(or male, female, non-binary, unknown)"
        )
    return code


def audience_of(n_tracks: int) -> str:
    """The audience of a listener with ``n_tracks`` distinct tracks played."""
    return str(audiences_of(np.array([n_tracks]))[0])


class Answers:
    """Questions answered from one published snapshot and the models serving its audiences."""

    def __init__(self, snapshot: Snapshot, store: ArtifactStore) -> None:
        tables = snapshot.tables
        self.snapshot = snapshot
        self.users = tables["users"]
        self.tracks = tables["tracks"]
        self.data = TrainingData(tables["plays"], self.users, self.tracks)
        try:
            self.preprocessor = MusicPreprocessor.load(store.latest("preprocessor")[1])
        except FileNotFoundError as error:
            raise NoServingDatabase(str(error)) from error
        self.track_index = pd.Index(self.data.matrix.track_ids, dtype=object)
        self.user_index = pd.Index(self.data.matrix.user_ids, dtype=object)
        self.plays = self.data.matrix.matrix.tocsr()
        self.vectors = content_vectors(self.tracks, self.preprocessor)
        self.evidence = Evidence(self.plays, self.tracks, self.vectors)
        self.n_genres = int(self.tracks.loc[self.evidence.listeners > 0, s.GENRE].nunique())
        self.served = tables["served_models"].set_index(AUDIENCE)
        self.store = store
        self._models: dict[tuple[str, str | None], Recommender] = {}
        self._loading = threading.Lock()
        self.lists = PublishedLists(tables["recommendations"], self.track_index)
        self.new_track_lists = PublishedLists(tables["new_track_recommendations"], self.track_index)
        self.track_ids = self.tracks[s.TRACK_ID].to_numpy(dtype=object)
        self.track_names = self.tracks[s.TRACK_NAME].to_numpy(dtype=object)
        self.track_artists = self.tracks[s.ARTIST_NAME].to_numpy(dtype=object)
        self.track_genres = self.tracks[s.GENRE].to_numpy(dtype=object)
        self.age_groups = self.users[s.AGE_GROUP].to_numpy(dtype=object)
        self.genders = self.users[s.GENDER].to_numpy(dtype=object)

    @classmethod
    def open(cls, data_dir: Path | str) -> Answers:
        """Answers from the serving database and artifacts under a data folder."""
        data_dir = Path(data_dir)
        return cls(Snapshot.read(data_dir / SERVING_FILE), ArtifactStore(data_dir / ARTIFACTS_DIR))

    # --- questions ---------------------------------------------------------------------------

    def recommend(self, user_id: str, k: int = DEFAULT_K, diversity: float | None = None) -> Answer:
        """A known listener's top k with a reason each: their published list, or ranked now
        when a ``diversity`` is given."""
        _check_k(k)
        _check_diversity(diversity)
        row = self._user_row(user_id)
        played, weights = self._played(row)
        audience = audience_of(len(played))
        published = self.lists.get(user_id)
        if diversity is None and published is not None:
            tracks, scores = published.tracks[:k], published.scores[:k]
            name, version = published.model_name, published.model_version
        else:
            listener = self.users.iloc[[row]]
            tracks, scores = self._ranked(audience, listener, played, weights, k, diversity)
            name, version = self.model_of(audience)
        question = {s.USER_ID: user_id, "k": k, "diversity": diversity}
        segment = _segment_words(self.age_groups[row], self.genders[row])
        reasons = self.evidence.for_listener(played, weights, tracks, _audience_text(name, segment))
        return Answer(question, audience, name, version, self._items(tracks, scores, reasons))

    def new_tracks(self, user_id: str, k: int = DEFAULT_K) -> Answer:
        """A known listener's top k of the tracks nobody has played yet, from their published
        list of new tracks (empty when the catalogue has none, or the model serving new
        tracks cannot place the listener)."""
        _check_k(k)
        row = self._user_row(user_id)
        played, weights = self._played(row)
        published = self.new_track_lists.get(user_id)
        if published is None:
            tracks, scores = np.empty(0, np.int64), np.empty(0)
            name, version = self.model_of(NEW_TRACKS)
        else:
            tracks, scores = published.tracks[:k], published.scores[:k]
            name, version = published.model_name, published.model_version
        segment = _segment_words(self.age_groups[row], self.genders[row])
        reasons = self.evidence.for_listener(
            played, weights, tracks, _new_track_text(name, segment)
        )
        question = {s.USER_ID: user_id, "k": k}
        return Answer(question, NEW_TRACKS, name, version, self._items(tracks, scores, reasons))

    def cold_start(
        self,
        age: float | None = None,
        gender: str | None = None,
        played: Sequence[str] = (),
        k: int = DEFAULT_K,
        diversity: float | None = None,
    ) -> Answer:
        """Top k for a listener the platform has not seen, from their age, gender and a few
        tracks they played, placed by the model serving their audience."""
        _check_k(k)
        _check_diversity(diversity)
        listener = self.new_listener(age, gender)
        given = list(dict.fromkeys(str(t) for t in played))
        if len(given) > MAX_GIVEN_PLAYS:
            raise InvalidQuestion(f"{len(given)} played tracks given; at most {MAX_GIVEN_PLAYS}")
        columns = self._track_columns(given)
        weights = np.ones(len(columns))
        audience = audience_of(len(columns))
        tracks, scores = self._ranked(audience, listener, columns, weights, k, diversity)
        name, version = self.model_of(audience)
        segment = _segment_words(listener[s.AGE_GROUP].iloc[0], listener[s.GENDER].iloc[0])
        reasons = self.evidence.for_listener(
            columns, weights, tracks, _audience_text(name, segment)
        )
        question = {
            s.AGE: age,
            s.GENDER: listener[s.GENDER].iloc[0],
            "played": given,
            "k": k,
            "diversity": diversity,
        }
        return Answer(question, audience, name, version, self._items(tracks, scores, reasons))

    def similar(self, track_id: str, k: int = DEFAULT_K) -> Answer:
        """The k tracks most like a track: shared listeners first, then closeness in sound
        (a track nobody has played yet is matched by sound alone)."""
        _check_k(k)
        track = self._track_columns([track_id])[0]
        tracks, scores, reasons = self.evidence.similar(track, k)
        question = {s.TRACK_ID: track_id, "k": k}
        return Answer(
            question, "tracks", "co-listening", None, self._items(tracks, scores, reasons)
        )

    def explain(self, user_id: str, track_id: str) -> Explanation:
        """Why a track is (or is not) in a listener's list: its rank there, the listener's
        plays linked to it by shared listeners or sound, and its standing in their segment."""
        row = self._user_row(user_id)
        track = self._track_columns([track_id])[0]
        played, weights = self._played(row)
        audience = audience_of(len(played))
        published = self.lists.get(user_id)
        rank = None
        if published is not None:
            hit = np.flatnonzero(published.tracks == track)
            rank = int(published.ranks[hit[0]]) if len(hit) else None
        name = published.model_name if published is not None else self.model_of(audience)[0]
        own = played == track
        reasons = [*self.evidence.all_reasons(played[~own], weights[~own], track)]
        reasons.append(self._segment_reason(row, track))
        frame = pd.DataFrame(
            [(r.kind, r.text, round(r.strength, 4)) for r in reasons], columns=REASON_COLUMNS
        )
        return Explanation(
            user_id,
            track_id,
            self.evidence.title(track),
            audience,
            name,
            rank,
            int(weights[own].sum()),
            frame,
        )

    def new_listener(self, age: float | None, gender: str | None) -> pd.DataFrame:
        """A one-row users frame for a listener outside the catalogue; bad values are errors."""
        if age is not None:
            low, high = s.AGE_RANGE
            if not np.isfinite(age) or not low <= age <= high:
                raise InvalidQuestion(f"age {age:g} is outside {low} to {high}")
        code = gender_code(gender) or s.GENDER_UNKNOWN
        ages = pd.Series([np.nan if age is None else float(age)])
        group = features.age_group(ages).astype(object).fillna(s.AGE_GROUP_UNKNOWN).iloc[0]
        user_id = NEW_LISTENER
        while user_id in self.user_index:
            user_id += "_"
        return pd.DataFrame(
            {s.USER_ID: [user_id], s.AGE: ages, s.GENDER: [code], s.AGE_GROUP: [group]}
        )

    # --- parts -------------------------------------------------------------------------------

    def _ranked(
        self,
        audience: str,
        listener: pd.DataFrame,
        played: np.ndarray,
        weights: np.ndarray,
        k: int,
        diversity: float | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Catalogue columns and scores of the top k: the audience's model's candidates over
        the given plays, re-ranked for diversity as the published lists are."""
        user_id = listener[s.USER_ID].iloc[0]
        history = pd.DataFrame(
            {
                s.USER_ID: user_id,
                s.TRACK_ID: self.track_index[played].to_numpy(dtype=object),
                s.PLAYS: weights,
            }
        )
        recs = self.model(audience).recommend_new(listener, history, DIVERSITY_CANDIDATES)
        candidates = self.track_index.get_indexer(recs.track_ids.ravel()).reshape(1, -1)
        strength = listener_strength(
            self.evidence.genres[played],
            DEFAULT_DIVERSITY if diversity is None else diversity,
            self.n_genres,
        )
        picked, scores = mmr_rerank(candidates, recs.scores, self.vectors, k, strength)
        keep = picked[0] >= 0
        return picked[0][keep], scores[0][keep]

    def model(self, audience: str) -> Recommender:
        """The model serving an audience, loaded (a trained hybrid) or fitted (a baseline) on
        first use and shared by the audiences it serves."""
        name, version = self.model_of(audience)
        with self._loading:
            if (name, version) not in self._models:
                self._models[name, version] = self._load(name, version)
            return self._models[name, version]

    def _load(self, name: str, version: str | None) -> Recommender:
        if name == Hybrid.name:
            try:
                folder = self.store.folder(name, version) if version else self.store.latest(name)[1]
            except FileNotFoundError as error:
                raise NoServingDatabase(str(error)) from error
            return Hybrid.load(folder, self.data, self.preprocessor)
        return build_models([name], self.preprocessor)[name].fit(self.data)

    def warm_up(self) -> Answers:
        """Load every audience's model and answer one new listener of each, so a server's
        first questions do not wait for loading or for the models' caches."""
        listener = self.new_listener(None, None)
        sample = np.flatnonzero(self.evidence.listeners > 0)[: FEW_PLAYS + 1]
        for audience, n in ((NEW_USERS, 0), (NEW_USERS_GIVEN, 1), (WARM_USERS, FEW_PLAYS + 1)):
            if audience in self.served.index and len(sample) >= n:
                self._ranked(audience, listener, sample[:n], np.ones(n), 1, None)
        return self

    def _user_row(self, user_id: str) -> int:
        row = self.user_index.get_indexer([user_id])[0]
        if row < 0:
            raise UnknownUser(f"unknown user {user_id!r}: not in the serving database")
        return int(row)

    def _track_columns(self, track_ids: Sequence[str]) -> np.ndarray:
        columns = self.track_index.get_indexer(list(track_ids))
        unknown = [t for t, c in zip(track_ids, columns, strict=True) if c < 0]
        if unknown:
            raise UnknownTrack(f"unknown track {listed(unknown)}: not in the serving database")
        return columns.astype(np.int64)

    def _played(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.plays.indptr[row], self.plays.indptr[row + 1]
        return self.plays.indices[start:end].astype(np.int64), self.plays.data[start:end]

    def model_of(self, audience: str) -> tuple[str, str | None]:
        """The name and artifact version (None: fitted on the snapshot) serving an audience."""
        return served_by(self.served, audience)

    def _segment_reason(self, row: int, track: int) -> Reason:
        """How many of the listener's segment, and of everyone, played the track."""
        group, gender = self.age_groups[row], self.genders[row]
        members = (self.age_groups == group) & (self.genders == gender)
        listeners = self.evidence.by_track[:, track].nonzero()[0]
        in_segment = int(members[listeners].sum())
        share = in_segment / max(int(members.sum()), 1)
        overall = len(listeners) / max(len(self.users), 1)
        text = (
            f"played by {share:.1%} of {_segment_words(group, gender)} listeners "
            f"({overall:.1%} of all listeners)"
        )
        return Reason("audience", text, share)

    def _items(
        self, tracks: np.ndarray, scores: np.ndarray, reasons: list[Reason]
    ) -> list[dict[str, object]]:
        """One row per track (``ANSWER_COLUMNS``), built from the catalogue's columns."""
        return [
            {
                s.RANK: rank,
                s.TRACK_ID: str(self.track_ids[track]),
                s.TRACK_NAME: optional_text(self.track_names[track]),
                s.ARTIST_NAME: optional_text(self.track_artists[track]),
                s.GENRE: optional_text(self.track_genres[track]),
                s.SCORE: round(float(score), 6),
                REASON: reason.text,
            }
            for rank, (track, score, reason) in enumerate(
                zip(tracks, scores, reasons, strict=True), 1
            )
        ]


def _audience_text(model_name: str, segment: str) -> str:
    """The reason given when no play of the listener links to a track."""
    if model_name == "popularity":
        return "popular with all listeners"
    if model_name == "segment_popularity":
        return f"popular with {segment} listeners"
    return f"ranked by the {model_name} model for {segment} listeners"


def _new_track_text(model_name: str, segment: str) -> str:
    """The reason given for a new track when no play of the listener sounds like it."""
    if model_name in POPULARITY_MODELS:
        return "new in the catalogue: nobody has played it yet"
    return f"new in the catalogue, ranked by the {model_name} model for {segment} listeners"


def _segment_words(group: str, gender: str) -> str:
    parts = [group] if group and group != s.AGE_GROUP_UNKNOWN else []
    if gender != s.GENDER_UNKNOWN:
        parts.append(GENDER_WORDS[gender])
    return ", ".join(parts) if parts else "all"


def _check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise InvalidQuestion(f"k must be between 1 and {MAX_K}, not {k}")


def _check_diversity(diversity: float | None) -> None:
    if diversity is not None and not 0.0 <= diversity <= 1.0:
        raise InvalidQuestion(f"diversity must be between 0 and 1, not {diversity:g}")
