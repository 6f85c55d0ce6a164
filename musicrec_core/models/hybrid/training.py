"""Training loop of the HybridRecommender: ListNet lists per user, early stopping on NDCG@10.

Each epoch shuffles every user's plays and deals them into ``round(1 / target_fraction)``
parts; each part is one list's positives (target ``log1p(plays)``), next to sampled negatives
(half uniformly over played tracks, half in proportion to listeners, each scored less the log
of how often it is drawn), and the other parts are the history the user tower pools, so every
play is a target once per epoch and the model learns to predict held-out plays rather than copy
its input. A share of lists drop the history (demographics only), as cold-start users have
none. Both stages are trained on the same lists: the dot product of the towers and the head."""

from __future__ import annotations

import copy
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
import torch
from scipy import sparse
from tqdm.auto import tqdm

from musicrec_core.metrics import ndcg_of_rows
from musicrec_core.models.hybrid.content_similarity import ContentSimilarity
from musicrec_core.models.hybrid.fusion import ContentBoost
from musicrec_core.models.hybrid.item_item import ItemItemScores
from musicrec_core.models.hybrid.loss import EnhancedListNetLoss
from musicrec_core.models.hybrid.network import HybridRecommender
from musicrec_core.models.hybrid.two_stage import two_stage_top

logger = logging.getLogger(__name__)

EpochCallback = Callable[[int, dict], None]
VAL_K = 10
VAL_NDCG = f"val_ndcg@{VAL_K}"
VAL_CONTENT = f"val_content_ndcg@{VAL_K}"
VAL_STOP = "val_stopping_score"  # what early stopping and the learning-rate schedule follow


@dataclass
class TrainConfig:
    """Hyper-parameters of the hybrid model and its training.

    The design's values: batches of 128 lists (validation 64), embedding size 32, learning
    rate 0.01, 20 epochs; the rest are this implementation's choices. Every epoch deals each
    user's plays into ``round(1 / target_fraction)`` lists' positives (at most
    ``max_positives`` each), next to ``negatives`` sampled tracks; ``history_dropout`` of the
    lists keep no history; ``item_id_dropout`` / ``user_id_dropout`` replace ids by "unknown" so
    content and demographics carry the vectors; the head (``head_dim`` wide,
    ``n_blocks`` residual blocks) learns on the ``rerank_list`` best dot scores of each list's
    user and re-ranks the ``n_candidates`` best when serving. EASE item-item scores
    (``item_item_l2``, factored to ``item_item_rank``, None: the λ and then the rank with the
    best EASE NDCG@10 on the validation plays; none above ``item_item_max_tracks`` played
    tracks) are
    fused with the head's scores of the candidates at ``item_item_weight`` and into retrieval at
    ``item_item_retrieval_weight`` (None: the best on the validation plays, chosen in that
    order; 0: not in that stage). Tracks known by content alone (new tracks) are ranked by
    their dot scores fused with their content similarity to the user's plays at
    ``content_weight`` (None: the best on the validation plays ranked by content alone; 0: no
    fusion). ``sampling_correction`` subtracts each sampled negative's log expected draws from
    its retrieval score (the sampled-softmax correction), so that the dot product learns the
    softmax over the whole catalogue rather than one tilted against the popular tracks that the
    negatives over-represent. ``device``: "auto" picks CUDA.

    Measured on the demo catalogue (warm NDCG@10, 12 epochs): temperature 3 beat 1 (0.082 vs
    0.074), embedding size 32 beat 64 (0.082 vs 0.061) and a user-id embedding with dropout 0.5
    beat none (0.082 vs 0.063). Later (docs/benchmarks.md): every play a target once per epoch
    lifted Echo Nest from 0.056 to 0.066; a 32-wide one-block head over 50 candidates serves in
    about 2.5x the bare matrix multiply; the item-item fusion lifted warm NDCG@10 by a tenth on
    both data sets, and fused into retrieval too, it took Echo Nest past EASE, at which point
    fixed collaborative factors (a truncated SVD of the plays) in the towers no longer helped
    and were dropped. With the fusion no ILS weight lowers warm genre ILS@10 by 15% for at
    most 3% of NDCG@10 (means of three seeds: 30 -15% for -6.2%; 1 -7% at no warm cost but
    new users -0.006), so the default stays 0.01 and serving diversifies by MMR.
    Early stopping follows ``stopping_score`` with patience 5, so that the learning rate is
    cut tenfold twice before training gives up: patience 3 kept a lucky early epoch at the first
    learning rate in some seeds (new-track NDCG@10 0.142 against 0.161 on the demo). The
    content fusion lifted new tracks from 0.171 to 0.193 on the demo and from 0.098 to 0.150
    on Echo Nest, past content kNN (0.156 and 0.122), and costs serving about 50 ms of the
    demo's 140 (4.5x the bare matrix multiply)."""

    batch_size: int = 128
    val_batch_size: int = 64
    epochs: int = 20
    embedding_dim: int = 32
    hidden_dim: int = 128
    n_blocks: int = 1
    head_dim: int = 32
    dropout: float = 0.1
    learning_rate: float = 0.01
    weight_decay: float = 1e-5
    negatives: int = 500
    rerank_list: int = 100
    popular_negative_share: float = 0.5
    max_positives: int = 30
    max_history: int = 200
    target_fraction: float = 0.3
    history_dropout: float = 0.1
    item_id_dropout: float = 0.25
    user_id_dropout: float = 0.5
    patience: int = 5
    ils_weight: float = 0.01
    temperature: float = 3.0
    grad_clip: float = 5.0
    sampling_correction: bool = True
    n_candidates: int = 50
    item_item_weight: float | None = None
    item_item_retrieval_weight: float | None = None
    item_item_l2: float | None = None
    item_item_rank: int | None = None
    item_item_max_tracks: int = 30_000
    content_weight: float | None = None
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def to_dict(self) -> dict:
        """The config as plain JSON-able values."""
        return asdict(self)


