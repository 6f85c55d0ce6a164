"""Deterministic synthetic music catalogue: users, tracks and plays as raw tables plus ground truth.

The generative story, so a hybrid content + collaborative model has real structure to learn:

- Genres have their own audio-feature distributions, release eras and typical listeners.
- Artists have a home genre, a career era and a popularity; tracks inherit all three, with noise.
- A user's true affinity for a track is
  ``dot(user factors, track factors) + genre preference + era closeness + popularity term``;
  track factors are half content (genre + audio features) and half free, genre preference depends
  on age and gender plus individual taste, and the preferred era depends on age.
- Plays are drawn in two stages that together approximate a softmax over that affinity without
  replacement: a user is exposed to tracks in proportion to ``exp(genre preference) * popularity``,
  then picks among the exposed tracks by Gumbel-top-k on the factor and era terms.

Everything is vectorised with numpy and processed in chunks of users, so ten million plays fit in
memory and take well under two minutes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from typing import NamedTuple

import numpy as np
import pandas as pd

from musicrec_core.data import schema

logger = logging.getLogger(__name__)


# --- genres ----------------------------------------------------------------------------------
class _Genre(NamedTuple):
    name: str
    share: float  # share of artists whose home genre this is
    acousticness: float  # Beta means of the 0..1 audio features
    danceability: float
    energy: float
    instrumentalness: float
    speechiness: float
    valence: float
    loudness: float  # mean dB
    tempo: float  # mean BPM
    explicit: float  # probability a track is explicit
    duration: float  # median minutes
    era: float  # mean years between release and the last year of the catalogue
    listener_age: float  # age of the typical listener
    male_share: float  # share of male listeners


# fmt: off
_GENRE_TABLE = (
    # fields in _Genre order: name, share, acousticness, danceability, energy, instrumentalness,
    # speechiness, valence, loudness, tempo, explicit, duration, era, listener_age, male_share
    ("Pop",              .14, .20, .68, .66, .02, .07, .55,  -6.0, 118, .15, 3.4, 10, 22, .40),
    ("Rock",             .11, .15, .50, .75, .06, .05, .48,  -6.5, 125, .06, 4.1, 25, 40, .62),
    ("Hip-Hop",          .10, .15, .75, .65, .01, .25, .50,  -6.2, 100, .60, 3.6, 10, 21, .62),
    ("Rap",              .04, .12, .76, .66, .01, .32, .45,  -5.8,  96, .75, 3.3,  8, 20, .66),
    ("Dance/Electronic", .08, .06, .70, .80, .35, .07, .45,  -5.0, 126, .08, 4.0, 10, 25, .55),
    ("RnB",              .06, .25, .66, .55, .01, .10, .50,  -6.8, 105, .25, 3.7, 14, 27, .42),
    ("Country",          .06, .30, .58, .62, .01, .04, .58,  -6.6, 120, .04, 3.5, 18, 45, .50),
    ("Latin",            .05, .20, .74, .72, .01, .08, .68,  -5.5, 110, .10, 3.5, 10, 28, .45),
    ("Metal",            .04, .02, .40, .92, .08, .08, .30,  -4.5, 135, .10, 5.0, 20, 30, .75),
    ("Jazz",             .05, .70, .55, .38, .40, .06, .52, -12.0, 115, .01, 5.2, 40, 55, .55),
    ("Classical",        .05, .92, .30, .18, .85, .04, .28, -19.0, 100, .00, 6.5, 35, 58, .50),
    ("Folk/Acoustic",    .05, .78, .52, .35, .10, .04, .45, -10.5, 112, .02, 3.8, 20, 38, .45),
    ("Soul",             .03, .45, .62, .52, .02, .06, .62,  -8.5, 110, .02, 3.5, 40, 55, .45),
    ("Blues",            .03, .50, .52, .50, .05, .05, .52,  -9.5, 112, .01, 4.2, 45, 60, .60),
    ("Punk",             .03, .03, .45, .90, .02, .08, .45,  -5.0, 150, .15, 2.8, 30, 32, .65),
    ("Reggae",           .03, .15, .75, .58, .04, .12, .72,  -7.5,  92, .05, 4.0, 35, 35, .58),
    ("Christian/Gospel", .03, .35, .50, .55, .02, .05, .45,  -8.0, 115, .00, 4.2, 15, 48, .40),
    ("Easy Listening",   .02, .65, .50, .32, .15, .04, .50, -12.5, 105, .00, 3.3, 45, 65, .45),
)
# fmt: on
_GENRES = tuple(_Genre(*row) for row in _GENRE_TABLE)
GENRE_NAMES: tuple[str, ...] = tuple(g.name for g in _GENRES)
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
_MIN_YEAR = 1960

# --- word lists for names --------------------------------------------------------------------
# fmt: off
_FIRST = (
    "Alex", "Maya", "Jordan", "Luna", "Marcus", "Nina", "Theo", "Zara", "Leo", "Ivy", "Omar",
    "Clara", "Felix", "Aria", "Jonah", "Mila", "Elias", "Nora", "Kai", "Sofia", "Ruben",
    "Hazel", "Dante", "Iris", "Malik", "Esme", "Silas", "Lena", "Tariq", "Ada", "Victor",
    "June", "Rafael", "Billie", "Oscar", "Celeste", "Idris", "Freya", "Mateo", "Willa", "Hugo",
    "Amara", "Rocco", "Selene", "Jasper", "Noor", "Emil", "Tove", "Santiago", "Priya", "Lucas",
    "Greta", "Bruno", "Yara", "Otis", "Leila", "Ezra", "Mina", "Cyrus", "Wren",
)
_LAST = (
    "Rivers", "Stone", "Vale", "Monroe", "Hart", "Blake", "Cruz", "Fontaine", "Reyes",
    "Hollow", "Sterling", "Quinn", "Marlowe", "Okafor", "Lindqvist", "Moreau", "Castillo",
    "Winters", "Hayes", "Delgado", "Nakamura", "Ferreira", "Kowalski", "Ashby", "Bishop",
    "Carver", "Duval", "Ellison", "Foster", "Grant", "Holt", "Iverson", "Jansen", "Keane",
    "Lowell", "Mercer", "Novak", "Orr", "Pike", "Sato", "Adeyemi", "Bellamy", "Calloway",
    "Dimitrov", "Everly", "Falk", "Garland", "Haddad", "Ibarra", "Jovanovic", "Kaur", "Lucero",
    "Mendez", "Nilsson", "Oduya", "Petrov", "Rasmussen", "Serrano", "Takahashi", "Underwood",
)
_ADJECTIVES = (
    "Velvet", "Electric", "Golden", "Silent", "Neon", "Broken", "Wild", "Crimson", "Hollow",
    "Midnight", "Paper", "Static", "Lunar", "Restless", "Crystal", "Faded", "Burning",
    "Frozen", "Lonely", "Savage", "Sweet", "Bitter", "Distant", "Endless", "Gentle", "Hidden",
    "Infinite", "Last", "Lucky", "Magnetic", "Northern", "Purple", "Quiet", "Rusty", "Secret",
    "Shallow", "Silver", "Slow", "Solar", "Stray", "Sunday", "Tender", "Violet", "Wasted",
    "Young", "Cosmic", "Dusty", "Empty", "Fragile", "Heavy",
)
_NOUNS = (
    "Heart", "River", "Fire", "Dream", "Shadow", "Light", "Road", "Ocean", "Storm", "Rain",
    "Moon", "Sun", "City", "Night", "Summer", "Winter", "Echo", "Ghost", "Garden", "Mirror",
    "Diamond", "Highway", "Thunder", "Angel", "Wolf", "Tiger", "Rose", "Star", "Sky", "Wave",
    "Flame", "Stone", "Window", "Train", "Radio", "Letter", "Bridge", "Island", "Desert",
    "Forest", "Mountain", "Valley", "Harbor", "Candle", "Feather", "Signal", "Kingdom",
    "Horizon", "Satellite", "Paradise", "Dancer", "Stranger", "Lover", "Runner", "Machine",
    "Engine", "Circus", "Season", "Memory", "Promise",
)
_BAND_NOUNS = (
    "Wolves", "Tigers", "Angels", "Ghosts", "Dreamers", "Strangers", "Lovers", "Runners",
    "Machines", "Kings", "Queens", "Saints", "Sinners", "Rebels", "Pilots", "Sailors",
    "Drifters", "Ravens", "Foxes", "Lions", "Hearts", "Rivers", "Stones", "Echoes", "Shadows",
    "Storms", "Satellites", "Animals", "Brothers", "Sisters",
)
_VERBS = (
    "Running", "Falling", "Dancing", "Waiting", "Burning", "Chasing", "Breaking", "Holding",
    "Calling", "Dreaming", "Fading", "Flying", "Hiding", "Losing", "Missing", "Singing",
    "Drifting", "Shining", "Leaving", "Walking",
)
# fmt: on
_PREPOSITIONS = (
    "in the",
    "on the",
    "under the",
    "through the",
    "for the",
    "into the",
    "across the",
)
_NAME_PREFIXES = ("DJ", "MC", "Lil", "Young", "Big", "King")
_VERSIONS = ("Remix", "Live", "Acoustic", "Remastered", "Radio Edit", "Demo")
_OWN_GENRE_SHARE = 0.85  # tracks in their artist's home genre
_FEATURED_SHARE = 0.3
_FEATURED_COUNTS = (0.6, 0.3, 0.1)  # probability of 1, 2 or 3 featured artists
_FEATURED_SAME_GENRE = 0.6

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

# --- play sampling ---------------------------------------------------------------------------
_MIN_ROWS_PER_USER = 5
_MAX_ROWS_PER_USER = 2000
_ACTIVITY_SIGMA = 1.0
_POOL_FACTOR = 8  # tracks a user is exposed to, per track they end up playing
_MIN_POOL = 60
_CHUNK_CANDIDATES = 2_000_000
_PLAY_BASE = 6.0
_PLAY_AFFINITY_WEIGHT = 0.4
_PLAY_DISPERSION = 0.6
_PLAY_USER_SIGMA = 0.7

# --- dirty rows ------------------------------------------------------------------------------
_MISSING = (None, "")
_DIRT: dict[str, dict[str, dict[str, tuple[str | None, ...]]]] = {
    "users": {
        "missing_optional": {schema.AGE: _MISSING, schema.GENDER: _MISSING},
        "missing_required": {schema.USER_ID: _MISSING},
        "out_of_range": {schema.AGE: ("0", "2", "-3", "130", "250")},
        "unparsable": {schema.AGE: ("abc", "twenty", "3o")},
        "unknown_gender": {schema.GENDER: ("Q", "Z", "7", "mf", "?")},
    },
    "tracks": {
        "missing_optional": {
            col: _MISSING
            for col in (
                schema.TRACK_NAME,
                schema.GENRE,
                schema.RELEASE_DATE,
                schema.DURATION,
                schema.ENERGY,
                schema.TEMPO,
                schema.LOUDNESS,
                schema.KEY,
                schema.EXPLICIT,
            )
        },
        "missing_required": {schema.TRACK_ID: _MISSING},
        "out_of_range": {
            schema.ENERGY: ("1.7", "-0.2"),
            schema.DANCEABILITY: ("1.35", "-0.5"),
            schema.TEMPO: ("-5", "420.0"),
            schema.LOUDNESS: ("12.5", "-75.0"),
            schema.DURATION: ("-1.5", "95.0"),
            schema.KEY: ("14", "-3"),
            schema.TIME_SIGNATURE: ("9", "-1"),
            schema.MODE: ("2",),
            schema.EXPLICIT: ("3",),
        },
        "unparsable": {
            schema.ENERGY: ("abc", "high"),
            schema.TEMPO: ("fast", "1.2.3"),
            schema.DURATION: ("abc", "3:45"),
            schema.KEY: ("C#", "abc"),
            schema.RELEASE_DATE: ("someday", "abc"),
        },
    },
    "plays": {
        "missing_optional": {schema.PLAYED_AT: _MISSING},
        "missing_required": {schema.USER_ID: _MISSING, schema.PLAYS: _MISSING},
        "out_of_range": {schema.PLAYS: ("0", "-1", "-3")},
        "unparsable": {
            schema.PLAYS: ("abc", "many", "1e"),
            schema.PLAYED_AT: ("yesterday", "2024-02-30 25:61:00"),
        },
    },
}
_KIND_WEIGHTS = {
    "missing_optional": 5.0,
    "missing_required": 1.0,
    "out_of_range": 4.0,
    "unparsable": 3.0,
    "unknown_gender": 3.0,
    "duplicate": 4.0,
}
_DUPLICATE = "duplicate"

# --- presets ---------------------------------------------------------------------------------
_PRESETS = {"tiny": (80, 200, 3_000), "demo": (2_000, 5_000, 160_000)}
_DEMO_USERS, _DEMO_TRACKS, _DEMO_PLAYS = _PRESETS["demo"]
_MIN_TRACKS = 30


@dataclass(frozen=True)
class SyntheticConfig:
    """Size, seed, dirtiness and date range of a synthetic catalogue."""

    n_users: int
    n_tracks: int
    n_plays: int  # target number of (user, track) rows
    seed: int = 42
    dirty_rate: float = 0.01  # fraction of rows per table made dirty
    start_date: date = date(2023, 1, 1)  # range of played_at
    end_date: date = date(2025, 12, 31)
    reference_year: int = 2026  # "now", from which users' ages count back

    def __post_init__(self) -> None:
        if self.n_users < 1 or self.n_tracks < _MIN_TRACKS:
            raise ValueError(f"need n_users >= 1 and n_tracks >= {_MIN_TRACKS}")
        if self.n_plays < self.n_users:
            raise ValueError("n_plays must be at least n_users (every user plays something)")
        if not 0.0 <= self.dirty_rate <= 0.5:
            raise ValueError("dirty_rate must lie in [0, 0.5]")
        if not self.start_date <= self.end_date or self.end_date.year < _MIN_YEAR:
            raise ValueError("need start_date <= end_date, ending after 1960")

    @classmethod
    def preset(
        cls, name: str = "demo", *, seed: int = 42, dirty_rate: float = 0.01
    ) -> SyntheticConfig:
        """A named size: "tiny" (80 users, 200 tracks, ~3k plays) or "demo" (2k, 5k, 160k)."""
        if name not in _PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {sorted(_PRESETS)}")
        n_users, n_tracks, n_plays = _PRESETS[name]
        return cls(n_users, n_tracks, n_plays, seed=seed, dirty_rate=dirty_rate)

    @classmethod
    def scaled(cls, n_plays: int, *, seed: int = 42, dirty_rate: float = 0.01) -> SyntheticConfig:
        """A catalogue of about ``n_plays`` rows with users and tracks in the demo's ratios."""
        n_users = max(1, round(n_plays * _DEMO_USERS / _DEMO_PLAYS))
        n_tracks = max(_MIN_TRACKS, round(n_plays * _DEMO_TRACKS / _DEMO_PLAYS))
        return cls(n_users, n_tracks, max(n_plays, n_users), seed=seed, dirty_rate=dirty_rate)


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


