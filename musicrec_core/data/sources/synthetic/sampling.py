"""Vectorised sampling helpers shared by the tastes, the catalogue and the plays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def draw_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row of ``probs``, drawn with the row's probabilities."""
    below = rng.random((len(probs), 1)) > np.cumsum(probs, axis=1)
    return np.minimum(below.sum(axis=1), probs.shape[1] - 1)


@dataclass(frozen=True)
class GroupedSampler:
    """Draws a member of a given group with probability proportional to the member's weight."""

    members: np.ndarray  # member indices ordered by group
    keys: np.ndarray  # group + cumulative share of the group's weight, ascending
    totals: np.ndarray  # total weight per group

    @classmethod
    def build(cls, groups: np.ndarray, weights: np.ndarray, n_groups: int) -> GroupedSampler:
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