def resolve_device(name: str = "auto") -> torch.device:
    """CUDA when available for "auto", else the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Fix torch's and numpy's global generators (model initialisation, dropout)."""
    torch.manual_seed(seed)
    np.random.seed(seed)


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
        listeners = np.diff(sparse.csc_matrix(self.plays).indptr).astype(float)
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
        """Lists of the given users (and parts from ``lists``; none: a random split each)."""
        cfg, rng = self.config, self.rng
        n_neg = cfg.negatives
        n_popular = round(n_neg * cfg.popular_negative_share)
        negatives = np.concatenate(
            [
                rng.choice(self.known, size=(len(users), n_popular), p=self.popularity),
                rng.choice(self.known, size=(len(users), n_neg - n_popular)),
            ],
            axis=1,
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
            batch.items[row, width_p:] = negatives[row]
            batch.log_draws[row, width_p:] = self.log_draws[negatives[row]]
            batch.mask[row, width_p:] = ~np.isin(negatives[row], played)
        return batch


def _tensors(batch: ListBatch, device: torch.device) -> dict[str, torch.Tensor]:
    return {key: torch.as_tensor(value, device=device) for key, value in vars(batch).items()}


def _batch_loss(
    model: HybridRecommender,
    batch: dict[str, torch.Tensor],
    played: torch.Tensor,
    loss_fn: EnhancedListNetLoss,
    similarity: Sequence[torch.Tensor],
    config: TrainConfig,
) -> dict[str, torch.Tensor]:
    """Loss of both stages on a batch of lists.

    Retrieval: the dot product over the list (positives and sampled negatives). Re-ranking: the
    head over the ``rerank_list`` best dot scores outside the history, positives being the
    held-out plays among them: the candidates the head sees when serving. The ILS term applies
    to the head's ranking.
    """
    table = model.item_vectors(id_dropout=config.item_id_dropout)
    users = model.user_vectors(
        batch["users"],
        batch["history"],
        batch["history_weight"],
        table,
        id_dropout=config.user_id_dropout,
    )
    listed = table[batch["items"]]
    dot = (users[:, None, :] * listed[..., : model.dim]).sum(-1) + listed[..., model.dim]
    if config.sampling_correction:  # times the temperature the loss divides by
        dot = dot - config.temperature * batch["log_draws"]
    retrieval = loss_fn(dot, batch["target"], batch["mask"], batch["positive"])

    with torch.no_grad():
        gains = torch.zeros(played.shape, device=played.device)
        listed_gains = torch.where(batch["positive"], batch["target"], 0.0)
        gains.scatter_reduce_(1, batch["items"], listed_gains, reduce="amax")  # duplicates
        is_target = gains > 0
        full = model.dot(users, table).masked_fill(played & ~is_target, float("-inf"))
        items = full.topk(min(config.rerank_list, full.shape[1]), dim=1).indices
        positive = is_target.gather(1, items)
        target = gains.gather(1, items)
        mask = torch.isfinite(full.gather(1, items))
    head = model(users, table[items])
    feats = [block[items] for block in similarity]
    # Only lists with a history are diversified: a listener known by demographics alone gets
    # the surest tracks for them, not a spread (the penalty cost new users a fifth of their
    # NDCG@10 at weights where it pays for warm ones).
    has_history = batch["history_weight"].sum(dim=1) > 0
    rerank = loss_fn(head, target, mask, positive, features=feats, diversify=has_history)
    return {
        "listnet": retrieval.listnet + rerank.listnet,
        "ils": rerank.ils,
        "total": retrieval.total + rerank.total,
    }


@torch.no_grad()
def validation_ndcg(
    model: HybridRecommender,
    plays: sparse.csr_matrix,
    validation: sparse.csr_matrix,
    config: TrainConfig,
    device: torch.device,
    item_item: ItemItemScores | None = None,
    item_item_weight: float = 0.0,
    item_item_retrieval_weight: float = 0.0,
    content_only: bool = False,
    content: ContentSimilarity | None = None,
    content_weight: float = 0.0,
) -> float:
    """Mean binary NDCG@10 of the two-stage ranking over users with validation plays, the head
    fused with ``item_item`` scores at ``item_item_weight`` and retrieval at
    ``item_item_retrieval_weight``. With ``content_only``: of the towers' dot product alone
    with every track's vector from content alone, as new tracks are ranked, fused with
    ``content`` similarity at ``content_weight``."""
    model.eval()
    users = np.flatnonzero(np.diff(validation.indptr) > 0)
    if not len(users):
        return float("nan")
    table = model.item_vectors()
    candidates = model.item_vectors(id_dropout=1.0) if content_only else table
    total = 0.0
    for start in range(0, len(users), config.val_batch_size):
        rows = users[start : start + config.val_batch_size]
        block = plays[rows]
        index, offsets, weight = flat_history(block, device)
        users_t = torch.as_tensor(rows, device=device)
        vectors = model.user_vectors_flat(users_t, index, offsets, weight, table)
        coo = block.tocoo()
        exclude = (
            torch.as_tensor(coo.row.astype(np.int64), device=device),
            torch.as_tensor(coo.col.astype(np.int64), device=device),
        )
        n_candidates = 0 if content_only else config.n_candidates
        evidence = None
        if item_item is not None and not content_only:
            evidence = item_item.evidence(
                index, offsets, item_item_weight, item_item_retrieval_weight
            )
        boost = None
        if content_only and content is not None and content_weight > 0:
            every = torch.arange(model.n_items, device=device)
            similarity = partial(content.scores, block, every.cpu().numpy(), device)
            boost = ContentBoost(every, similarity, content_weight)
        top = two_stage_top(
            model, vectors, candidates, exclude, n_candidates, VAL_K, evidence, boost
        )[0]
        total += float(ndcg_of_rows(top.cpu().numpy(), validation[rows]).sum())
    return total / len(users)


@torch.no_grad()
def item_item_validation_ndcg(
    item_item: ItemItemScores,
    plays: sparse.csr_matrix,
    validation: sparse.csr_matrix,
    config: TrainConfig,
    device: torch.device,
) -> float:
    """Mean binary NDCG@10 of the item-item scores alone, over users with validation plays."""
    users = np.flatnonzero(np.diff(validation.indptr) > 0)
    if not len(users):
        return float("nan")
    total = 0.0
    for start in range(0, len(users), config.val_batch_size):
        rows = users[start : start + config.val_batch_size]
        block = plays[rows]
        index, offsets, _ = flat_history(block, device)
        evidence = item_item.evidence(index, offsets)
        scores = (evidence.pooled @ evidence.targets.T).masked_fill(
            played_mask(block, device), float("-inf")
        )
        top = scores.topk(min(VAL_K, scores.shape[1]), dim=1).indices
        total += float(ndcg_of_rows(top.cpu().numpy(), validation[rows]).sum())
    return total / len(users)


def stopping_score(metrics: dict) -> float:
    """Mean validation NDCG@10 of the served ranking and of the content path.

    New tracks are ranked by the content path alone, which settles later than the served
    ranking: signals without it kept early epochs whose new-track NDCG@10 was 0.14 where the
    settled model gives 0.17-0.19 on the demo.
    """
    return float(np.mean([metrics[key] for key in (VAL_NDCG, VAL_CONTENT) if key in metrics]))


def train(
    model: HybridRecommender,
    plays: sparse.csr_matrix,
    validation: sparse.csr_matrix | None,
    config: TrainConfig,
    similarity: Sequence[np.ndarray] = (),
    on_epoch: EpochCallback | None = None,
) -> list[dict]:
    """Train ``model`` in place on a user x item play-count matrix; returns per-epoch metrics.

    ``validation`` (same shape) holds each user's validation plays: the weights of the epoch
    with the best ``stopping_score`` are kept, training stops after ``patience`` epochs without
    improvement. ``similarity``: per-item feature blocks (n_items, dim) for the ILS term.
    """
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.utils.deterministic.fill_uninitialized_memory,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)  # embedding gradients, CPU threads
    # Every tensor is written before it is read: filling new memory with NaN only costs time.
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        return _train(model, plays, validation, config, similarity, on_epoch)
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.utils.deterministic.fill_uninitialized_memory = previous[2]