@dataclass
class SyntheticCatalogue:
    """Raw tables as a source would deliver them, the truth behind them and the dirt injected."""

    raw: schema.RawTables
    truth: GroundTruth
    dirty_rows: dict[str, int]  # table -> dirty rows injected (modified plus appended duplicates)
    dirty_kinds: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> kind -> rows


# --- entities --------------------------------------------------------------------------------
@dataclass
class _Users:
    ids: np.ndarray
    age: np.ndarray
    gender: np.ndarray  # "M", "F" or "X"


@dataclass
class _Artists:
    names: np.ndarray
    genre: np.ndarray
    career_year: np.ndarray
    log_popularity: np.ndarray


@dataclass
class _Tracks:
    ids: np.ndarray
    names: np.ndarray
    artist: np.ndarray
    featured: np.ndarray
    genre: np.ndarray
    year: np.ndarray
    release_date: np.ndarray
    features: dict[str, np.ndarray]  # audio features, duration, key, mode, time signature, explicit
    popularity: np.ndarray


@dataclass
class _Plays:
    user: np.ndarray
    track: np.ndarray
    plays: np.ndarray
    played_at: np.ndarray  # datetime64[s]


def generate(config: SyntheticConfig) -> SyntheticCatalogue:
    """Generate a catalogue from ``config``; the same config always gives identical frames."""
    started = time.perf_counter()
    rng_users, rng_tracks, rng_taste, rng_plays, rng_dirt = np.random.default_rng(
        config.seed
    ).spawn(5)
    users = _make_users(config.n_users, rng_users)
    artists = _make_artists(max(4, config.n_tracks // 6), config.end_date.year, rng_tracks)
    tracks = _make_tracks(config.n_tracks, artists, config.end_date.year, rng_tracks)
    truth = _make_truth(config, users, tracks, rng_taste)
    plays = _sample_plays(config, truth, rng_plays)
    clean = {
        "users": _users_frame(users),
        "tracks": _tracks_frame(tracks, artists),
        "plays": _plays_frame(plays, truth),
    }
    frames, kinds = {}, {}
    for table, frame in clean.items():
        dirty, kinds[table] = _inject_dirt(frame, table, config.dirty_rate, rng_dirt)
        _add_provenance(dirty, table)
        frames[table] = dirty
    logger.info(
        "synthetic catalogue: %d users, %d tracks, %d play rows, %d dirty rows in %.1f s",
        len(users.ids),
        len(tracks.ids),
        len(plays.user),
        sum(sum(k.values()) for k in kinds.values()),
        time.perf_counter() - started,
    )
    return SyntheticCatalogue(
        raw=schema.RawTables(**frames),
        truth=truth,
        dirty_rows={table: sum(k.values()) for table, k in kinds.items()},
        dirty_kinds=kinds,
    )


# --- users -----------------------------------------------------------------------------------
def _make_users(n: int, rng: np.random.Generator) -> _Users:
    """Users aged 13..80, skewed young (many 16-30), mostly M or F."""
    young = rng.random(n) < 0.45
    age = np.where(young, 14 + rng.gamma(3.0, 2.5, n), 13 + 67 * rng.beta(1.4, 1.6, n))
    gender = rng.choice(np.array(["M", "F", "X"], dtype=object), size=n, p=[0.485, 0.485, 0.03])
    return _Users(
        ids=_ids("u", n), age=np.clip(np.round(age), 13, 80).astype(np.int64), gender=gender
    )


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(6, len(str(n - 1)))
    return np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), width)).astype(object)


