"""The seeded synthetic catalogue: users, tracks and plays with known tastes."""

from musicrec_core.data.sources.synthetic.config import SyntheticConfig
from musicrec_core.data.sources.synthetic.generator import SyntheticCatalogue, generate
from musicrec_core.data.sources.synthetic.genres import GENRE_NAMES
from musicrec_core.data.sources.synthetic.truth import GroundTruth

__all__ = ["GENRE_NAMES", "GroundTruth", "SyntheticCatalogue", "SyntheticConfig", "generate"]
