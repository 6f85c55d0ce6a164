"""Why a track is in a list: the listener's plays that share the most listeners with it, the
played track closest to it in content, or the audience whose favourite it is.

The reasons describe the evidence in the published plays and catalogue, whichever model
ranked the list, so every model's lists can be explained the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from musicrec_core.data import schema as s

# A listener's most-played tracks that a reason may cite (bounds the work for heavy listeners).
MAX_CITED_PLAYS = 200
MIN_CONTENT_MATCH = 0.5  # content cosine below which "sounds like" is not claimed

CO_LISTENING = "co-listening"
CONTENT = "content"
AUDIENCE = "audience"
REASON_KINDS = (CO_LISTENING, CONTENT, AUDIENCE)


@dataclass(frozen=True)
class Reason:
    """One piece of evidence for a track: its kind, the text shown and its strength."""

    kind: str
    text: str
    strength: float


class Evidence:
    """Co-listening and content similarity over one snapshot's plays and tracks."""

    def __init__(self, plays: sparse.csr_matrix, tracks: pd.DataFrame, content: np.ndarray) -> None:
        """``plays``: users x tracks play counts; ``tracks`` and ``content`` rows follow its
        columns."""
        binary = (plays > 0).astype(np.float32)
        self.by_user = sparse.csr_matrix(binary)
        self.by_track = sparse.csc_matrix(binary)
        self.listeners = np.asarray(binary.sum(axis=0)).ravel()
        norms = np.linalg.norm(content, axis=1, keepdims=True)
        self.content = content / np.where(norms > 0, norms, 1.0)
        self.names = tracks[s.TRACK_NAME].fillna("").astype(str).to_numpy()
        self.artists = tracks[s.ARTIST_NAME].fillna("").astype(str).to_numpy()
        self.genres = tracks[s.GENRE].fillna(s.GENRE_UNKNOWN).astype(str).to_numpy()

    def title(self, track: int) -> str:
        """'"Name" by Artist' (or the name alone) of a catalogue column."""
        name, artist = self.names[track] or "an untitled track", self.artists[track]
        return f'"{name}" by {artist}' if artist else f'"{name}"'

    def shared_listeners(self, played: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        """(len(played), len(tracks)) listeners who played both tracks of each pair."""
        pairs = self.by_track[:, played].T @ self.by_track[:, tracks]
        return np.asarray(pairs.todense())

    def for_listener(
        self, played: np.ndarray, weights: np.ndarray, tracks: np.ndarray, audience_text: str
    ) -> list[Reason]:
        """The strongest reason for each of ``tracks`` given the listener's ``played`` columns
        and play counts: a co-listened play, else a play close in content, else the audience."""
        cited = played[np.argsort(-weights, kind="stable")[:MAX_CITED_PLAYS]]
        if not len(cited) or not len(tracks):
            return [Reason(AUDIENCE, audience_text, 0.0) for _ in tracks]
        shared = self.shared_listeners(cited, tracks)
        cosine = shared / np.sqrt(
            np.maximum(np.outer(self.listeners[cited], self.listeners[tracks]), 1.0)
        )
        content = self.content[cited] @ self.content[tracks].T
        reasons = []
        for column, track in enumerate(tracks):
            best = int(np.argmax(cosine[:, column]))
            if shared[best, column] > 0:
                count = int(shared[best, column])
                text = (
                    f"you played {self.title(cited[best])}; {count} listener"
                    f"{'s' if count != 1 else ''} played both"
                )
                reasons.append(Reason(CO_LISTENING, text, float(cosine[best, column])))
                continue
            near = int(np.argmax(content[:, column]))
            if content[near, column] >= MIN_CONTENT_MATCH:
                genre = self.genres[track]
                same = f", {genre}" if genre == self.genres[cited[near]] else ""
                text = f"sounds like {self.title(cited[near])}, which you played{same}"
                reasons.append(Reason(CONTENT, text, float(content[near, column])))
                continue
            reasons.append(Reason(AUDIENCE, audience_text, 0.0))
        return reasons

    def all_reasons(
        self, played: np.ndarray, weights: np.ndarray, track: int, limit: int = 3
    ) -> list[Reason]:
        """Every co-listened play (most shared listeners first) and the closest plays in
        content for one track, up to ``limit`` of each."""
        if not len(played):
            return []
        shared = self.shared_listeners(played, np.array([track]))[:, 0]
        cosine = shared / np.sqrt(np.maximum(self.listeners[played] * self.listeners[track], 1.0))
        reasons = []
        for row in np.argsort(-cosine, kind="stable")[:limit]:
            if shared[row] > 0:
                count = int(shared[row])
                text = (
                    f"you played {self.title(played[row])} ({int(weights[row])} plays); "
                    f"{count} listener{'s' if count != 1 else ''} played both"
                )
                reasons.append(Reason(CO_LISTENING, text, float(cosine[row])))
        content = self.content[played] @ self.content[track]
        for row in np.argsort(-content, kind="stable")[:limit]:
            if content[row] >= MIN_CONTENT_MATCH:
                text = f"sounds like {self.title(played[row])} ({self.genres[played[row]]})"
                reasons.append(Reason(CONTENT, text, float(content[row])))
        return reasons

    def similar(self, track: int, k: int) -> tuple[np.ndarray, np.ndarray, list[Reason]]:
        """The ``k`` tracks most like ``track``: by the cosine of their listeners, then by
        content for tracks no listener of it played (all of them for a track nobody played)."""
        content = self.content @ self.content[track]
        shared = np.zeros(len(content))
        if self.listeners[track] > 0:
            listeners = self.by_track[:, track].nonzero()[0]
            shared = np.asarray(self.by_user[listeners].sum(axis=0)).ravel()
        colisten = shared / np.sqrt(np.maximum(self.listeners * self.listeners[track], 1.0))
        order = most_alike(colisten, content, track, k)
        reasons, scores = [], []
        for other in order:
            if colisten[other] > 0:
                count = int(shared[other])
                text = f"{count} listener{'s' if count != 1 else ''} played both"
                reasons.append(Reason(CO_LISTENING, text, float(colisten[other])))
                scores.append(float(colisten[other]))
            else:
                same = self.genres[other] == self.genres[track]
                text = f"close in sound{f', {self.genres[other]}' if same else ''}"
                reasons.append(Reason(CONTENT, text, float(content[other])))
                scores.append(float(content[other]))
        return order, np.array(scores), reasons


def most_alike(colisten: np.ndarray, content: np.ndarray, track: int, k: int) -> np.ndarray:
    """The first ``k`` tracks other than ``track`` in the order of
    ``np.lexsort((-content, -colisten))`` (co-listened tracks by cosine, then the rest by
    content, ties in catalogue order), without sorting the whole catalogue."""
    others = np.ones(len(colisten), dtype=bool)
    others[track] = False
    colistened = np.flatnonzero(others & (colisten > 0))
    head = colistened[np.lexsort((-content[colistened], -colisten[colistened]))][:k]
    if len(head) == k:
        return head
    rest = np.flatnonzero(others & ~(colisten > 0))
    return np.concatenate([head, rest[_smallest(-content[rest], k - len(head))]])


def _smallest(keys: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` smallest keys, in order, ties by position (a stable sort's)."""
    if n >= len(keys):
        return np.argsort(keys, kind="stable")
    bound = np.partition(keys, n - 1)[n - 1]
    candidates = np.flatnonzero(keys <= bound)
    return candidates[np.argsort(keys[candidates], kind="stable")][:n]
