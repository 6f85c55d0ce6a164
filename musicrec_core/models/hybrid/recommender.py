"""The hybrid deep model as a ``Recommender``: two-tower retrieval, then a re-ranking head.

``score`` returns full-catalogue scores whose order is the served two-stage ranking: the
``n_candidates`` best tracks (not played in training) by the towers' dot product fused with
EASE item-item scores from the user's plays are re-ranked by the head, fused with the same
scores, and placed above every other track, which keep their retrieval score. EASE's λ and
rank and the two fusion weights are chosen on the validation plays.
Never-played tracks score from content, their dot scores fused with their content similarity
to the user's plays (also at a weight chosen on validation); users without plays score from
demographics, and ``recommend_with_history`` takes a new user's plays with no retraining.
``recommend`` takes the same ranking's top k without building full score matrices, and
``score_tracks`` the ranking's scores of some tracks only. ``save`` keeps the model's own
preprocessor, and ``load`` serves over grown or changed catalogues.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from musicrec_core.data import InteractionMatrix, holdout, listeners_per_track
from musicrec_core.data import schema as s
from musicrec_core.data.preprocessing import MusicPreprocessor
from musicrec_core.models.hybrid.catalogue_rows import CatalogueRows
from musicrec_core.models.hybrid.components import (
    item_item_gram,
    item_item_l2,
    item_item_ranks,
    item_item_scores,
    new_network,
    own_preprocessor,
    similarity_blocks,
)
from musicrec_core.models.hybrid.config import TrainConfig, resolve_device, seed_everything
from musicrec_core.models.hybrid.content_similarity import ContentSimilarity
from musicrec_core.models.hybrid.fusion import (
    ContentBoost,
    ItemItemEvidence,
    boost_content,
    fuse,
    retrieval_items,
)
from musicrec_core.models.hybrid.inputs import CatalogueInputs, listener_demographics
from musicrec_core.models.hybrid.item_item import ItemItemScores
from musicrec_core.models.hybrid.network import Demographics
from musicrec_core.models.hybrid.sampling import flat_history, played_mask
from musicrec_core.models.hybrid.storage import load_model, save_model
from musicrec_core.models.hybrid.training import train
from musicrec_core.models.hybrid.two_stage import (
    build_retrieval,
    head_scores,
    two_stage,
    two_stage_top,
)
from musicrec_core.models.hybrid.validation import (
    content_validation_ndcgs,
    item_item_validation_ndcg,
    validation_ndcg,
    validation_ndcgs,
)
from musicrec_core.models.hybrid.weight_choice import (
    CONTENT_WEIGHTS,
    ITEM_ITEM_WEIGHTS,
    best_choice,
)
from musicrec_core.models.recommender import Recommendations, Recommender, TrainingData

logger = logging.getLogger(__name__)

History = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # flat_history's index, offsets, weight

BLOCK_SCORES = 1 << 24  # user x track scores per block (64 MB) when scoring many users
# Fewest users per block of ``recommend``, which holds no full score rows: retrieval bounds
# its own blocks, and on large catalogues small blocks repeat its per-block catalogue work.
TOP_BLOCK_USERS = 1024


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
        self._catalogue_rows: CatalogueRows | None = None
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
        preprocessor = copy.deepcopy(self.preprocessor) or own_preprocessor(data.tracks)
        self.preprocessor = preprocessor
        inputs = CatalogueInputs.build(data.tracks, data.users, preprocessor)
        seed_everything(cfg.seed)
        self.model = new_network(inputs, cfg)
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
            self.item_item = item_item_scores(
                cfg, data.matrix.matrix, self.device, self.item_item_l2, self.item_item_rank
            )

    def _fit_item_item(self, plays: sparse.csr_matrix, validation: sparse.csr_matrix) -> None:
        """EASE on the training plays (low-rank EASE above ``item_item_max_tracks`` played
        tracks), its λ, rank and the weights fusing it into either stage: the config's, or the
        best λ (``choose_ease_l2``, ``choose_low_rank_l2``), then the best ``item_item_ranks``
        by its NDCG@10 on the validation plays, then the best of ``ITEM_ITEM_WEIGHTS`` for the
        hybrid's there, the head first, then retrieval (0 where none helps)."""
        cfg = self.config
        self.item_item, self.item_item_rank = None, 0
        self.item_item_weight = self.item_item_retrieval_weight = 0.0
        if cfg.item_item_weight == 0 and cfg.item_item_retrieval_weight == 0:
            return
        self.item_item_l2 = cfg.item_item_l2
        gram = item_item_gram(cfg, plays)  # low-rank EASE's eigenpairs, found once
        if self.item_item_l2 is None:
            self.item_item_l2, self.item_item_l2_validation = item_item_l2(
                cfg, plays, validation, gram
            )
        fitted = item_item_scores(cfg, plays, self.device, self.item_item_l2, gram=gram)
        del gram
        ranks = item_item_ranks(cfg, fitted)
        rank = ranks[0]
        if len(ranks) > 1:
            rank, self.item_item_rank_validation = best_choice(
                "item-item rank",
                ranks,
                lambda r: item_item_validation_ndcg(
                    fitted.truncated(r), plays, validation, cfg, self.device
                ),
            )
        self.item_item, self.item_item_rank = fitted.truncated(rank), rank
        trained = (self.model, plays, validation, cfg, self.device, self.item_item)
        if cfg.item_item_weight is None:
            head = validation_ndcgs(*trained, ITEM_ITEM_WEIGHTS)  # one pass for every weight
            self.item_item_weight, self.item_item_validation = best_choice(
                "item-item weight", ITEM_ITEM_WEIGHTS, head.__getitem__
            )
        else:
            self.item_item_weight = cfg.item_item_weight
        if cfg.item_item_retrieval_weight is None:
            weight = self.item_item_weight
            self.item_item_retrieval_weight, self.item_item_retrieval_validation = best_choice(
                "item-item retrieval weight",
                ITEM_ITEM_WEIGHTS,
                lambda w: validation_ndcg(*trained, weight, item_item_retrieval_weight=w),
            )
        else:
            self.item_item_retrieval_weight = cfg.item_item_retrieval_weight

    @property
    def item_item_kind(self) -> str:
        """Whose factors give the item-item evidence: "ease", "low_rank_ease" or "none"."""
        return "none" if self.item_item is None else self.item_item.kind

    def _fuses_item_item(self) -> bool:
        weights = (self.item_item_weight, self.item_item_retrieval_weight)
        return self.item_item is not None and max(weights) > 0

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
        measured = content_validation_ndcgs(
            self.model, plays, validation, cfg, self.device, self.content, CONTENT_WEIGHTS
        )
        self.content_weight, self.content_validation = best_choice(
            "content weight", CONTENT_WEIGHTS, measured.__getitem__
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
    def _user_vectors(
        self, user_ids: np.ndarray, history: History, demographics: Demographics | None = None
    ) -> torch.Tensor:
        """User vectors from the given plays (``flat_history``) and the users' demographics:
        the catalogue's, or ``demographics`` for listeners it does not hold."""
        self.model.eval()
        rows = torch.as_tensor(self._rows().user_rows(user_ids), device=self.device)
        index, offsets, weight = history
        table = self.item_table()
        return self.model.user_vectors_flat(rows, index, offsets, weight, table, demographics)

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
            listeners = listeners_per_track(self.data.matrix.matrix)
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

    def _rows(self) -> CatalogueRows:
        """``data``'s ids indexed, once per catalogue."""
        if self._catalogue_rows is None or self._catalogue_rows.matrix is not self.data.matrix:
            self._catalogue_rows = CatalogueRows(self.data.matrix)
        return self._catalogue_rows

    def _training_rows(self, user_ids: np.ndarray) -> sparse.csr_matrix:
        return self._rows().stored(user_ids)

    def _blocks(self, n_users: int) -> range:
        """Starts of user blocks whose score matrices stay around 64 MB."""
        step = max(self.config.val_batch_size, BLOCK_SCORES // max(self.model.n_items, 1))
        return range(0, n_users, step)

    def _user_blocks(
        self,
        user_ids: np.ndarray,
        plays: sparse.csr_matrix,
        least: int = 1,
        demographics: Demographics | None = None,
    ) -> Iterator[tuple[slice, sparse.csr_matrix, History, torch.Tensor]]:
        """Blocks of users (at least ``least`` each): their positions, play rows, flat
        history and user vectors."""
        step = max(self._blocks(len(user_ids)).step, least)
        for start in range(0, len(user_ids), step):
            span = slice(start, start + step)
            block = plays[span]
            history = flat_history(block, self.device)
            given = None if demographics is None else tuple(d[span] for d in demographics)
            yield span, block, history, self._user_vectors(user_ids[span], history, given)

    @torch.no_grad()
    def _top(
        self,
        user_ids: np.ndarray,
        plays: sparse.csr_matrix,
        k: int,
        exclude: bool,
        demographics: Demographics | None = None,
    ) -> Recommendations:
        """The two-stage top-k from the given play rows, without full score matrices."""
        n = min(k, plays.shape[1])
        index = np.zeros((len(user_ids), n), np.int64)
        values = np.full((len(user_ids), n), -np.inf)
        blocks = self._user_blocks(user_ids, plays, TOP_BLOCK_USERS, demographics)
        for span, block, history, vectors in blocks:
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
        return self.score_tracks(user_ids, None)

    @torch.no_grad()
    def score_tracks(self, user_ids: np.ndarray, columns: np.ndarray | None) -> np.ndarray:
        user_ids = np.asarray(user_ids, dtype=object)
        plays = self._training_rows(user_ids)
        kept = None if columns is None else torch.as_tensor(np.array(columns), device=self.device)
        out = np.empty((len(user_ids), plays.shape[1] if kept is None else len(kept)), np.float32)
        for span, block, history, vectors in self._user_blocks(user_ids, plays):
            scores = two_stage(
                self.model,
                vectors,
                self.item_table(),
                played_mask(block, self.device),
                self.config.n_candidates,
                self._evidence(history),
                self._boost(block),
                kept,
            )
            out[span] = scores.cpu().numpy()
        return out

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
        return self._top(user_ids, self._rows().given(user_ids, histories), k, exclude=True)

    def recommend_new(
        self, listeners: pd.DataFrame, histories: pd.DataFrame, k: int = 20
    ) -> Recommendations:
        """Top-k for listeners the catalogue does not hold, from their age and gender
        (``listeners``: user id, age, gender; missing values unknown) and the plays given in
        ``histories``, without retraining; the given plays are never recommended."""
        user_ids = listeners[s.USER_ID].to_numpy(dtype=object)
        plays = self._rows().given(user_ids, histories)
        given = listener_demographics(listeners, self.device)
        return self._top(user_ids, plays, k, exclude=True, demographics=given)

    # --- persistence -------------------------------------------------------------------------

    def save(self, folder: Path | str, metrics: dict | None = None) -> Path:
        """The fitted model in ``folder`` (see ``storage.save_model``)."""
        return save_model(self, folder, metrics)

    @classmethod
    def load(
        cls,
        folder: Path | str,
        data: TrainingData,
        preprocessor: MusicPreprocessor | None = None,
        keep_item_item: bool = False,
    ) -> Hybrid:
        """A fitted model from ``save``'s folder, serving over ``data``, whose catalogues may
        differ from training; ``keep_item_item`` keeps refitted item-item factors in the folder
        for later loads over the same plays (see ``storage.load_model``)."""
        return load_model(cls, folder, data, preprocessor, keep_item_item)
