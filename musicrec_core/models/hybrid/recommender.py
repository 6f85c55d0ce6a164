"""The hybrid deep model as a ``Recommender``: two-tower retrieval, then a re-ranking head.

``score`` returns full-catalogue scores whose order is the served two-stage ranking: the
``n_candidates`` best tracks (not played in training) by the towers' dot product fused with
EASE item-item scores from the user's plays are re-ranked by the head, fused with the same
scores, and placed above every other track, which keep their retrieval score. EASE's λ and
rank and the two fusion weights are chosen on the validation plays.
Never-played tracks score from content, their dot scores fused with their content similarity
to the user's plays (also at a weight chosen on validation); users without plays score from
demographics, and
``recommend_with_history`` takes a new user's plays with no retraining. ``recommend`` takes
the same ranking's top k without building full score matrices. ``save`` keeps the model's own
preprocessor, and ``load`` serves over grown or changed catalogues.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from musicrec_core.data.interactions import InteractionMatrix, holdout
from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.models.hybrid.content_similarity import ContentSimilarity
from musicrec_core.models.hybrid.fusion import (
    ContentBoost,
    ItemItemEvidence,
    boost_content,
    fuse,
    retrieval_items,
)
from musicrec_core.models.hybrid.inputs import CatalogueInputs
from musicrec_core.models.hybrid.item_item import ItemItemScores
from musicrec_core.models.hybrid.network import HybridRecommender
from musicrec_core.models.hybrid.training import (
    TrainConfig,
    flat_history,
    item_item_validation_ndcg,
    played_mask,
    resolve_device,
    seed_everything,
    train,
    validation_ndcg,
)
from musicrec_core.models.hybrid.two_stage import (
    build_retrieval,
    head_scores,
    two_stage,
    two_stage_top,
)
from musicrec_core.models.neighbours import choose_ease_l2, weighted_matrix
from musicrec_core.models.recommender import Recommendations, Recommender, TrainingData

logger = logging.getLogger(__name__)

History = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # flat_history's index, offsets, weight
Number = TypeVar("Number", int, float)

WEIGHTS_FILE = "model.pt"
META_FILE = "model.json"
METRICS_FILE = "metrics.json"
PREPROCESSOR_DIR = "preprocessor"  # the model's own fitted MusicPreprocessor
# What the saved weights fit: 2 since the user tower reads the age itself (model.age_basis) and
# the towers carry no fixed collaborative factors, 3 since the item tower has a wide path.
MODEL_FORMAT = 3
BLOCK_SCORES = 1 << 24  # user x track scores per block (64 MB) when scoring many users
SIMILARITY_DIM = 64  # random projection of the wide TF-IDF blocks for the ILS term
# EASE ranks tried on the validation plays (by EASE's own NDCG@10) when the config leaves it
# open, and item-item fusion weights tried there with the chosen rank.
ITEM_ITEM_RANKS = (64, 256, 1024)
ITEM_ITEM_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
# Content similarity weights tried on the validation plays ranked by content alone.
# No 0: validation tracks are known to the content towers through their own plays, which new
# tracks are not, so that ranking undervalues the similarity. It chose 0 over 0.25 by a few
# thousandths of validation NDCG@10 in some trainings whose new tracks gained a twentieth from
# 0.25 (docs/benchmarks.md); set ``content_weight`` 0 to serve without it.
CONTENT_WEIGHTS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class Hybrid(Recommender):
    """HybridRecommender trained with EnhancedListNetLoss, served in two stages."""

    name = "hybrid"
    test_sets = ("warm", "cold_user", "cold_track")

    def __init__(
        self,
        config: TrainConfig | None = None,
        preprocessor: MusicPreprocessor | None = None,
        validation: pd.DataFrame | None = None,
        on_epoch: Callable[[int, dict], None] | None = None,
    ) -> None:
        """``validation``: the split's VALIDATION rows (schema play columns) for early stopping;
        ``on_epoch(epoch, metrics)`` is called after every epoch."""
        self.config = config or TrainConfig()
        self.preprocessor = preprocessor
        self.validation = validation
        self.on_epoch = on_epoch
        self.history: list[dict] = []
        self._item_table: torch.Tensor | None = None
        self._unplayed: torch.Tensor | None = None
        self.item_item: ItemItemScores | None = None
        self.item_item_l2: float | None = None
        self.item_item_l2_validation: dict[float, float] = {}
        self.item_item_rank = 0
        self.item_item_rank_validation: dict[int, float] = {}
        self.item_item_weight = 0.0
        self.item_item_validation: dict[float, float] = {}
        self.item_item_retrieval_weight = 0.0
        self.item_item_retrieval_validation: dict[float, float] = {}
        self.content: ContentSimilarity | None = None
        self.content_weight = 0.0
        self.content_validation: dict[float, float] = {}

    # --- fitting -----------------------------------------------------------------------------

    def _fit(self, data: TrainingData) -> None:
        cfg = self.config
        self.device = resolve_device(cfg.device)
        # A private copy: a later refit of the caller's preprocessor cannot change this model.
        preprocessor = copy.deepcopy(self.preprocessor) or _own_preprocessor(data.tracks)
        self.preprocessor = preprocessor
        inputs = CatalogueInputs.build(data.tracks, data.users, preprocessor)
        seed_everything(cfg.seed)
        self.model = _new_model(inputs, cfg)
        plays = data.matrix.matrix
        if self.validation is not None:
            validation = InteractionMatrix.build(
                self.validation, data.matrix.user_ids, data.matrix.track_ids
            ).matrix
        else:
            plays, validation = holdout(plays, np.random.default_rng(cfg.seed))
        similarity = similarity_blocks(inputs, cfg.seed)
        self._item_table = self._unplayed = None
        self.history = train(self.model, plays, validation, cfg, similarity, self.on_epoch)
        self.shapes = inputs.shapes()
        self._fit_item_item(plays, validation)
        self._fit_content(data, plays, validation)
        if self._fuses_item_item() and plays is not data.matrix.matrix:
            # chosen without the internal holdout; served, as after ``load``, with every play
            self.item_item = _item_item_scores(
                cfg, data.matrix.matrix, self.device, self.item_item_l2, self.item_item_rank
            )

    def _fit_item_item(self, plays: sparse.csr_matrix, validation: sparse.csr_matrix) -> None:
        """EASE on the training plays, its λ, rank and the weights fusing it into either stage:
        the config's, or the best λ (``choose_ease_l2``) and then the best of
        ``ITEM_ITEM_RANKS`` by EASE's own NDCG@10 on the validation plays, then the best of
        ``ITEM_ITEM_WEIGHTS`` for the hybrid's there, with the head first and then in retrieval
        (0 where none helps)."""
        cfg = self.config
        self.item_item, self.item_item_rank = None, 0
        self.item_item_weight = self.item_item_retrieval_weight = 0.0
        if cfg.item_item_weight == 0 and cfg.item_item_retrieval_weight == 0:
            return
        self.item_item_l2 = cfg.item_item_l2
        if self.item_item_l2 is None:
            try:
                self.item_item_l2, self.item_item_l2_validation = choose_ease_l2(
                    weighted_matrix(plays, "binary"), validation, cfg.item_item_max_tracks
                )
            except ValueError as error:
                logger.warning("hybrid serves without item-item scores: %s", error)
                return
        fitted = _item_item_scores(cfg, plays, self.device, self.item_item_l2)
        if fitted is None:
            return
        ranks = ITEM_ITEM_RANKS if cfg.item_item_rank is None else (cfg.item_item_rank,)
        rank = ranks[0]
        if len(ranks) > 1:
            rank, self.item_item_rank_validation = _best_choice(
                "item-item rank",
                ranks,
                lambda r: item_item_validation_ndcg(
                    fitted.truncated(r), plays, validation, cfg, self.device
                ),
            )
        self.item_item, self.item_item_rank = fitted.truncated(rank), rank
        measure = self._validation(plays, validation, item_item=self.item_item)
        if cfg.item_item_weight is None:
            self.item_item_weight, self.item_item_validation = _best_choice(
                "item-item weight",
                ITEM_ITEM_WEIGHTS,
                lambda weight: measure(item_item_weight=weight),
            )
        else:
            self.item_item_weight = cfg.item_item_weight
        if cfg.item_item_retrieval_weight is None:
            self.item_item_retrieval_weight, self.item_item_retrieval_validation = _best_choice(
                "item-item retrieval weight",
                ITEM_ITEM_WEIGHTS,
                lambda weight: measure(
                    item_item_weight=self.item_item_weight, item_item_retrieval_weight=weight
                ),
            )
        else:
            self.item_item_retrieval_weight = cfg.item_item_retrieval_weight

    def _fuses_item_item(self) -> bool:
        return self.item_item is not None and (
            self.item_item_weight > 0 or self.item_item_retrieval_weight > 0
        )

    def _fit_content(
        self, data: TrainingData, plays: sparse.csr_matrix, validation: sparse.csr_matrix
    ) -> None:
        """Content vectors for the similarity of new tracks to a user's plays, and its weight:
        the config's, or the best of ``CONTENT_WEIGHTS`` on the validation plays ranked by
        content alone (as new tracks are)."""
        cfg = self.config
        self.content, self.content_weight = None, 0.0
        if cfg.content_weight == 0:
            return
        self.content = ContentSimilarity.fit(data, self.preprocessor)
        if self.content is None:
            return
        if cfg.content_weight is not None:
            self.content_weight = cfg.content_weight
            return
        measure = self._validation(plays, validation, content_only=True, content=self.content)
        self.content_weight, self.content_validation = _best_choice(
            "content weight", CONTENT_WEIGHTS, lambda weight: measure(content_weight=weight)
        )

    def _validation(
        self, plays: sparse.csr_matrix, validation: sparse.csr_matrix, **fixed
    ) -> Callable[..., float]:
        """The trained model's validation NDCG@10 with the ``fixed`` options, as a function of
        the option a weight search sweeps."""
        return partial(
            validation_ndcg, self.model, plays, validation, self.config, self.device, **fixed
        )

    # --- vectors and scores ------------------------------------------------------------------

    @torch.no_grad()
    def item_table(self) -> torch.Tensor:
        """Item vectors with bias (n_tracks, dim + 1) on the model's device, cached."""
        if self._item_table is None:
            self.model.eval()
            self._item_table = self.model.item_vectors()
        return self._item_table

    def item_vectors(self) -> np.ndarray:
        """(n_tracks, width) retrieval vectors of the tracks: the towers' with the item bias,
        then EASE's target factors when the model fuses them."""
        fused = self.item_item is not None and self.item_item_retrieval_weight > 0
        targets = self.item_item.targets if fused else None
        return retrieval_items(self.item_table(), targets).cpu().numpy()

    @torch.no_grad()
    def _user_vectors(self, user_ids: np.ndarray, history: History) -> torch.Tensor:
        """User vectors from the given plays (``flat_history``) and the users' demographics."""
        self.model.eval()
        rows = self.data.matrix.user_index(user_ids)
        index, offsets, weight = history
        return self.model.user_vectors_flat(
            torch.as_tensor(rows, device=self.device), index, offsets, weight, self.item_table()
        )

    def _evidence(self, history: History) -> ItemItemEvidence | None:
        """The item-item scores from the given plays, if the model fuses them."""
        if not self._fuses_item_item():
            return None
        return self.item_item.evidence(
            history[0], history[1], self.item_item_weight, self.item_item_retrieval_weight
        )

    def _boost(self, plays: sparse.csr_matrix) -> ContentBoost | None:
        """The content similarity of the never-played tracks to the given play rows, if the
        model fuses it."""
        if self.content is None or self.content_weight <= 0:
            return None
        columns = self._never_played()
        if not len(columns):
            return None
        similarity = partial(self.content.scores, plays, columns.cpu().numpy(), self.device)
        return ContentBoost(columns, similarity, self.content_weight)

    def _never_played(self) -> torch.Tensor:
        """Indices of the tracks nobody has played in the data served over, cached: the ones
        content similarity ranks. Tracks played since training, though known to the model by
        content alone, rank by their dot scores and co-play evidence instead, and do not take
        the places of tracks that have no plays at all."""
        if self._unplayed is None:
            listeners = np.diff(sparse.csc_matrix(self.data.matrix.matrix).indptr)
            unplayed = (listeners == 0) & ~self.model.item_known.cpu().numpy()
            self._unplayed = torch.as_tensor(np.flatnonzero(unplayed), device=self.device)
        return self._unplayed

    def user_vectors(self, user_ids: np.ndarray | list) -> np.ndarray:
        """(n_users, width) retrieval vectors of the users from their training plays:
        ``user_vectors @ item_vectors.T`` are the retrieval scores (see
        ``HybridRecommender.retrieval``)."""
        user_ids = np.asarray(user_ids, dtype=object)
        history = flat_history(self._training_rows(user_ids), self.device)
        vectors = self._user_vectors(user_ids, history)
        retrieval = build_retrieval(self.model, vectors, self.item_table(), self._evidence(history))
        return retrieval.users.cpu().numpy()

    def _training_rows(self, user_ids: np.ndarray) -> sparse.csr_matrix:
        rows = self.data.matrix.user_index(user_ids)
        if (rows >= 0).all():
            return self.data.matrix.matrix[rows]
        known = np.flatnonzero(rows >= 0)
        picked = self.data.matrix.matrix[rows[known]].tocoo()
        return sparse.csr_matrix(
            (picked.data, (known[picked.row], picked.col)),
            shape=(len(user_ids), self.data.matrix.matrix.shape[1]),
        )

    def _blocks(self, n_users: int) -> range:
        """Starts of user blocks whose score matrices stay around 64 MB."""
        step = max(self.config.val_batch_size, BLOCK_SCORES // max(self.model.n_items, 1))
        return range(0, n_users, step)

    def _user_blocks(
        self, user_ids: np.ndarray, plays: sparse.csr_matrix
    ) -> Iterator[tuple[slice, sparse.csr_matrix, History, torch.Tensor]]:
        """Blocks of users: their positions, play rows, flat history and user vectors."""
        blocks = self._blocks(len(user_ids))
        for start in blocks:
            span = slice(start, start + blocks.step)
            block = plays[span]
            history = flat_history(block, self.device)
            yield span, block, history, self._user_vectors(user_ids[span], history)

    @torch.no_grad()
    def _two_stage(self, user_ids: np.ndarray, plays: sparse.csr_matrix) -> np.ndarray:
        out = np.empty((len(user_ids), plays.shape[1]), dtype=np.float32)
        for span, block, history, vectors in self._user_blocks(user_ids, plays):
            scores = two_stage(
                self.model,
                vectors,
                self.item_table(),
                played_mask(block, self.device),
                self.config.n_candidates,
                self._evidence(history),
                self._boost(block),
            )
            out[span] = scores.cpu().numpy()
        return out

    @torch.no_grad()
    def _top(
        self, user_ids: np.ndarray, plays: sparse.csr_matrix, k: int, exclude: bool
    ) -> Recommendations:
        """The two-stage top-k from the given play rows, without full score matrices."""
        n = min(k, plays.shape[1])
        index = np.zeros((len(user_ids), n), np.int64)
        values = np.full((len(user_ids), n), -np.inf)
        for span, block, history, vectors in self._user_blocks(user_ids, plays):
            coo = block.tocoo() if exclude else sparse.coo_matrix(block.shape)
            rows = torch.as_tensor(coo.row.astype(np.int64), device=self.device)
            cols = torch.as_tensor(coo.col.astype(np.int64), device=self.device)
            top, scores = two_stage_top(
                self.model,
                vectors,
                self.item_table(),
                (rows, cols),
                self.config.n_candidates,
                n,
                self._evidence(history),
                self._boost(block),
            )
            index[span] = top.cpu().numpy()
            values[span] = scores.cpu().numpy()
        track_ids = self.data.matrix.track_ids[index]
        if not np.isfinite(values).all():
            track_ids = np.where(np.isfinite(values), track_ids, None)
        return Recommendations(user_ids, track_ids, values)

    def recommend(
        self, user_ids: np.ndarray | list, k: int = 20, exclude_played: bool = True
    ) -> Recommendations:
        """Top-k per user from their plays in ``data`` (never one of them if asked)."""
        user_ids = np.asarray(user_ids, dtype=object)
        return self._top(user_ids, self._training_rows(user_ids), k, exclude_played)

    def score(self, user_ids: np.ndarray) -> np.ndarray:
        user_ids = np.asarray(user_ids, dtype=object)
        return self._two_stage(user_ids, self._training_rows(user_ids))

    @torch.no_grad()
    def rerank(self, user_ids: np.ndarray | list, candidate_idx: np.ndarray) -> np.ndarray:
        """Re-ranking scores (n_users, n_candidates) of catalogue track indices per user: the
        head's on the (content-boosted) dot scores, fused with the item-item scores as in
        serving."""
        user_ids = np.asarray(user_ids, dtype=object)
        rows = self._training_rows(user_ids)
        history = flat_history(rows, self.device)
        vectors = self._user_vectors(user_ids, history)
        items = torch.as_tensor(np.asarray(candidate_idx, dtype=np.int64), device=self.device)
        table = self.item_table()
        dot = boost_content(self.model.dot(vectors, table), self._boost(rows)).gather(1, items)
        weight = self.item_item_weight
        evidence = self._evidence(history) if weight > 0 else None
        head, prior = head_scores(self.model, vectors, table, items, dot, evidence)
        return fuse(head, prior, torch.ones_like(items, dtype=torch.bool), weight).cpu().numpy()

    def recommend_with_history(
        self, user_ids: np.ndarray | list, histories: pd.DataFrame, k: int = 20
    ) -> Recommendations:
        """Top-k for users known by the plays given here (schema play columns) plus their
        demographics when ``data.users`` has them; the given plays are never recommended."""
        user_ids = np.asarray(user_ids, dtype=object)
        given = InteractionMatrix.build(histories, user_ids, self.data.matrix.track_ids).matrix
        return self._top(user_ids, given, k, exclude=True)

    # --- persistence -------------------------------------------------------------------------

    def save(self, folder: Path | str, metrics: dict | None = None) -> Path:
        """Weights (``torch.save`` of the state dict), config, id maps, training history and the
        model's own fitted preprocessor (sub-folder ``preprocessor``)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), folder / WEIGHTS_FILE)
        if self.preprocessor is not None:
            self.preprocessor.save_preprocessors(folder / PREPROCESSOR_DIR)
        meta = {
            "format": MODEL_FORMAT,
            "config": self.config.to_dict(),
            "shapes": self.shapes,
            "user_ids": [str(u) for u in self.data.matrix.user_ids],
            "track_ids": [str(t) for t in self.data.matrix.track_ids],
            "history": self.history,
            "item_item_l2": self.item_item_l2,
            "item_item_l2_validation": {
                str(l2): v for l2, v in self.item_item_l2_validation.items()
            },
            "item_item_rank": self.item_item_rank,
            "item_item_rank_validation": {
                str(r): v for r, v in self.item_item_rank_validation.items()
            },
            "item_item_weight": self.item_item_weight,
            "item_item_validation": {str(w): v for w, v in self.item_item_validation.items()},
            "item_item_retrieval_weight": self.item_item_retrieval_weight,
            "item_item_retrieval_validation": {
                str(w): v for w, v in self.item_item_retrieval_validation.items()
            },
            "content_weight": self.content_weight,
            "content_validation": {str(w): v for w, v in self.content_validation.items()},
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=1))
        if metrics is not None:
            (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=1, default=str))
        logger.info("saved hybrid model to %s", folder)
        return folder

    @classmethod
    def load(
        cls, folder: Path | str, data: TrainingData, preprocessor: MusicPreprocessor | None = None
    ) -> Hybrid:
        """A fitted model from ``save``'s folder, serving over ``data``.

        ``data``'s catalogues may differ from training (tracks and users added or removed):
        known ids keep their learned embeddings, new tracks get content-only vectors through
        the saved preprocessor, new users the unknown user id. All of ``data.interactions``
        are the users' histories, and the item-item scores are refitted on them (so tracks
        played since training have co-play evidence too), the content vectors on
        ``data.tracks``. ``preprocessor`` is only used for folders saved without one; with
        neither, new tracks are ranked without their content similarity.
        """
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text())
        saved_format = meta.get("format", 1)
        if saved_format != MODEL_FORMAT:
            raise ValueError(
                f"{folder} holds a hybrid model of format {saved_format}; this version reads "
                f"format {MODEL_FORMAT} only: retrain it (musicrec retrain, or the retrain job)"
            )
        known = {f.name for f in fields(TrainConfig)}
        saved = {k: v for k, v in meta["config"].items() if k in known}
        config = TrainConfig(**saved)
        if (folder / PREPROCESSOR_DIR).exists():
            preprocessor = MusicPreprocessor.load(folder / PREPROCESSOR_DIR)
        model = cls(config, preprocessor)
        model.data = data
        model.device = resolve_device(config.device)
        model.history = meta["history"]
        state = torch.load(folder / WEIGHTS_FILE, map_location=model.device, weights_only=True)
        track_ids = [str(t) for t in data.matrix.track_ids]
        user_ids = [str(u) for u in data.matrix.user_ids]
        if track_ids == meta["track_ids"] and user_ids == meta["user_ids"]:
            model.shapes = meta["shapes"]
            model.model = _new_model(CatalogueInputs.empty(meta["shapes"]), config)
            model.model.load_state_dict(state)
        else:
            if preprocessor is None:
                raise ValueError(
                    f"{folder} has no saved preprocessor: it can only serve its training catalogue"
                )
            inputs = CatalogueInputs.build(data.tracks, data.users, preprocessor)
            _check_compatible(inputs.shapes(), meta["shapes"], folder)
            model.shapes = inputs.shapes()
            model.model = _new_model(inputs, config)
            model.model.adopt_state(
                state,
                pd.Index(meta["track_ids"]).get_indexer(track_ids),
                pd.Index(meta["user_ids"]).get_indexer(user_ids),
            )
            logger.info(
                "hybrid loaded over a changed catalogue: %d tracks (%d new), %d users (%d new)",
                len(track_ids),
                len(set(track_ids) - set(meta["track_ids"])),
                len(user_ids),
                len(set(user_ids) - set(meta["user_ids"])),
            )
        model.model.to(model.device).eval()
        model._item_table = model._unplayed = None
        model.item_item_weight = float(meta["item_item_weight"])
        model.item_item_retrieval_weight = float(meta["item_item_retrieval_weight"])
        model.item_item_rank = int(meta["item_item_rank"])
        model.item_item_l2 = meta["item_item_l2"]
        if model.item_item_weight > 0 or model.item_item_retrieval_weight > 0:
            model.item_item = _item_item_scores(
                config, data.matrix.matrix, model.device, model.item_item_l2, model.item_item_rank
            )
        model.content_weight = float(meta.get("content_weight", 0.0))
        if model.content_weight > 0 and preprocessor is None:
            logger.warning(
                "%s has no saved preprocessor: new tracks are served without content similarity",
                folder,
            )
            model.content_weight = 0.0
        if model.content_weight > 0:
            model.content = ContentSimilarity.fit(data, preprocessor)
        return model


def _best_choice(
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


def _check_compatible(shapes: dict, saved: dict, folder: Path) -> None:
    """The feature widths the weights expect must match those built for the new catalogue."""
    vocab = {col: size for col, (size, _) in shapes["text"].items()}
    saved_vocab = {col: size for col, (size, _) in saved["text"].items()}
    if vocab != saved_vocab or shapes["n_numeric"] != saved["n_numeric"]:
        raise ValueError(
            f"{folder}: the catalogue gives features {vocab}, {shapes['n_numeric']} numeric; "
            f"the model was trained on {saved_vocab}, {saved['n_numeric']} numeric"
        )


def _new_model(inputs: CatalogueInputs, config: TrainConfig) -> HybridRecommender:
    return HybridRecommender(
        inputs,
        embedding_dim=config.embedding_dim,
        hidden_dim=config.hidden_dim,
        n_blocks=config.n_blocks,
        dropout=config.dropout,
        head_dim=config.head_dim,
    ).to(resolve_device(config.device))


def _item_item_scores(
    config: TrainConfig,
    plays: sparse.csr_matrix,
    device: torch.device,
    l2: float,
    rank: int | None = None,
) -> ItemItemScores | None:
    """EASE (``l2``) on the plays, factored as training factors it (to the config's rank, or to
    the largest rank it chooses from), then truncated to ``rank`` if given: a model loaded
    later gets the same factors as the one trained."""
    fitted_rank = config.item_item_rank or max(ITEM_ITEM_RANKS)
    scores = ItemItemScores.fit(
        plays, l2, config.item_item_max_tracks, fitted_rank, device, config.seed
    )
    return scores if scores is None or rank is None else scores.truncated(rank)


def _own_preprocessor(tracks: pd.DataFrame) -> MusicPreprocessor:
    """A preprocessor fitted on the track catalogue, when the caller provides none."""
    preprocessor = MusicPreprocessor()
    preprocessor.fit_transform(tracks)
    return preprocessor


def similarity_blocks(inputs: CatalogueInputs, seed: int) -> list[np.ndarray]:
    """Dense per-item feature blocks for the ILS term: each TF-IDF block (randomly projected to
    ``SIMILARITY_DIM`` if wider, which keeps cosines approximately) and the numeric features."""
    rng = np.random.default_rng(seed)
    blocks = []
    for col in sorted(inputs.text_vocab):
        index, weight = inputs.text_index[col], inputs.text_weight[col]
        rows = np.repeat(np.arange(len(index)), index.shape[1])
        dense = sparse.csr_matrix(
            (weight.ravel(), (rows, index.ravel())), shape=(len(index), inputs.text_vocab[col])
        )
        if dense.shape[1] > SIMILARITY_DIM:
            projection = rng.normal(size=(dense.shape[1], SIMILARITY_DIM)).astype(np.float32)
            blocks.append(np.asarray(dense @ projection, np.float32))
        else:
            blocks.append(dense.toarray().astype(np.float32))
    if inputs.numeric.shape[1]:
        blocks.append(inputs.numeric)
    return blocks
