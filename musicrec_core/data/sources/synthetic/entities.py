"""The catalogue's users, artists and tracks: their dataclasses and how each is drawn.

Tracks inherit their artist's genre, era and popularity, with noise, and get audio features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicrec_core.data import schema
from musicrec_core.data.sources.synthetic.genres import GENRES, MIN_YEAR, genre_param
from musicrec_core.data.sources.synthetic.names import artist_names, track_names
from musicrec_core.data.sources.synthetic.sampling import GroupedSampler

_UNIT_FEATURES = (
    schema.ACOUSTICNESS,
    schema.DANCEABILITY,
    schema.ENERGY,
    schema.INSTRUMENTALNESS,
    schema.SPEECHINESS,
    schema.VALENCE,
)
_BETA_CONCENTRATION = 6.0
_KEY_WEIGHTS = (2436, 1220, 1589, 230, 875, 830, 445, 1579, 414, 1076, 368, 466)  # seed data, C..B
_TIME_SIGNATURES = ((4, 0.905), (3, 0.07), (5, 0.01), (1, 0.01), (0, 0.005))
_RELEASE_DATE_FORMS = (0.8, 0.12, 0.08)  # YYYY-MM-DD, YYYY, YYYY-MM
_OWN_GENRE_SHARE = 0.85  # tracks in their artist's home genre
_FEATURED_SHARE = 0.3
_FEATURED_COUNTS = (0.6, 0.3, 0.1)  # probability of 1, 2 or 3 featured artists
_FEATURED_SAME_GENRE = 0.6


# --- entities --------------------------------------------------------------------------------
@dataclass
class Users:
    ids: np.ndarray
    age: np.ndarray
    gender: np.ndarray  # "M", "F" or "X"


@dataclass
class Artists:
    names: np.ndarray
    genre: np.ndarray
    career_year: np.ndarray
    log_popularity: np.ndarray


@dataclass
class Tracks:
    ids: np.ndarray
    names: np.ndarray
    artist: np.ndarray
    featured: np.ndarray
    genre: np.ndarray
    year: np.ndarray
    release_date: np.ndarray
    features: dict[str, np.ndarray]  # audio features, duration, key, mode, time signature, explicit
    popularity: np.ndarray


# --- users -----------------------------------------------------------------------------------
def make_users(n: int, rng: np.random.Generator) -> Users:
    """Users aged 13..80, skewed young (many 16-30), mostly M or F."""
    young = rng.random(n) < 0.45
    age = np.where(young, 14 + rng.gamma(3.0, 2.5, n), 13 + 67 * rng.beta(1.4, 1.6, n))
    gender = rng.choice(np.array(["M", "F", "X"], dtype=object), size=n, p=[0.485, 0.485, 0.03])
    return Users(
        ids=_ids("u", n), age=np.clip(np.round(age), 13, 80).astype(np.int64), gender=gender
    )


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(6, len(str(n - 1)))
    return np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), width)).astype(object)


# --- artists and tracks ----------------------------------------------------------------------
def make_artists(n: int, last_year: int, rng: np.random.Generator) -> Artists:
    """Artists with a home genre, a career year (skewed recent, genre-dependent) and popularity."""
    shares = genre_param("share")
    genre = rng.choice(len(GENRES), size=n, p=shares / shares.sum())
    years_back = _truncated_exponential(genre_param("era")[genre], last_year - MIN_YEAR, rng)
    return Artists(
        names=artist_names(n, rng),
        genre=genre,
        career_year=last_year - years_back,
        log_popularity=rng.normal(0.0, 1.2, n),
    )


def _truncated_exponential(scale: np.ndarray, upper: float, rng: np.random.Generator) -> np.ndarray:
    """Exponential draws with the given scales, restricted to [0, upper] (inverse CDF)."""
    u = rng.random(scale.shape) * (1.0 - np.exp(-upper / scale))
    return -scale * np.log1p(-u)


def make_tracks(n: int, artists: Artists, last_year: int, rng: np.random.Generator) -> Tracks:
    """Tracks spread heavy-tailed over artists, mostly in the artist's genre and era."""
    artist = _assign_artists(n, artists, rng)
    shares = genre_param("share")
    own_genre = rng.random(n) < _OWN_GENRE_SHARE
    genre = np.where(
        own_genre, artists.genre[artist], rng.choice(len(GENRES), size=n, p=shares / shares.sum())
    )
    year = np.clip(np.round(artists.career_year[artist] + rng.normal(0, 3, n)), MIN_YEAR, last_year)
    log_popularity = artists.log_popularity[artist] + rng.normal(0.0, 0.8, n)
    return Tracks(
        ids=_ids("t", n),
        names=track_names(n, rng),
        artist=artist,
        featured=_featured_artists(artist, artists, rng),
        genre=genre,
        year=year.astype(np.int64),
        release_date=_release_dates(year.astype(np.int64), rng),
        features=_audio_features(genre, rng),
        popularity=np.exp(log_popularity) / np.exp(log_popularity).mean(),
    )


