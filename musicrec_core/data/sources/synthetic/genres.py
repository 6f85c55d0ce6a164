"""The genre table: audio, era and listener parameters per genre, and the catalogue's first year.

Artists, tracks and tastes are all drawn from these per-genre parameters."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


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
GENRES = tuple(_Genre(*row) for row in _GENRE_TABLE)
GENRE_NAMES: tuple[str, ...] = tuple(g.name for g in GENRES)
MIN_YEAR = 1960


def genre_param(name: str) -> np.ndarray:
    return np.array([getattr(g, name) for g in GENRES], dtype=float)