def _train(
    model: HybridRecommender,
    plays: sparse.csr_matrix,
    validation: sparse.csr_matrix | None,
    config: TrainConfig,
    similarity: Sequence[np.ndarray],
    on_epoch: EpochCallback | None,
) -> list[dict]:
    device = resolve_device(config.device)
    seed_everything(config.seed)
    rng = np.random.default_rng(config.seed)
    model.to(device)
    model.item_known[:] = torch.as_tensor(np.diff(sparse.csc_matrix(plays).indptr) > 0)
    sampler = ListSampler(plays, config, rng)
    blocks = [torch.as_tensor(np.asarray(b, np.float32), device=device) for b in similarity]
    loss_fn = EnhancedListNetLoss(config.ils_weight, config.temperature)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", patience=1)
    show = config.progress and sys.stderr.isatty()
    history: list[dict] = []
    best, best_state, stale = -np.inf, None, 0
    bar = tqdm(range(1, config.epochs + 1), desc="hybrid", unit="epoch", disable=not show)
    for epoch in bar:
        started = time.perf_counter()
        model.train()
        sums = {"listnet": 0.0, "ils": 0.0, "total": 0.0}
        order, parts_all = sampler.lists()
        n_batches = 0
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            if len(rows) < 2:  # BatchNorm needs two samples
                continue
            part = None if parts_all is None else parts_all[start : start + config.batch_size]
            batch = _tensors(sampler.batch(rows, part), device)
            played = played_mask(plays[rows], device)
            parts = _batch_loss(model, batch, played, loss_fn, blocks, config)
            optimizer.zero_grad()
            parts["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            for key in sums:
                sums[key] += float(parts[key].detach())
            n_batches += 1
        metrics = {"epoch": epoch, **{k: v / max(n_batches, 1) for k, v in sums.items()}}
        if validation is not None:
            metrics[VAL_NDCG] = validation_ndcg(model, plays, validation, config, device)
            metrics[VAL_CONTENT] = validation_ndcg(
                model, plays, validation, config, device, content_only=True
            )
            metrics[VAL_STOP] = stopping_score(metrics)
        metrics["lr"] = optimizer.param_groups[0]["lr"]
        metrics["seconds"] = round(time.perf_counter() - started, 3)
        history.append(metrics)
        logger.info("hybrid epoch %d: %s", epoch, metrics)
        bar.set_postfix({k: round(v, 4) for k, v in metrics.items() if k != "epoch"})
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        score = metrics.get(VAL_STOP, -metrics["total"])
        if score > best:
            best, best_state, stale = score, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
        if validation is not None:
            scheduler.step(score)
            if stale >= config.patience:
                logger.info(
                    "hybrid: early stop after epoch %d (best %s %.4f)", epoch, VAL_STOP, best
                )
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