def _assign_artists(n: int, artists: Artists, rng: np.random.Generator) -> np.ndarray:
    """Every artist gets one track; the rest go by heavy-tailed weights linked to popularity."""
    n_artists = len(artists.names)
    weights = np.exp(0.5 * artists.log_popularity + rng.normal(0.0, 0.8, n_artists))
    extra = rng.choice(n_artists, size=n - n_artists, p=weights / weights.sum())
    return rng.permutation(np.concatenate([np.arange(n_artists), extra]))


def _featured_artists(artist: np.ndarray, artists: Artists, rng: np.random.Generator) -> np.ndarray:
    """On ~30% of tracks, 1-3 other artists (often from the same genre), comma-separated."""
    n = len(artist)
    wanted = np.where(
        rng.random(n) < _FEATURED_SHARE, rng.choice([1, 2, 3], size=n, p=_FEATURED_COUNTS), 0
    )
    weights = np.exp(artists.log_popularity)
    by_genre = GroupedSampler.build(artists.genre, weights, len(GENRES))
    anywhere = GroupedSampler.build(np.zeros(len(weights), dtype=np.int64), weights, 1)
    text = np.full(n, "", dtype=object)
    taken = [artist]
    for slot in range(3):
        same = rng.random(n) < _FEATURED_SAME_GENRE
        other = np.where(
            same,
            by_genre.draw(artists.genre[artist], rng.random(n)),
            anywhere.draw(np.zeros(n, dtype=np.int64), rng.random(n)),
        )
        new = (slot < wanted) & np.all([other != t for t in taken], axis=0)
        text = np.where(new, np.where(text == "", "", text + ", ") + artists.names[other], text)
        taken.append(np.where(new, other, artist))
    return text


def _release_dates(year: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Release dates as text, mostly YYYY-MM-DD, some YYYY, some YYYY-MM."""
    n = len(year)
    yyyy = year.astype(str).astype(object)
    yyyy_mm = yyyy + "-" + np.char.zfill(rng.integers(1, 13, n).astype(str), 2).astype(object)
    full = yyyy_mm + "-" + np.char.zfill(rng.integers(1, 29, n).astype(str), 2).astype(object)
    form = rng.choice(3, size=n, p=_RELEASE_DATE_FORMS)
    return np.choose(form, (full, yyyy, yyyy_mm))


def _audio_features(genre: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Genre-dependent audio features inside Spotify's documented ranges."""
    n = len(genre)
    features = {}
    for col in _UNIT_FEATURES:
        mean = genre_param(col)[genre]
        features[col] = rng.beta(mean * _BETA_CONCENTRATION, (1 - mean) * _BETA_CONCENTRATION)
    features[schema.LIVENESS] = rng.beta(1.5, 7.0, n)
    energy_shift = features[schema.ENERGY] - genre_param("energy")[genre]
    loudness = genre_param("loudness")[genre] + 8.0 * energy_shift + rng.normal(0.0, 2.0, n)
    features[schema.LOUDNESS] = np.clip(loudness, -30.0, -1.0)
    features[schema.TEMPO] = np.clip(rng.normal(genre_param("tempo")[genre], 18.0), 60.0, 200.0)
    duration = genre_param("duration")[genre] * rng.lognormal(0.0, 0.25, n)
    features[schema.DURATION] = np.clip(duration, 1.0, 20.0)
    key = rng.choice(12, size=n, p=np.array(_KEY_WEIGHTS) / sum(_KEY_WEIGHTS))
    features[schema.KEY] = np.where(rng.random(n) < 0.003, -1, key)
    features[schema.MODE] = (rng.random(n) < 0.63).astype(np.int64)
    signatures, weights = zip(*_TIME_SIGNATURES, strict=True)
    features[schema.TIME_SIGNATURE] = rng.choice(signatures, size=n, p=weights)
    features[schema.EXPLICIT] = (rng.random(n) < genre_param("explicit")[genre]).astype(np.int64)
    return features
