"""The hybrid's fusion weights and how one is chosen: the best validation NDCG@10 of a few
candidates, with every candidate's score kept for the model's metadata."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import numpy as np

logger = logging.getLogger(__name__)

Number = TypeVar("Number", int, float)

# Item-item fusion weights tried on the validation plays with the chosen EASE rank.
ITEM_ITEM_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
# Content similarity weights tried on the validation plays ranked by content alone.
# No 0: validation tracks are known to the content towers through their own plays, which new
# tracks are not, so that ranking undervalues the similarity. It chose 0 over 0.25 by a few
# thousandths of validation NDCG@10 in some trainings whose new tracks gained a twentieth from
# 0.25 (docs/benchmarks.md); set ``content_weight`` 0 to serve without it.
CONTENT_WEIGHTS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def best_choice(
    name: str, options: tuple[Number, ...], measure: Callable[[Number], float]
) -> tuple[Number, dict[Number, float]]:
    """The option with the best validation NDCG@10 (the first when none could be measured)
    and every option's score."""
    scores = {option: measure(option) for option in options}
    measured = {o: v for o, v in scores.items() if np.isfinite(v)}
    best = max(measured, key=measured.get) if measured else options[0]
    logger.info(
        "hybrid: %s %g chosen on validation NDCG@10 %s",
        name,
        best,
        {o: round(v, 4) for o, v in scores.items()},
    )
    return best, scores