# --- artists and tracks ----------------------------------------------------------------------
def _genre_param(name: str) -> np.ndarray:
    return np.array([getattr(g, name) for g in _GENRES], dtype=float)


def _make_artists(n: int, last_year: int, rng: np.random.Generator) -> _Artists:
    """Artists with a home genre, a career year (skewed recent, genre-dependent) and popularity."""
    shares = _genre_param("share")
    genre = rng.choice(len(_GENRES), size=n, p=shares / shares.sum())
    years_back = _truncated_exponential(_genre_param("era")[genre], last_year - _MIN_YEAR, rng)
    return _Artists(
        names=_artist_names(n, rng),
        genre=genre,
        career_year=last_year - years_back,
        log_popularity=rng.normal(0.0, 1.2, n),
    )


def _truncated_exponential(scale: np.ndarray, upper: float, rng: np.random.Generator) -> np.ndarray:
    """Exponential draws with the given scales, restricted to [0, upper] (inverse CDF)."""
    u = rng.random(scale.shape) * (1.0 - np.exp(-upper / scale))
    return -scale * np.log1p(-u)


def _pick(words: tuple[str, ...] | list[str], n: int, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(words, dtype=object)[rng.integers(len(words), size=n)]


def _artist_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """Plausible, unique artist names; a repeated name gets a number, like "Velvet Ocean 2"."""
    first, last, adj = _pick(_FIRST, n, rng), _pick(_LAST, n, rng), _pick(_ADJECTIVES, n, rng)
    band, noun, prefix = (
        _pick(_BAND_NOUNS, n, rng),
        _pick(_NOUNS, n, rng),
        _pick(_NAME_PREFIXES, n, rng),
    )
    initial = _pick(list("ABCDEFGHJKLMNPRSTVW"), n, rng)
    forms = (
        first + " " + last,
        first + " " + initial + ". " + last,
        "The " + adj + " " + band,
        adj + " " + noun,
        prefix + " " + noun,
        first + " & the " + band,
    )
    form = rng.choice(len(forms), size=n, p=[0.3, 0.15, 0.25, 0.15, 0.1, 0.05])
    names = np.choose(form, forms)
    repeat = pd.Series(names).groupby(names).cumcount().to_numpy()
    return np.where(repeat > 0, names + " " + (repeat + 1).astype(str).astype(object), names)


def _track_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """Plausible track titles; titles may repeat across artists, as in real catalogues."""
    adj, noun, other = _pick(_ADJECTIVES, n, rng), _pick(_NOUNS, n, rng), _pick(_NOUNS, n, rng)
    verb, prep = _pick(_VERBS, n, rng), _pick(_PREPOSITIONS, n, rng)
    forms = (
        adj + " " + noun,
        verb + " " + prep + " " + noun,
        noun,
        noun + " of " + other,
        adj + " " + noun + " (" + _pick(_VERSIONS, n, rng) + ")",
    )
    return np.choose(rng.choice(len(forms), size=n, p=[0.35, 0.2, 0.15, 0.15, 0.15]), forms)


def _make_tracks(n: int, artists: _Artists, last_year: int, rng: np.random.Generator) -> _Tracks:
    """Tracks spread heavy-tailed over artists, mostly in the artist's genre and era."""
    artist = _assign_artists(n, artists, rng)
    shares = _genre_param("share")
    own_genre = rng.random(n) < _OWN_GENRE_SHARE
    genre = np.where(
        own_genre, artists.genre[artist], rng.choice(len(_GENRES), size=n, p=shares / shares.sum())
    )
    year = np.clip(
        np.round(artists.career_year[artist] + rng.normal(0, 3, n)), _MIN_YEAR, last_year
    )
    log_popularity = artists.log_popularity[artist] + rng.normal(0.0, 0.8, n)
    return _Tracks(
        ids=_ids("t", n),
        names=_track_names(n, rng),
        artist=artist,
        featured=_featured_artists(artist, artists, rng),
        genre=genre,
        year=year.astype(np.int64),
        release_date=_release_dates(year.astype(np.int64), rng),
        features=_audio_features(genre, rng),
        popularity=np.exp(log_popularity) / np.exp(log_popularity).mean(),
    )


def _assign_artists(n: int, artists: _Artists, rng: np.random.Generator) -> np.ndarray:
    """Every artist gets one track; the rest go by heavy-tailed weights linked to popularity."""
    n_artists = len(artists.names)
    weights = np.exp(0.5 * artists.log_popularity + rng.normal(0.0, 0.8, n_artists))
    extra = rng.choice(n_artists, size=n - n_artists, p=weights / weights.sum())
    return rng.permutation(np.concatenate([np.arange(n_artists), extra]))


def _featured_artists(
    artist: np.ndarray, artists: _Artists, rng: np.random.Generator
) -> np.ndarray:
    """On ~30% of tracks, 1-3 other artists (often from the same genre), comma-separated."""
    n = len(artist)
    wanted = np.where(
        rng.random(n) < _FEATURED_SHARE, rng.choice([1, 2, 3], size=n, p=_FEATURED_COUNTS), 0
    )
    weights = np.exp(artists.log_popularity)
    by_genre = _GroupedSampler.build(artists.genre, weights, len(_GENRES))
    anywhere = _GroupedSampler.build(np.zeros(len(weights), dtype=np.int64), weights, 1)
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
        mean = _genre_param(col)[genre]
        features[col] = rng.beta(mean * _BETA_CONCENTRATION, (1 - mean) * _BETA_CONCENTRATION)
    features[schema.LIVENESS] = rng.beta(1.5, 7.0, n)
    energy_shift = features[schema.ENERGY] - _genre_param("energy")[genre]
    loudness = _genre_param("loudness")[genre] + 8.0 * energy_shift + rng.normal(0.0, 2.0, n)
    features[schema.LOUDNESS] = np.clip(loudness, -30.0, -1.0)
    features[schema.TEMPO] = np.clip(rng.normal(_genre_param("tempo")[genre], 18.0), 60.0, 200.0)
    duration = _genre_param("duration")[genre] * rng.lognormal(0.0, 0.25, n)
    features[schema.DURATION] = np.clip(duration, 1.0, 20.0)
    key = rng.choice(12, size=n, p=np.array(_KEY_WEIGHTS) / sum(_KEY_WEIGHTS))
    features[schema.KEY] = np.where(rng.random(n) < 0.003, -1, key)
    features[schema.MODE] = (rng.random(n) < 0.63).astype(np.int64)
    signatures, weights = zip(*_TIME_SIGNATURES, strict=True)
    features[schema.TIME_SIGNATURE] = rng.choice(signatures, size=n, p=weights)
    features[schema.EXPLICIT] = (rng.random(n) < _genre_param("explicit")[genre]).astype(np.int64)
    return features


# --- tastes ----------------------------------------------------------------------------------
def _make_truth(
    config: SyntheticConfig, users: _Users, tracks: _Tracks, rng: np.random.Generator
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
        user_preferred_year=np.clip(preferred_year, _MIN_YEAR - 10, config.end_date.year),
        track_genre=tracks.genre,
        track_release_year=tracks.year,
        track_popularity=tracks.popularity,
        user_genre_from_demographics=demographic_preference,
        user_expected_year=expected_year.astype(float),
    )


def _genre_preference(users: _Users, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Log-scale genre preference: age and gender appeal, individual noise and a favourite genre;
    and its expectation given age and gender alone (no noise, the favourite's boost spread by
    its probabilities)."""
    age_gap = (users.age[:, None] - _genre_param("listener_age")[None, :]) / _AGE_WIDTH
    sign = np.select([users.gender == "M", users.gender == "F"], [1.0, -1.0], 0.0)
    gender_lean = 2 * _genre_param("male_share") - 1
    demographic = (
        _AGE_WEIGHT * np.exp(-0.5 * age_gap**2)
        + _GENDER_WEIGHT * sign[:, None] * (gender_lean[None, :])
    )
    preference = demographic + rng.normal(0.0, _GENRE_NOISE, demographic.shape)
    favourite = _draw_categorical(_softmax(demographic), rng)
    preference[np.arange(len(users.ids)), favourite] += _FAVOURITE_BOOST
    expected = demographic + _FAVOURITE_BOOST * _softmax(demographic)
    return (
        preference - preference.mean(axis=1, keepdims=True),
        expected - expected.mean(axis=1, keepdims=True),
    )


def _user_factors(n: int, rng: np.random.Generator) -> np.ndarray:
    """Free user factors, scaled so a user-track dot product has unit variance."""
    return rng.normal(0.0, 1.0 / np.sqrt(_N_FACTORS), (n, _N_FACTORS)).astype(np.float32)


def _track_factors(tracks: _Tracks, rng: np.random.Generator) -> np.ndarray:
    """Track factors: half from content (genre and standardised audio features), half free."""
    audio = np.column_stack(
        [tracks.features[col] for col in (*schema.AUDIO_FEATURES, schema.DURATION)]
    )
    audio = (audio - audio.mean(axis=0)) / (audio.std(axis=0) + 1e-9)
    projection = rng.normal(0.0, 1.0 / np.sqrt(audio.shape[1]), (audio.shape[1], _N_FACTORS))
    genre_embedding = rng.normal(0.0, 1.0, (len(_GENRES), _N_FACTORS))
    content = (genre_embedding[tracks.genre] + audio @ projection) / np.sqrt(2.0)
    free = rng.normal(0.0, 1.0, content.shape)
    factors = np.sqrt(_CONTENT_SHARE) * content + np.sqrt(1 - _CONTENT_SHARE) * free
    return factors.astype(np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _draw_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row of ``probs``, drawn with the row's probabilities."""
    below = rng.random((len(probs), 1)) > np.cumsum(probs, axis=1)
    return np.minimum(below.sum(axis=1), probs.shape[1] - 1)


@dataclass(frozen=True)
class _GroupedSampler:
    """Draws a member of a given group with probability proportional to the member's weight."""

    members: np.ndarray  # member indices ordered by group
    keys: np.ndarray  # group + cumulative share of the group's weight, ascending
    totals: np.ndarray  # total weight per group

    @classmethod
    def build(cls, groups: np.ndarray, weights: np.ndarray, n_groups: int) -> _GroupedSampler:
        members = np.argsort(groups, kind="stable")
        group, weight = groups[members], weights[members]
        totals = np.bincount(group, weights=weight, minlength=n_groups)
        before = np.cumsum(totals) - totals
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.clip((np.cumsum(weight) - before[group]) / totals[group], 0.0, 1.0)
        share[np.r_[group[1:] != group[:-1], True]] = 1.0  # each group's last key is exactly g + 1
        return cls(members=members, keys=group + share, totals=totals)

    def draw(self, group: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """One member per entry of ``group``, by inverse CDF of the matching ``uniforms`` in [0, 1).

        Every group drawn from must have positive weight. Ascending needles search fastest.
        """
        position = np.searchsorted(self.keys, group + uniforms, side="right")
        return self.members[np.minimum(position, len(self.members) - 1)]


# --- plays -----------------------------------------------------------------------------------
def _sample_plays(config: SyntheticConfig, truth: GroundTruth, rng: np.random.Generator) -> _Plays:
    """Per user: a heavy-tailed number of distinct tracks, play counts and timestamps."""
    n_users, n_tracks = len(truth.user_ids), len(truth.track_ids)
    rows = _rows_per_user(config.n_plays, n_users, min(n_tracks // 2, _MAX_ROWS_PER_USER), rng)
    activity = rng.lognormal(0.0, _PLAY_USER_SIGMA, n_users)
    first_second, last_second = _date_range_seconds(config)
    # Users join at some point in the first 80% of the range and play until its end.
    joined = rng.random(n_users) * 0.8 * (last_second - first_second)
    user_start = first_second + joined.astype(np.int64)
    exposure = _GroupedSampler.build(
        truth.track_genre, truth.track_popularity**truth.popularity_weight, len(truth.genres)
    )
    with np.errstate(divide="ignore"):
        genre_logits = truth.user_genre_preference + np.log(exposure.totals)[None, :]
    parts = []
    for lo, hi in _user_chunks(_pool_sizes(rows)):
        user, track = _choose_tracks(lo, rows[lo:hi], genre_logits[lo:hi], exposure, truth, rng)
        plays = _play_counts(truth.affinity(user, track), activity[user], rng)
        span = last_second - user_start[user]
        seconds = user_start[user] + (rng.random(len(user)) * span).astype(np.int64)
        order = np.lexsort((seconds, user))
        parts.append((user[order], track[order], plays[order], seconds[order]))
    user, track, plays, seconds = (np.concatenate(col) for col in zip(*parts, strict=True))
    if len(user) < config.n_plays:
        logger.info("synthetic plays: %d rows of %d asked for", len(user), config.n_plays)
    return _Plays(user, track, plays, seconds.astype("datetime64[s]"))


def _play_counts(
    affinity: np.ndarray, activity: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Heavy-tailed counts (1 + negative binomial), higher for heavy users and liked tracks."""
    mean = _PLAY_BASE * activity * np.exp(_PLAY_AFFINITY_WEIGHT * affinity)
    return 1 + rng.negative_binomial(_PLAY_DISPERSION, _PLAY_DISPERSION / (_PLAY_DISPERSION + mean))


def _rows_per_user(n_plays: int, n_users: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed (lognormal) rows per user summing to ``n_plays`` where the cap allows."""
    floor = max(1, min(_MIN_ROWS_PER_USER, n_plays // n_users, cap))
    cap = max(cap, floor)
    weights = rng.lognormal(0.0, _ACTIVITY_SIGMA, n_users)
    extra = np.zeros(n_users)
    remaining, free = float(n_plays - floor * n_users), np.ones(n_users, dtype=bool)
    while remaining > 1e-9 and free.any():  # water-filling: share, cap, share the overflow again
        extra[free] += remaining * weights[free] / weights[free].sum()
        over = extra > cap - floor
        remaining = float((extra[over] - (cap - floor)).sum())
        extra[over] = cap - floor
        free &= ~over
    rows = np.floor(extra).astype(np.int64)
    shortfall = min(n_plays - floor * n_users - int(rows.sum()), int(free.sum()))
    rows[np.argsort(-(extra - rows) * free, kind="stable")[:shortfall]] += 1
    return floor + rows


def _pool_sizes(rows: np.ndarray) -> np.ndarray:
    """How many exposure draws each user gets, for the given rows per user."""
    return np.maximum(_POOL_FACTOR * rows, _MIN_POOL)


def _user_chunks(pool: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive user ranges whose exposure pools hold about ``_CHUNK_CANDIDATES`` draws."""
    cumulative = np.cumsum(pool)
    cuts = np.searchsorted(
        cumulative, np.arange(_CHUNK_CANDIDATES, cumulative[-1], _CHUNK_CANDIDATES)
    )
    bounds = np.unique(np.concatenate([[0], cuts + 1, [len(pool)]]).clip(0, len(pool)))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def _choose_tracks(
    first_user: int,
    rows: np.ndarray,
    genre_logits: np.ndarray,
    exposure: _GroupedSampler,
    truth: GroundTruth,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Expose each user to tracks by genre preference and popularity, then keep their top picks."""
    n_genres, n_tracks = genre_logits.shape[1], len(truth.track_ids)
    per_genre = rng.multinomial(_pool_sizes(rows), _softmax(genre_logits))  # users x genres
    cell = np.repeat(np.arange(per_genre.size), per_genre.ravel())  # user * n_genres + genre
    local = cell // n_genres
    # Draws within a cell are interchangeable, so sort their uniforms for a faster search.
    uniforms = np.sort(cell + rng.random(len(cell))) - cell
    candidate = local * n_tracks + exposure.draw(cell % n_genres, uniforms)
    candidate, exposures = np.unique(candidate, return_counts=True)
    local, track = candidate // n_tracks, candidate % n_tracks
    user = first_user + local
    score = truth.taste(user, track) + np.log(exposures) + rng.gumbel(size=len(candidate))
    keep = _top_k_per_group(local, score, rows)
    return user[keep], track[keep]


def _top_k_per_group(group: np.ndarray, score: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Ascending indices of the ``k[g]`` highest scores within each group ``g``."""
    # One float sort instead of a lexsort: the squashed score lies in (0, 1), so group + squashed
    # score orders by group, then by score descending.
    order = np.argsort(group + 0.5 * (1.0 - np.tanh(score / 16.0)))
    sorted_group = group[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_group, sorted_group)
    return np.sort(order[rank < k[sorted_group]])


def _date_range_seconds(config: SyntheticConfig) -> tuple[int, int]:
    first = datetime.combine(config.start_date, dtime.min)
    last = datetime.combine(config.end_date, dtime(23, 59, 59))
    return (
        int(np.datetime64(first, "s").astype(np.int64)),
        int(np.datetime64(last, "s").astype(np.int64)),
    )


# --- raw frames ------------------------------------------------------------------------------
def _as_text(values: np.ndarray, decimals: int | None = None) -> np.ndarray:
    """Numbers as a CSV reader would give them: ints without ".0", floats rounded."""
    if decimals is None:
        return values.astype(np.int64).astype(str).astype(object)
    return np.round(values, decimals).astype(str).astype(object)


def _users_frame(users: _Users) -> pd.DataFrame:
    columns = {
        schema.USER_ID: users.ids,
        schema.AGE: _as_text(users.age),
        schema.GENDER: users.gender,
    }
    return pd.DataFrame(columns, columns=schema.USER_COLUMNS)


_DECIMALS = {schema.DURATION: 2, schema.LOUDNESS: 3, schema.TEMPO: 3}


def _tracks_frame(tracks: _Tracks, artists: _Artists) -> pd.DataFrame:
    columns = {
        schema.TRACK_ID: tracks.ids,
        schema.TRACK_NAME: tracks.names,
        schema.ARTIST_NAME: artists.names[tracks.artist],
        schema.FEATURED_ARTISTS: tracks.featured,
        schema.GENRE: np.asarray(GENRE_NAMES, dtype=object)[tracks.genre],
        schema.RELEASE_DATE: tracks.release_date,
    }
    for col in (*schema.AUDIO_FEATURES, schema.DURATION):
        columns[col] = _as_text(tracks.features[col], _DECIMALS.get(col, 4))
    for col in schema.INTEGER_RANGES:
        columns[col] = _as_text(tracks.features[col])
    return pd.DataFrame(columns, columns=schema.TRACK_COLUMNS)


def _plays_frame(plays: _Plays, truth: GroundTruth) -> pd.DataFrame:
    count_text = _as_text(np.arange(plays.plays.max() + 1))  # one string object per distinct count
    columns = {
        schema.USER_ID: truth.user_ids[plays.user],
        schema.TRACK_ID: truth.track_ids[plays.track],
        schema.PLAYS: count_text[plays.plays],
        schema.PLAYED_AT: _timestamp_text(plays.played_at),
    }
    return pd.DataFrame(columns, columns=schema.PLAY_COLUMNS)


def _timestamp_text(stamps: np.ndarray, batch: int = 1_000_000) -> np.ndarray:
    """ "YYYY-MM-DD HH:MM:SS" strings, a batch at a time to bound the temporary memory."""
    text = np.empty(len(stamps), dtype=object)
    for start in range(0, len(stamps), batch):
        iso = np.datetime_as_string(stamps[start : start + batch], unit="s")
        iso.view(np.uint32).reshape(len(iso), -1)[:, 10] = ord(" ")  # "T" -> " "
        text[start : start + batch] = iso
    return text


def _add_provenance(frame: pd.DataFrame, table: str) -> None:
    frame[schema.SOURCE_FILE] = np.full(len(frame), f"synthetic:{table}", dtype=object)
    frame[schema.SOURCE_ROW] = np.arange(1, len(frame) + 1, dtype=np.int64)


# --- dirt ------------------------------------------------------------------------------------
def _inject_dirt(
    frame: pd.DataFrame, table: str, rate: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Spoil ``rate`` of the rows in place, one defect each, and append exact duplicates."""
    kinds = [*_DIRT[table], _DUPLICATE]
    weights = np.array([_KIND_WEIGHTS[kind] for kind in kinds])
    counts = rng.multinomial(round(rate * len(frame)), weights / weights.sum())
    rows = np.split(
        rng.choice(len(frame), size=int(counts.sum()), replace=False), np.cumsum(counts)[:-1]
    )
    rows_by_kind = dict(zip(kinds, rows, strict=True))
    for kind, bad_values in _DIRT[table].items():
        _spoil(frame, rows_by_kind[kind], bad_values, rng)
    duplicates = frame.iloc[np.sort(rows_by_kind[_DUPLICATE])]
    frame = pd.concat([frame, duplicates], ignore_index=True)
    return frame, {kind: len(chosen) for kind, chosen in rows_by_kind.items()}


def _spoil(
    frame: pd.DataFrame,
    rows: np.ndarray,
    bad_values: dict[str, tuple[str | None, ...]],
    rng: np.random.Generator,
) -> None:
    """Overwrite one column per row with one of that column's bad values, in place."""
    columns = list(bad_values)
    column_of_row = rng.integers(len(columns), size=len(rows))
    for i, col in enumerate(columns):
        targets = rows[column_of_row == i]
        values = np.asarray(bad_values[col], dtype=object)
        frame.iloc[targets, frame.columns.get_loc(col)] = values[
            rng.integers(len(values), size=len(targets))
        ]
