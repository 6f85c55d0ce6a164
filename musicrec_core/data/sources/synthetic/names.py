"""Word lists and the functions that compose plausible artist names and track titles from them."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def _pick(words: tuple[str, ...] | list[str], n: int, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(words, dtype=object)[rng.integers(len(words), size=n)]


def artist_names(n: int, rng: np.random.Generator) -> np.ndarray:
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


def track_names(n: int, rng: np.random.Generator) -> np.ndarray:
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
