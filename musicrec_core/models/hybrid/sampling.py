"""ListNet training lists: each user's plays dealt into target parts and pooled history, with
sampled negatives, and the flat play histories the user tower reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse

from musicrec_core.data.interactions import listeners_per_track
from musicrec_core.models.hybrid.config import TrainConfig


def flat_history(
    plays: sparse.csr_matrix, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows' played item indices one after another, row offsets and ``log1p(plays)`` weights."""
    plays = sparse.csr_matrix(plays, dtype=np.float32)
    plays.eliminate_zeros()
    return (
        torch.as_tensor(plays.indices.astype(np.int64), device=device),
        torch.as_tensor(plays.indptr[:-1].astype(np.int64), device=device),
        torch.as_tensor(np.log1p(plays.data), device=device),
    )


def played_mask(plays: sparse.csr_matrix, device: torch.device) -> torch.Tensor:
    """Dense boolean (n_rows, n_items) mask of the played tracks."""
    mask = torch.zeros(plays.shape, dtype=torch.bool, device=device)
    coo = sparse.coo_matrix(plays)
    mask[torch.as_tensor(coo.row, device=device), torch.as_tensor(coo.col, device=device)] = True
    return mask


@dataclass
class ListBatch:
    """Training lists of a batch of users: history to pool, and listed items with targets."""

    users: np.ndarray  # (B,)
    history: np.ndarray  # (B, H) item indices
    history_weight: np.ndarray  # (B, H), 0 = padding
    items: np.ndarray  # (B, L) item indices
    target: np.ndarray  # (B, L) log1p(plays) of positives, 0 elsewhere
    mask: np.ndarray  # (B, L) real entries
    positive: np.ndarray  # (B, L) positives
    log_draws: np.ndarray  # (B, L) log of each sampled negative's expected draws; 0 elsewhere


class ListSampler:
    """Builds one list per user from a user x item play-count matrix."""

    def __init__(self, plays: sparse.csr_matrix, config: TrainConfig, rng: np.random.Generator):
        self.plays = sparse.csr_matrix(plays)
        self.config = config
        self.rng = rng
        listeners = listeners_per_track(self.plays).astype(float)
        self.known = np.flatnonzero(listeners > 0)
        self.popularity = listeners[self.known] / listeners.sum()
        share = config.popular_negative_share
        uniform = (1 - share) / max(len(self.known), 1)
        self.log_draws = np.zeros(self.plays.shape[1], np.float32)
        self.log_draws[self.known] = np.log(config.negatives * (share * self.popularity + uniform))

    def lists(self) -> tuple[np.ndarray, np.ndarray]:
        """One epoch's lists as (user, part) pairs in a fresh random order.

        Each user's plays are shuffled and dealt into ``round(1 / target_fraction)`` parts (at
        most one per play); every part is one list's positives, the other parts its history,
        so every play is a target once per epoch.
        """
        counts = np.diff(self.plays.indptr)
        rows = np.repeat(np.arange(len(counts)), counts)
        self._order = np.lexsort((self.rng.random(len(rows)), rows))
        n_parts = max(1, round(1 / max(self.config.target_fraction, 1e-3)))
        self._parts = np.minimum(counts, n_parts)
        users = np.repeat(np.arange(len(counts)), self._parts)
        parts = np.arange(len(users)) - np.repeat(np.cumsum(self._parts) - self._parts, self._parts)
        shuffle = self.rng.permutation(len(users))
        return users[shuffle], parts[shuffle]

    def _split(self, user: int, part: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Positions (into the CSR data) of a list's positives and of its history."""
        cfg, rng = self.config, self.rng
        start, stop = self.plays.indptr[user], self.plays.indptr[user + 1]
        if part is None:
            order = rng.permutation(stop - start) + start
            n_target = max(1, round(cfg.target_fraction * len(order)))
            if len(order) == 1 or rng.random() < cfg.history_dropout:
                n_target = len(order)
            return order[: min(n_target, cfg.max_positives)], order[n_target:][: cfg.max_history]
        order = self._order[start:stop]
        if len(order) == 1 or rng.random() < cfg.history_dropout:
            return order[: cfg.max_positives], order[:0]
        n_parts = self._parts[user]
        mine = np.arange(len(order)) % n_parts == part
        return order[mine][: cfg.max_positives], order[~mine][: cfg.max_history]

    def batch(self, users: np.ndarray, parts: np.ndarray | None = None) -> ListBatch:
        """Lists of the given users (and parts from ``lists``; none: a random split each).

        The lists of a batch share their sampled negatives, so the tracks a batch reads, and
        with them the cost of a step, are bounded by its plays and not by the catalogue.
        """
        cfg, rng = self.config, self.rng
        n_neg = cfg.negatives
        n_popular = round(n_neg * cfg.popular_negative_share)
        negatives = np.concatenate(
            [
                rng.choice(self.known, size=n_popular, p=self.popularity),
                rng.choice(self.known, size=n_neg - n_popular),
            ]
        )
        histories, positives = [], []
        for i, user in enumerate(users):
            positive, history = self._split(user, None if parts is None else int(parts[i]))
            positives.append(positive)
            histories.append(history)
        width_h = max(1, max(len(h) for h in histories))
        width_p = max(len(p) for p in positives)
        batch = ListBatch(
            users=users,
            history=np.zeros((len(users), width_h), np.int64),
            history_weight=np.zeros((len(users), width_h), np.float32),
            items=np.zeros((len(users), width_p + n_neg), np.int64),
            target=np.zeros((len(users), width_p + n_neg), np.float32),
            mask=np.zeros((len(users), width_p + n_neg), bool),
            positive=np.zeros((len(users), width_p + n_neg), bool),
            log_draws=np.zeros((len(users), width_p + n_neg), np.float32),
        )
        for row, (user, hist, pos) in enumerate(zip(users, histories, positives, strict=True)):
            batch.history[row, : len(hist)] = self.plays.indices[hist]
            batch.history_weight[row, : len(hist)] = np.log1p(self.plays.data[hist])
            batch.items[row, : len(pos)] = self.plays.indices[pos]
            batch.target[row, : len(pos)] = np.log1p(self.plays.data[pos])
            batch.mask[row, : len(pos)] = True
            batch.positive[row, : len(pos)] = True
            played = self.plays.indices[self.plays.indptr[user] : self.plays.indptr[user + 1]]
            batch.items[row, width_p:] = negatives
            batch.log_draws[row, width_p:] = self.log_draws[negatives]
            batch.mask[row, width_p:] = ~np.isin(negatives, played)
        return batch


def batch_tensors(batch: ListBatch, device: torch.device) -> dict[str, torch.Tensor]:
    return {key: torch.as_tensor(value, device=device) for key, value in vars(batch).items()}
