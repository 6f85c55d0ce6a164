"""The models the platform knows by name, so configuration can list them as strings."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.models.content_knn import ContentKNN
from musicrec_core.models.ease import EASE
from musicrec_core.models.elsa import ELSA
from musicrec_core.models.hybrid.recommender import Hybrid
from musicrec_core.models.item_knn import ItemKNN
from musicrec_core.models.low_rank_ease import LowRankEASE
from musicrec_core.models.popularity import Popularity, SegmentPopularity
from musicrec_core.models.recommender import Recommender

BASELINES = (
    "popularity",
    "segment_popularity",
    "content_knn",
    "item_knn",
    "ease",
    "low_rank_ease",
)

_FACTORIES: dict[str, Callable[[MusicPreprocessor | None], Recommender]] = {
    "popularity": lambda _: Popularity(),
    "segment_popularity": lambda _: SegmentPopularity(),
    "content_knn": lambda pre: ContentKNN(preprocessor=pre),
    "item_knn": lambda _: ItemKNN(),
    "ease": lambda _: EASE(),
    "low_rank_ease": lambda _: LowRankEASE(),
    "elsa": lambda _: ELSA(),
    "hybrid": lambda pre: Hybrid(preprocessor=pre),
}


def build_models(
    names: Sequence[str], preprocessor: MusicPreprocessor | None = None
) -> dict[str, Recommender]:
    """Unfitted models by name; an unknown name is an error that lists the known ones."""
    unknown = [n for n in names if n not in _FACTORIES]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; known: {', '.join(_FACTORIES)}")
    return {name: _FACTORIES[name](preprocessor) for name in names}
