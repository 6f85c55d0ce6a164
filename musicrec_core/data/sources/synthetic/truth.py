"""GroundTruth: the hidden tastes and track properties the plays are drawn from, and their making.

Tests and benchmarks score models against it, so it is part of the public API."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicrec_core.data import schema
from musicrec_core.data.sources.synthetic.config import SyntheticConfig
from musicrec_core.data.sources.synthetic.entities import Tracks, Users
from musicrec_core.data.sources.synthetic.genres import GENRE_NAMES, GENRES, MIN_YEAR, genre_param
from musicrec_core.data.sources.synthetic.sampling import draw_categorical, softmax

# --- taste model -----------------------------------------------------------------------------
_N_FACTORS = 8
_CONTENT_SHARE = 0.5  # share of a track factor's variance that comes from genre and audio
_ERA_WEIGHT = 1.5
_ERA_WIDTH = 10.0  # years
_POPULARITY_WEIGHT = 0.8
_AGE_WEIGHT = 1.5
_AGE_WIDTH = 12.0  # years
_GENDER_WEIGHT = 0.6
_GENRE_NOISE = 0.8
_FAVOURITE_BOOST = 1.0
_PREFERRED_YEAR_OFFSET = 15  # users prefer music from when they were about 15 ...
_PREFERRED_YEAR_NOISE = 6.0  # ... give or take


@dataclass
class GroundTruth:
    """The hidden tastes and track properties the plays were generated from.

    Row i of every user array belongs to ``user_ids[i]``; row j of every track array to
    ``track_ids[j]``; genre indices point into ``genres``.
    """

    user_ids: np.ndarray
    track_ids: np.ndarray
    genres: list[str]
    user_factors: np.ndarray  # (n_users, n_factors), float32
    track_factors: np.ndarray  # (n_tracks, n_factors), float32
    user_genre_preference: np.ndarray  # (n_users, n_genres), log scale, centred per user
    user_preferred_year: np.ndarray  # (n_users,)
    track_genre: np.ndarray  # (n_tracks,) index into genres
    track_release_year: np.ndarray  # (n_tracks,)
    track_popularity: np.ndarray  # (n_tracks,) heavy-tailed, mean 1
    # what age and gender alone tell of a user: the genre preference's expectation and the
    # preferred year before its per-user noise (``preferred_year_noise``)
    user_genre_from_demographics: np.ndarray  # (n_users, n_genres), centred per user
    user_expected_year: np.ndarray  # (n_users,)
    era_weight: float = _ERA_WEIGHT
    era_width: float = _ERA_WIDTH
    popularity_weight: float = _POPULARITY_WEIGHT
    preferred_year_noise: float = _PREFERRED_YEAR_NOISE

    def affinity(self, user_idx: np.ndarray | int, track_idx: np.ndarray | int) -> np.ndarray:
        """True affinity for (broadcastable) arrays of user and track indices, element-wise."""
        users, tracks = np.broadcast_arrays(np.asarray(user_idx), np.asarray(track_idx))
        factors = np.einsum("...k,...k->...", self.user_factors[users], self.track_factors[tracks])
        genre = self.user_genre_preference[users, self.track_genre[tracks]]
        return factors + genre + self._era(users, tracks) + self._popularity(tracks)

    def affinity_matrix(self, user_idx: np.ndarray | None = None) -> np.ndarray:
        """True affinity of the given users (default: all) for every track, users x tracks."""
        users = np.arange(len(self.user_ids)) if user_idx is None else np.asarray(user_idx)
        if users.size * len(self.track_ids) > 50_000_000:
            raise ValueError("affinity matrix too large; pass fewer users")
        factors = self.user_factors[users] @ self.track_factors.T
        genre = self.user_genre_preference[users][:, self.track_genre]
        era = self._era(users[:, None], np.arange(len(self.track_ids))[None, :])
        return factors + genre + era + self._popularity(np.arange(len(self.track_ids)))[None, :]

    def expected_affinity_from_demographics(self, user_idx: np.ndarray) -> np.ndarray:
        """The affinity expected from the given users' age and gender alone, users x tracks:
        their taste factors (mean 0), genre noise and preferred-year noise unknown, i.e. about
        the most a model can know of a new user. The era term is the Gaussian kernel averaged
        over the preferred year's noise (ignoring its clip to the catalogue's years)."""
        users = np.asarray(user_idx)
        tracks = np.arange(len(self.track_ids))
        genre = self.user_genre_from_demographics[users][:, self.track_genre]
        spread = np.hypot(self.era_width, self.preferred_year_noise)
        gap = (self.track_release_year[None, :] - self.user_expected_year[users][:, None]) / spread
        era = self.era_weight * self.era_width / spread * np.exp(-0.5 * gap**2)
        return genre + era + self._popularity(tracks)[None, :]

    def taste(self, user_idx: np.ndarray, track_idx: np.ndarray) -> np.ndarray:
        """The factor and era part of the affinity: what decides among exposed tracks."""
        factors = np.einsum("ik,ik->i", self.user_factors[user_idx], self.track_factors[track_idx])
        return factors + self._era(user_idx, track_idx)

    def _era(self, users: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        distance = (
            self.track_release_year[tracks] - self.user_preferred_year[users]
        ) / self.era_width
        return self.era_weight * np.exp(-0.5 * distance**2)

    def _popularity(self, tracks: np.ndarray) -> np.ndarray:
        return self.popularity_weight * np.log(self.track_popularity[tracks])


# --- tastes ----------------------------------------------------------------------------------
def make_truth(
    config: SyntheticConfig, users: Users, tracks: Tracks, rng: np.random.Generator
) -> GroundTruth:
    expected_year = config.reference_year - users.age + _PREFERRED_YEAR_OFFSET
    preferred_year = expected_year + rng.normal(0.0, _PREFERRED_YEAR_NOISE, len(users.age))
    user_factors = _user_factors(len(users.ids), rng)
    track_factors = _track_factors(tracks, rng)
    preference, demographic_preference = _genre_preference(users, rng)
    return GroundTruth(
        user_ids=users.ids,
        track_ids=tracks.ids,
        genres=list(GENRE_NAMES),
        user_factors=user_factors,
        track_factors=track_factors,
        user_genre_preference=preference,
        user_preferred_year=np.clip(preferred_year, MIN_YEAR - 10, config.end_date.year),
        track_genre=tracks.genre,
        track_release_year=tracks.year,
        track_popularity=tracks.popularity,
        user_genre_from_demographics=demographic_preference,
        user_expected_year=expected_year.astype(float),
    )


def _genre_preference(users: Users, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Log-scale genre preference: age and gender appeal, individual noise and a favourite genre;
    and its expectation given age and gender alone (no noise, the favourite's boost spread by
    its probabilities)."""
    age_gap = (users.age[:, None] - genre_param("listener_age")[None, :]) / _AGE_WIDTH
    sign = np.select([users.gender == "M", users.gender == "F"], [1.0, -1.0], 0.0)
    gender_lean = 2 * genre_param("male_share") - 1
    demographic = (
        _AGE_WEIGHT * np.exp(-0.5 * age_gap**2)
        + _GENDER_WEIGHT * sign[:, None] * (gender_lean[None, :])
    )
    preference = demographic + rng.normal(0.0, _GENRE_NOISE, demographic.shape)
    favourite = draw_categorical(softmax(demographic), rng)
    preference[np.arange(len(users.ids)), favourite] += _FAVOURITE_BOOST
    expected = demographic + _FAVOURITE_BOOST * softmax(demographic)
    return (
        preference - preference.mean(axis=1, keepdims=True),
        expected - expected.mean(axis=1, keepdims=True),
    )


def _user_factors(n: int, rng: np.random.Generator) -> np.ndarray:
    """Free user factors, scaled so a user-track dot product has unit variance."""
    return rng.normal(0.0, 1.0 / np.sqrt(_N_FACTORS), (n, _N_FACTORS)).astype(np.float32)


def _track_factors(tracks: Tracks, rng: np.random.Generator) -> np.ndarray:
    """Track factors: half from content (genre and standardised audio features), half free."""
    audio = np.column_stack(
        [tracks.features[col] for col in (*schema.AUDIO_FEATURES, schema.DURATION)]
    )
    audio = (audio - audio.mean(axis=0)) / (audio.std(axis=0) + 1e-9)
    projection = rng.normal(0.0, 1.0 / np.sqrt(audio.shape[1]), (audio.shape[1], _N_FACTORS))
    genre_embedding = rng.normal(0.0, 1.0, (len(GENRES), _N_FACTORS))
    content = (genre_embedding[tracks.genre] + audio @ projection) / np.sqrt(2.0)
    free = rng.normal(0.0, 1.0, content.shape)
    factors = np.sqrt(_CONTENT_SHARE) * content + np.sqrt(1 - _CONTENT_SHARE) * free
    return factors.astype(np.float32)
