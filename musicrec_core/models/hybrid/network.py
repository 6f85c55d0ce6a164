"""HybridRecommender (design §4.2) in two stages: two towers retrieve, a deep head re-ranks.

Item tower: item-id embedding → BatchNorm → ReLU (the design's ``music_fc`` over one-hot items),
release-year embedding, TF-IDF of genre / artist / featured artists through ``EmbeddingBag``
(weighted sums, i.e. linear layers over the sparse vectors) and a linear layer over the numeric
audio and engineered features, then a residual block, plus a linear map of the same inputs
(``item_wide``); output ``dim`` values plus a bias. The wide path carries what is linear in the
content, such as taste that follows the audio features, without the block's bottleneck: it
raised warm NDCG@10 by 2% on the demo and 6% on Echo Nest (docs/benchmarks.md). Items without
training plays (and, in training, a share of all items) use the "unknown" id, so every track
has a vector from content alone.

User tower: the play-weighted means of the item vectors and of history-only item-id embeddings
(unknown for new tracks) of the user's plays, gender and age-group embeddings, the age itself
(``age_basis``), and a user-id embedding (the "unknown" id for new users and, in training, at
random), then a residual block. A user with no plays gets a vector from demographics alone;
new plays change the vector without retraining.

``user · item`` (with the item bias) scores the whole catalogue in one matrix multiply; the head
(residual blocks over ``[u, i, u * i]``) adds a correction to that dot product for the retrieved
candidates only. Item-item evidence (the hybrid's EASE scores, see
:mod:`musicrec_core.models.hybrid.item_item`) can be fused into both stages: into retrieval,
which stays one matrix multiply of rescaled, wider vectors (``retrieval``), and with the head's
scores of the candidates (``fuse``). A content boost (the content-only tracks' similarity to
the user's plays, see :mod:`musicrec_core.models.hybrid.content_similarity`) reorders those
tracks' retrieval scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from scipy import sparse
from torch import nn
from torch.nn import functional as F

from musicrec_core.data import features
from musicrec_core.data import schema as s
from musicrec_core.data.preprocessing import MusicPreprocessor

YEAR_BASE = s.YEAR_RANGE[0]
N_YEARS = s.YEAR_RANGE[1] - s.YEAR_RANGE[0] + 1  # one more index is "unknown"
NUMERIC_CLIP = 5.0  # robust-scaled values beyond this are outliers, not signal
AGE_CENTRES = np.arange(10.0, 95.0, 5.0)  # years: the user tower's age bumps (``age_basis``)
AGE_SPREAD = 5.0
# Serving works through users a block at a time: blocks this small keep the dot scores,
# gathered vectors and hidden layers in cache, which measured faster than one pass over every
# user. Dot scores per retrieval block (4 MB), and user x candidate pairs per head block.
RETRIEVAL_BLOCK = 1 << 20
HEAD_BLOCK = 1 << 13


@dataclass
class CatalogueInputs:
    """Model inputs for every catalogue track and user, as arrays aligned with their catalogues."""

    text_index: dict[str, np.ndarray]  # column -> (n_items, width) int64 TF-IDF term indices
    text_weight: dict[str, np.ndarray]  # column -> (n_items, width) float32 TF-IDF values
    text_vocab: dict[str, int]  # column -> vocabulary size
    numeric: np.ndarray  # (n_items, n_numeric) float32
    year: np.ndarray  # (n_items,) int64 in [0, N_YEARS], N_YEARS = unknown
    gender: np.ndarray  # (n_users,) int64 in [0, len(GENDER_VALUES)], last = unknown
    age_group: np.ndarray  # (n_users,) int64 in [0, n age groups]
    age: np.ndarray  # (n_users,) float32 age in years, NaN where unknown

    @property
    def n_items(self) -> int:
        return len(self.year)

    @property
    def n_users(self) -> int:
        return len(self.gender)

    @classmethod
    def build(
        cls, tracks: pd.DataFrame, users: pd.DataFrame, preprocessor: MusicPreprocessor
    ) -> CatalogueInputs:
        """Inputs from the track and user catalogues through a fitted preprocessor."""
        tracks = tracks.reset_index(drop=True)
        text = preprocessor.text_features(tracks)
        index, weight = {}, {}
        for column, matrix in text.items():
            index[column], weight[column] = padded_rows(matrix)
        provided = set(preprocessor.transform(tracks.iloc[:1]).columns) if len(tracks) else set()
        numeric = [col for col in preprocessor.numeric_columns if col in provided]
        values = (
            preprocessor.feature_matrix(tracks, columns=numeric)
            if numeric
            else np.zeros((len(tracks), 0), np.float32)
        )
        return cls(
            text_index=index,
            text_weight=weight,
            text_vocab={col: len(preprocessor.vectorizers[col].vocabulary_) for col in text},
            numeric=np.clip(values, -NUMERIC_CLIP, NUMERIC_CLIP).astype(np.float32),
            year=year_codes(tracks),
            gender=demographic_codes(users)[0],
            age_group=demographic_codes(users)[1],
            age=user_ages(users),
        )

    def shapes(self) -> dict:
        """Sizes that rebuild an empty model of the same shape (for loading saved weights)."""
        return {
            "n_items": self.n_items,
            "n_users": self.n_users,
            "n_numeric": int(self.numeric.shape[1]),
            "text": {
                col: [self.text_vocab[col], self.text_index[col].shape[1]]
                for col in self.text_vocab
            },
        }

    @classmethod
    def empty(cls, shapes: dict) -> CatalogueInputs:
        """Zero-filled inputs of the given ``shapes`` (the saved buffers overwrite them)."""
        n_items, n_users = shapes["n_items"], shapes["n_users"]
        text = shapes["text"]
        return cls(
            text_index={
                col: np.zeros((n_items, width), np.int64) for col, (_, width) in text.items()
            },
            text_weight={
                col: np.zeros((n_items, width), np.float32) for col, (_, width) in text.items()
            },
            text_vocab={col: vocab for col, (vocab, _) in text.items()},
            numeric=np.zeros((n_items, shapes["n_numeric"]), np.float32),
            year=np.zeros(n_items, np.int64),
            gender=np.zeros(n_users, np.int64),
            age_group=np.zeros(n_users, np.int64),
            age=np.zeros(n_users, np.float32),
        )


def padded_rows(matrix: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Non-zero column indices and values of each CSR row, padded with index 0 and weight 0."""
    matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    lengths = np.diff(matrix.indptr)
    width = max(int(lengths.max()) if len(lengths) else 0, 1)
    index = np.zeros((matrix.shape[0], width), np.int64)
    weight = np.zeros((matrix.shape[0], width), np.float32)
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    slots = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], lengths)
    index[rows, slots] = matrix.indices
    weight[rows, slots] = matrix.data
    return index, weight


def year_codes(tracks: pd.DataFrame) -> np.ndarray:
    """Release-year index per track (years since 1900), ``N_YEARS`` where unknown."""
    if s.RELEASE_YEAR in tracks:
        years = pd.to_numeric(tracks[s.RELEASE_YEAR], errors="coerce")
    elif s.RELEASE_DATE in tracks:
        years = features.parse_release_year(tracks[s.RELEASE_DATE])
    else:
        years = pd.Series(np.nan, index=tracks.index)
    codes = (years - YEAR_BASE).to_numpy(dtype=float)
    valid = np.isfinite(codes) & (codes >= 0) & (codes < N_YEARS)
    return np.where(valid, np.nan_to_num(codes), N_YEARS).astype(np.int64)


def demographic_codes(users: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Gender and age-group codes per user, in schema order; the last code of each is unknown."""
    genders = list(s.GENDER_VALUES)
    groups = s.age_group_labels()
    if s.GENDER in users:
        gender = pd.Categorical(users[s.GENDER], categories=genders).codes
    else:
        gender = np.full(len(users), -1)
    if s.AGE_GROUP in users:
        age_group = pd.Categorical(users[s.AGE_GROUP], categories=groups).codes
    elif s.AGE in users:
        age_group = pd.Categorical(features.age_group(users[s.AGE]), categories=groups).codes
    else:
        age_group = np.full(len(users), -1)
    gender = np.where(gender < 0, genders.index(s.GENDER_UNKNOWN), gender)
    age_group = np.where(age_group < 0, groups.index(s.AGE_GROUP_UNKNOWN), age_group)
    return gender.astype(np.int64), age_group.astype(np.int64)


def user_ages(users: pd.DataFrame) -> np.ndarray:
    """Each user's age in years within the schema's range; NaN where unknown."""
    if s.AGE not in users:
        return np.full(len(users), np.nan, np.float32)
    ages = pd.to_numeric(users[s.AGE], errors="coerce").clip(*s.AGE_RANGE)
    return ages.to_numpy(dtype=np.float32, na_value=np.nan)


def age_basis(age: torch.Tensor) -> torch.Tensor:
    """(n, len(AGE_CENTRES)) Gaussian bumps of each age (years; NaN: unknown, all zeros).

    The user tower sees age this way beside the age group, which spans up to 19 years: a
    single scaled value moved its first layer too little to change a new listener's list
    within a group, while the bumps let neighbouring ages share what is learnt of each.
    """
    centres = torch.as_tensor(AGE_CENTRES, dtype=torch.float32, device=age.device)
    basis = torch.exp(-0.5 * ((age.unsqueeze(-1) - centres) / AGE_SPREAD) ** 2)
    return torch.nan_to_num(basis, nan=0.0)


def _remap_rows(table: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Rows of an id embedding (last row: unknown) picked by ``source`` (-1: the unknown row)."""
    unknown = table.shape[0] - 1
    picked = torch.cat([torch.where(source >= 0, source, unknown), torch.tensor([unknown])])
    return table[picked.to(table.device)].clone()


def _bn_affine(norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and shift that an eval-mode BatchNorm applies."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    return scale, norm.bias - norm.running_mean * scale


class ResidualBlock(nn.Module):
    """``x + Dropout(ReLU(BatchNorm(Linear(x))))``."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _mlp(n_in: int, width: int, n_out: int, n_blocks: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, width),
        nn.BatchNorm1d(width),
        nn.ReLU(),
        *(ResidualBlock(width, dropout) for _ in range(n_blocks)),
        nn.Linear(width, n_out),
    )


def _flat(x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """Apply a module over the last dimension of an (..., features) tensor."""
    return module(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], -1)


class ItemItemEvidence(NamedTuple):
    """Item-item scores of a set of users for every track, ``pooled[u] · targets[j]`` (the
    hybrid's EASE scores from the users' plays, see
    :mod:`musicrec_core.models.hybrid.item_item`), and the weights at which they are fused
    with the dot scores in retrieval and with the head's scores of the candidates (0: not in
    that stage)."""

    pooled: torch.Tensor  # (n_users, r): each user's sum of the source factors of their plays
    targets: torch.Tensor  # (n_items, r): the played tracks' mean for tracks without plays
    rerank_weight: float = 0.0
    retrieval_weight: float = 0.0

    def scores(self, candidates: torch.Tensor, rows: slice = slice(None)) -> torch.Tensor:
        """(m, c) scores of the (m, c) candidates of the users at ``rows``."""
        # an embedding lookup gathers the candidates' factors several times faster than indexing
        listed = F.embedding(candidates, self.targets)
        return torch.bmm(listed, self.pooled[rows].unsqueeze(-1)).squeeze(-1)


class Retrieval(NamedTuple):
    """Retrieval scores as one product ``users @ items.T``.

    Without item-item evidence these are the towers' dot scores (``users`` ends in a column of
    ones for the item bias). With evidence at a weight ``w``, each user's row is rescaled so
    that the product is ``dot / s_dot + w * evidence / s_evidence``, where ``s`` are the user's
    spreads of either score over the catalogue: it ranks as ``z(dot) + w * z(evidence)``.
    ``dot_scale`` (n_users, 1) is then ``s_dot`` and ``evidence_weight`` ``w * s_dot /
    s_evidence``.
    """

    users: torch.Tensor
    items: torch.Tensor
    dot_scale: torch.Tensor | None = None
    evidence_weight: torch.Tensor | None = None

    def scaled_dot(self, scores: torch.Tensor) -> torch.Tensor:
        """Retrieval ``scores`` back on the dot product's scale: the dot scores plus
        ``evidence_weight`` times the evidence."""
        return scores if self.dot_scale is None else self.dot_scale * scores


def retrieval_items(item_table: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
    """The item side of retrieval: item vectors with bias, then the item-item target factors
    when retrieval fuses them."""
    return item_table if targets is None else torch.cat([item_table, targets], dim=1)


def _spread(vectors: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """(n, 1) standard deviation over the table's rows of each vector's products with them."""
    centred = table - table.mean(dim=0, keepdim=True)
    covariance = centred.T @ centred / max(len(table), 1)
    variance = ((vectors @ covariance) * vectors).sum(dim=1, keepdim=True)
    return variance.clamp(min=1e-12).sqrt()


class ContentBoost(NamedTuple):
    """The content similarity of users to the tracks ``columns``, which the model knows by
    content alone, fused into their dot scores at ``weight``. ``similarity(rows)`` gives it for
    the users at the given row positions, (len(rows), len(columns)): serving computes it only
    for the users whose top the fusion can change."""

    columns: torch.Tensor
    similarity: Callable[[np.ndarray], torch.Tensor]
    weight: float

    def active(self) -> bool:
        return self.weight > 0 and len(self.columns) > 0


def standardise(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per-row z-scores of ``values`` over the ``valid`` entries; 0 for rows without spread."""
    count = valid.sum(dim=1, keepdim=True).clamp(min=1)
    kept = values.masked_fill(~valid, 0.0)
    mean = kept.sum(dim=1, keepdim=True) / count
    spread = (((kept - mean) * valid) ** 2).sum(dim=1, keepdim=True).div(count).sqrt()
    return torch.where(spread > 1e-6, (values - mean) / spread.clamp(min=1e-6), 0.0)


def boost_content(
    scores: torch.Tensor, boost: ContentBoost | None, exclude: torch.Tensor | None = None
) -> torch.Tensor:
    """``scores`` (finite dot scores), changed in place, with the boosted tracks re-ordered by
    ``z(score) + weight * z(similarity)`` per user, each taking the score its new rank held
    before: the group's scores, and so how many of its tracks reach any top-n among the other
    tracks, stay as they were. Tracks in ``exclude`` (bool, as ``scores``) keep their scores
    and take no part."""
    if boost is None or not boost.active():
        return scores
    own = scores[:, boost.columns]
    if exclude is None:
        valid = torch.ones_like(own, dtype=torch.bool)
    else:
        valid = ~exclude[:, boost.columns]
    fused = _fused(own, valid, boost, np.arange(len(scores)))
    scores[:, boost.columns] = torch.where(valid, fused, own)
    return scores


def _fused(
    own: torch.Tensor, valid: torch.Tensor, boost: ContentBoost, rows: np.ndarray
) -> torch.Tensor:
    """The boosted tracks' scores ``own`` of the users at ``rows`` re-ordered by the fusion over
    the ``valid`` ones; -inf elsewhere."""
    mixed = _fusion_order(own, valid, boost, rows)
    return _reassign(own.masked_fill(~valid, float("-inf")), mixed)


def _fusion_order(
    own: torch.Tensor, valid: torch.Tensor, boost: ContentBoost, rows: np.ndarray
) -> torch.Tensor:
    """``z(own) + weight * z(similarity)`` of the users at ``rows`` over the ``valid`` boosted
    tracks; -inf elsewhere."""
    mixed = standardise(own, valid) + boost.weight * standardise(boost.similarity(rows), valid)
    return mixed.masked_fill_(~valid, float("-inf"))


class _BoostedPlaces(NamedTuple):
    """Users whose top holds boosted tracks: their rows, which places of the top those tracks
    hold, and the users' scores of every boosted track (-inf where excluded)."""

    rows: torch.Tensor
    places: torch.Tensor
    own: torch.Tensor


def _boosted_places(
    scores: torch.Tensor,
    indices: torch.Tensor,
    finite: torch.Tensor,
    boosted: torch.Tensor,
    columns: torch.Tensor,
    offset: int,
) -> _BoostedPlaces:
    """The boosted places in the top ``indices`` (``finite``: places with a finite score) of a
    block of users' ``scores`` (-inf where excluded); rows count from ``offset``."""
    places = boosted[indices] & finite
    changed = torch.nonzero(places.any(dim=1)).squeeze(1)
    own = scores[changed.unsqueeze(1), columns]
    return _BoostedPlaces(changed + offset, places[changed], own)


def _relabel(indices: torch.Tensor, found: _BoostedPlaces, boost: ContentBoost) -> None:
    """``indices`` (top tracks by score, high to low) after ``boost_content``, in place.

    The fusion keeps each user's set of boosted scores, so the top keeps its values; only the
    boosted tracks holding them change. A user's q boosted places, from the highest, go to the
    q boosted tracks first in fusion order.
    """
    if not len(found.rows):
        return
    order = _fusion_order(found.own, torch.isfinite(found.own), boost, found.rows.cpu().numpy())
    first = order.topk(int(found.places.sum(dim=1).max()), dim=1).indices
    place_rank = (found.places.cumsum(dim=1) - 1).clamp(min=0)
    relabelled = boost.columns[first.gather(1, place_rank)]
    indices[found.rows] = torch.where(found.places, relabelled, indices[found.rows])


def _reassign(values: torch.Tensor, order_by: torch.Tensor) -> torch.Tensor:
    """Each row's ``values`` placed so that their order follows ``order_by``'s: the largest
    where ``order_by`` is largest, and so on."""
    if values.device.type == "cpu":  # numpy sorts many short rows several times faster
        return _reassign_numpy(values, order_by)
    return _reassign_torch(values, order_by)


def _reassign_numpy(values: torch.Tensor, order_by: torch.Tensor) -> torch.Tensor:
    order = np.argsort(-order_by.numpy(), axis=1)
    out = np.empty_like(values.numpy())
    np.put_along_axis(out, order, -np.sort(-values.numpy(), axis=1), axis=1)
    return torch.from_numpy(out)


def _reassign_torch(values: torch.Tensor, order_by: torch.Tensor) -> torch.Tensor:
    order = order_by.argsort(dim=1, descending=True)
    ranked = values.sort(dim=1, descending=True).values
    return torch.empty_like(values).scatter_(1, order, ranked)


def _block_size(users: int, n_users: int, device: torch.device) -> int:
    """Users per serving block: ``users`` on the CPU, all at once on an accelerator, where
    small blocks would only add kernel launches."""
    return max(n_users if device.type != "cpu" else users, 1)


def fuse(
    head: torch.Tensor, prior: torch.Tensor | None, valid: torch.Tensor, weight: float
) -> torch.Tensor:
    """Head scores of the candidates, or with ``prior`` scores of them and a positive
    ``weight``: ``z(head) + weight * z(prior)``, z-scored per user over the valid candidates, so
    the weight does not depend on either score's scale."""
    if prior is None or weight <= 0:
        return head
    return standardise(head, valid) + weight * standardise(prior, valid)


class HybridRecommender(nn.Module):
    """Two towers (user, item) whose dot product retrieves, and a residual head that re-ranks."""

    def __init__(
        self,
        inputs: CatalogueInputs,
        embedding_dim: int = 32,
        hidden_dim: int = 128,
        n_blocks: int = 2,
        dropout: float = 0.1,
        head_dim: int | None = None,
    ) -> None:
        """``hidden_dim``: width of the towers; ``head_dim`` (default ``hidden_dim``) and
        ``n_blocks``: width and residual blocks of the re-ranking head."""
        super().__init__()
        d, h = embedding_dim, hidden_dim
        self.dim = d  # vector width before the item bias
        self.n_items, self.n_users = inputs.n_items, inputs.n_users
        self.text_columns = sorted(inputs.text_vocab)
        for col in self.text_columns:
            self.register_buffer(f"text_index_{col}", torch.as_tensor(inputs.text_index[col]))
            self.register_buffer(f"text_weight_{col}", torch.as_tensor(inputs.text_weight[col]))
        self.register_buffer("numeric", torch.as_tensor(inputs.numeric))
        self.register_buffer("year", torch.as_tensor(inputs.year))
        self.register_buffer("gender", torch.as_tensor(inputs.gender))
        self.register_buffer("age_group", torch.as_tensor(inputs.age_group))
        self.register_buffer("age", torch.as_tensor(inputs.age))
        self.register_buffer("item_known", torch.zeros(inputs.n_items, dtype=torch.bool))

        # item tower
        self.item_embedding = nn.Embedding(inputs.n_items + 1, d)  # last: unknown / new track
        self.music_fc = nn.Sequential(nn.BatchNorm1d(d), nn.ReLU())
        self.release_year_embedding = nn.Embedding(N_YEARS + 1, d)
        self.text_embedding = nn.ModuleDict(
            {
                col: nn.EmbeddingBag(inputs.text_vocab[col], d, mode="sum")
                for col in self.text_columns
            }
        )
        n_numeric = inputs.numeric.shape[1]
        self.numeric_fc = nn.Linear(n_numeric, d) if n_numeric else None
        n_item_parts = 2 + len(self.text_columns) + (1 if n_numeric else 0)
        self.item_tower = _mlp(n_item_parts * d, h, d + 1, 1, dropout)
        self.item_wide = nn.Linear(n_item_parts * d, d + 1)

        # user tower
        self.history_embedding = nn.Embedding(inputs.n_items + 1, d)  # last: unknown / new track
        self.user_embedding = nn.Embedding(inputs.n_users + 1, d)  # last: unknown / new user
        self.gender_embedding = nn.Embedding(len(s.GENDER_VALUES) + 1, d)
        self.age_group_embedding = nn.Embedding(len(s.age_group_labels()) + 1, d)
        self.user_tower = _mlp(5 * d + 1 + len(AGE_CENTRES), h, d, 1, dropout)

        # re-ranking head
        self.head = _mlp(3 * self.dim, head_dim or h, 1, n_blocks, dropout)

    # --- catalogue changes -------------------------------------------------------------------

    def adopt_state(
        self, state: dict[str, torch.Tensor], item_source: np.ndarray, user_source: np.ndarray
    ) -> None:
        """Load a state dict saved for another catalogue into this model's catalogue.

        ``item_source`` / ``user_source``: for each of this model's items / users, its index in
        the saved catalogue or -1 if new (new ones get the saved "unknown" id rows). Catalogue
        buffers (content, years, demographics) stay this model's; learned weights are copied.
        """
        own = self.state_dict()
        items = torch.as_tensor(np.asarray(item_source, np.int64))
        users = torch.as_tensor(np.asarray(user_source, np.int64))
        adopted = {}
        for key, value in state.items():
            if key in ("item_embedding.weight", "history_embedding.weight"):
                adopted[key] = _remap_rows(value, items)
            elif key == "user_embedding.weight":
                adopted[key] = _remap_rows(value, users)
            elif key == "item_known":
                mapped = items.to(value.device)
                adopted[key] = value[mapped.clamp(min=0)] & (mapped >= 0)
            elif key in self._catalogue_buffers():
                adopted[key] = own[key]
            else:
                adopted[key] = value
        self.load_state_dict(adopted)

    def _catalogue_buffers(self) -> set[str]:
        names = {"numeric", "year", "gender", "age_group", "age"}
        for col in self.text_columns:
            names |= {f"text_index_{col}", f"text_weight_{col}"}
        return names

    # --- item tower --------------------------------------------------------------------------

    def item_vectors(
        self, items: torch.Tensor | None = None, id_dropout: float = 0.0
    ) -> torch.Tensor:
        """(n, dim + 1) vectors of the given item indices (default all); the last value is a bias.

        Items without training plays, and a share ``id_dropout`` of the others, use the unknown
        id (content only); ``id_dropout=1`` gives every item the vector a new track would get.
        """
        if items is None:
            items = torch.arange(self.n_items, device=self.year.device)
        ids = torch.where(self.item_known[items], items, torch.full_like(items, self.n_items))
        if id_dropout >= 1:
            ids = torch.full_like(items, self.n_items)
        elif id_dropout > 0:
            drop = torch.rand(ids.shape, device=ids.device) < id_dropout
            ids = ids.masked_fill(drop, self.n_items)
        parts = [
            self.music_fc(self.item_embedding(ids)),
            self.release_year_embedding(self.year[items]),
        ]
        for col in self.text_columns:
            index = getattr(self, f"text_index_{col}")[items]
            weight = getattr(self, f"text_weight_{col}")[items]
            parts.append(self.text_embedding[col](index, per_sample_weights=weight))
        if self.numeric_fc is not None:
            parts.append(self.numeric_fc(self.numeric[items]))
        joined = torch.cat(parts, dim=-1)
        return self.item_tower(joined) + self.item_wide(joined)

    # --- user tower --------------------------------------------------------------------------

    def user_vectors(
        self,
        users: torch.Tensor,
        history: torch.Tensor,
        history_weight: torch.Tensor,
        item_table: torch.Tensor,
        gender: torch.Tensor | None = None,
        age_group: torch.Tensor | None = None,
        id_dropout: float = 0.0,
    ) -> torch.Tensor:
        """(n, dim) user vectors.

        ``users``: catalogue indices, -1 for users the model does not know; ``history`` (n, H):
        indices into ``item_table`` (rows of item vectors) of each user's plays, padded with
        weight 0; ``gender`` / ``age_group`` codes default to the catalogue's for known users
        (unknown codes for the others).
        """
        weight = history_weight / history_weight.sum(dim=1, keepdim=True).clamp(min=1e-6)
        pooled = (item_table[history][..., : self.dim] * weight.unsqueeze(-1)).sum(dim=1)
        history_ids = torch.where(self.item_known[history], history, self.n_items)
        if id_dropout > 0:
            drop = torch.rand(history_ids.shape, device=history.device) < id_dropout
            history_ids = history_ids.masked_fill(drop, self.n_items)
        pooled_ids = (self.history_embedding(history_ids) * weight.unsqueeze(-1)).sum(dim=1)
        count = (history_weight > 0).sum(dim=1, keepdim=True).float()
        return self._user_tower(users, pooled, pooled_ids, count, gender, age_group, id_dropout)

    def user_vectors_flat(
        self,
        users: torch.Tensor,
        index: torch.Tensor,
        offsets: torch.Tensor,
        weight: torch.Tensor,
        item_table: torch.Tensor,
    ) -> torch.Tensor:
        """(n, dim) user vectors, as ``user_vectors``, from plays in ``EmbeddingBag`` layout.

        ``index``: every user's played item indices one after another, ``offsets`` (n,): where
        each user's start, ``weight``: their play weights (all positive). For serving.
        """
        n = len(users)
        lengths = torch.diff(offsets, append=torch.tensor([len(index)], device=offsets.device))
        totals = torch.zeros(n, device=weight.device).index_add_(
            0, torch.repeat_interleave(torch.arange(n, device=weight.device), lengths), weight
        )
        share = weight / torch.repeat_interleave(totals.clamp(min=1e-6), lengths)
        table = item_table[:, : self.dim].contiguous()
        pooled = F.embedding_bag(index, table, offsets, mode="sum", per_sample_weights=share)
        ids = torch.where(self.item_known[index], index, self.n_items)
        pooled_ids = F.embedding_bag(
            ids, self.history_embedding.weight, offsets, mode="sum", per_sample_weights=share
        )
        count = lengths.unsqueeze(1).float()
        return self._user_tower(users, pooled, pooled_ids, count)

    def _user_tower(
        self,
        users: torch.Tensor,
        pooled: torch.Tensor,
        pooled_ids: torch.Tensor,
        count: torch.Tensor,
        gender: torch.Tensor | None = None,
        age_group: torch.Tensor | None = None,
        id_dropout: float = 0.0,
    ) -> torch.Tensor:
        known = users >= 0
        safe = users.clamp(min=0)
        if gender is None:
            gender = torch.where(known, self.gender[safe], len(s.GENDER_VALUES) - 1)
        if age_group is None:
            unknown_group = len(s.age_group_labels()) - 1
            age_group = torch.where(known, self.age_group[safe], unknown_group)
        ids = torch.where(known, users, torch.full_like(users, self.n_users))
        age = age_basis(torch.where(known, self.age[safe], float("nan")))
        if id_dropout > 0:
            drop = torch.rand(ids.shape, device=ids.device) < id_dropout
            ids = ids.masked_fill(drop, self.n_users)
        parts = [
            pooled,
            pooled_ids,
            self.user_embedding(ids),
            self.gender_embedding(gender),
            self.age_group_embedding(age_group),
            age,
            torch.log1p(count),
        ]
        return self.user_tower(torch.cat(parts, dim=-1))

    # --- scoring -----------------------------------------------------------------------------

    def dot(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
        """Retrieval scores (n_users, n_items) of user vectors against item vectors with bias:
        one product of the users with a column of ones appended, which is faster than adding
        the bias row to every output row."""
        ones = torch.ones(len(user_vectors), 1, device=user_vectors.device)
        return torch.cat([user_vectors, ones], dim=1) @ item_vectors.T

    def forward(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
        """Head scores (n, L) of each user (n, dim) for its listed items (n, L, dim + 1)."""
        item = item_vectors[..., : self.dim]
        dot = torch.bmm(item, user_vectors.unsqueeze(-1)).squeeze(-1) + item_vectors[..., self.dim]
        return dot + self.correction(user_vectors, item_vectors)

    def correction(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
        """The head's correction (n, L) to the dot product for item vectors (n, L, dim), with or
        without the bias column: the residual MLP over
        ``[u, i, u * i]``, its first layer computed per user as ``(W_i + W_x diag(u)) i + W_u u``
        (the same values without building the per-pair input); in eval mode with BatchNorm
        folded into the linear layers."""
        d = self.dim
        first = self.head[0]
        weight, bias = first.weight, first.bias
        if not self.training:
            scale, shift = _bn_affine(self.head[1])
            weight, bias = weight * scale[:, None], bias * scale + shift
        w_user, w_item, w_cross = weight[:, :d], weight[:, d : 2 * d], weight[:, 2 * d :]
        if self.training:
            per_user = w_item.T.unsqueeze(0) + user_vectors.unsqueeze(-1) * w_cross.T.unsqueeze(0)
            offset = user_vectors @ w_user.T + bias
            hidden = torch.bmm(item_vectors[..., :d], per_user) + offset.unsqueeze(1)
            return _flat(hidden, self.head[1:]).squeeze(-1)
        per_user = torch.addcmul(
            w_item.T.unsqueeze(0), user_vectors.unsqueeze(-1), w_cross.T.unsqueeze(0)
        )
        offset = torch.addmm(bias, user_vectors, w_user.T)
        hidden = torch.baddbmm(offset.unsqueeze(1), item_vectors[..., :d], per_user)
        flat = hidden.reshape(-1, hidden.shape[-1]).relu_()
        for block in self.head[3:-1]:
            linear, norm = block.body[0], block.body[1]
            scale, shift = _bn_affine(norm)
            inner = torch.addmm(
                linear.bias * scale + shift, flat, (linear.weight * scale[:, None]).T
            )
            flat = flat.add_(inner.relu_())
        last = self.head[-1]
        return torch.addmm(last.bias, flat, last.weight.T).reshape(hidden.shape[:-1])

    def retrieval(
        self,
        user_vectors: torch.Tensor,
        item_table: torch.Tensor,
        evidence: ItemItemEvidence | None = None,
    ) -> Retrieval:
        """Retrieval of the users (n, dim) over the items (n_items, dim + 1): the dot product
        with the item bias, fused with ``evidence`` at its retrieval weight."""
        ones = torch.ones(len(user_vectors), 1, device=user_vectors.device)
        users = torch.cat([user_vectors, ones], dim=1)
        if evidence is None or evidence.retrieval_weight <= 0:
            return Retrieval(users, item_table)
        weight = evidence.retrieval_weight
        dot_scale = _spread(users, item_table)
        evidence_scale = _spread(evidence.pooled, evidence.targets)
        return Retrieval(
            torch.cat([users / dot_scale, weight * evidence.pooled / evidence_scale], dim=1),
            retrieval_items(item_table, evidence.targets),
            dot_scale,
            weight * dot_scale / evidence_scale,
        )

    def _rerank(
        self,
        user_vectors: torch.Tensor,
        item_table: torch.Tensor,
        retrieval: Retrieval,
        candidates: torch.Tensor,
        scores: torch.Tensor,
        evidence: ItemItemEvidence | None,
    ) -> torch.Tensor:
        """The head's scores of the candidates from their retrieval ``scores``, fused with
        their item-item ``evidence`` at its re-ranking weight; -inf where ``scores`` are."""
        fused = retrieval.evidence_weight is not None
        weight = 0.0 if evidence is None else evidence.rerank_weight
        needed = evidence if fused or weight > 0 else None
        head, prior = self.head_scores(
            user_vectors, item_table, candidates, retrieval.scaled_dot(scores), needed
        )
        if fused:  # the head adds to the dot scores alone
            head = head - retrieval.evidence_weight * prior
        valid = torch.isfinite(scores)
        return fuse(head, prior, valid, weight).masked_fill(~valid, float("-inf"))

    def _retrieve(
        self,
        retrieval: Retrieval,
        exclude: tuple[torch.Tensor, torch.Tensor],
        n: int,
        boost: ContentBoost | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each user's ``n`` best retrieval scores (with ``boost``) outside ``exclude``: values
        high to low and track indices, and the row maxima (n_users, 1) of the unmasked scores,
        a block of users at a time."""
        user_vectors, item_table = retrieval.users, retrieval.items
        n_users = len(user_vectors)
        device = user_vectors.device
        values = torch.empty(n_users, n, device=device)
        indices = torch.empty(n_users, n, dtype=torch.long, device=device)
        ceiling = torch.empty(n_users, device=device)
        rows, cols = exclude
        if len(rows) and not bool((rows[1:] >= rows[:-1]).all()):
            by_row = rows.argsort()
            rows, cols = rows[by_row], cols[by_row]
        step = _block_size(RETRIEVAL_BLOCK // max(item_table.shape[0], 1), n_users, device)
        starts = torch.arange(0, n_users + step, step, device=device)
        bounds = torch.searchsorted(rows, starts).tolist()
        order, position = self._likely_first(user_vectors, item_table)
        table, cols = item_table[order], position[cols]
        boosted = None
        if boost is not None and boost.active():
            boost_columns = position[boost.columns]
            boosted = torch.zeros(item_table.shape[0], dtype=torch.bool, device=device)
            boosted[boost_columns] = True
        found = []
        for block, start in enumerate(range(0, n_users, step)):
            span = slice(start, start + step)
            scores = user_vectors[span] @ table.T
            lo, hi = bounds[block], bounds[block + 1]
            r, c = rows[lo:hi] - start, cols[lo:hi]
            excluded = scores[r, c]
            scores[r, c] = float("-inf")
            top, top_index = scores.topk(n, dim=1)
            values[span], indices[span] = top, order[top_index]
            # the boost only moves scores between the boosted tracks: the maximum stays
            ceiling[span] = top[:, 0].scatter_reduce(0, r, excluded, reduce="amax")
            if boosted is not None:
                finite = torch.isfinite(top)
                found.append(
                    _boosted_places(scores, top_index, finite, boosted, boost_columns, start)
                )
        if found:
            rows_found, places, own = (torch.cat(part) for part in zip(*found, strict=True))
            _relabel(indices, _BoostedPlaces(rows_found, places, own), boost)
        return values, indices, ceiling.unsqueeze(1)

    def _likely_first(
        self, user_vectors: torch.Tensor, item_table: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Track indices in the order of the average user's scores, and each track's place in
        it. Retrieval scores tracks in this order: top-k keeps a heap of the best so far, and
        with likely winners first it turns most other scores away at once (a quarter off its
        time on the demo)."""
        average = item_table @ user_vectors.mean(dim=0)
        order = average.argsort(descending=True)
        position = torch.empty_like(order)
        position[order] = torch.arange(len(order), device=order.device)
        return order, position

    def head_scores(
        self,
        user_vectors: torch.Tensor,
        item_table: torch.Tensor,
        candidates: torch.Tensor,
        dot: torch.Tensor,
        prior: ItemItemEvidence | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Head scores (n, c) of each user's candidates from their ``dot`` scores, and the
        ``prior``'s scores of them (None without a prior), a block of users at a time."""
        head = torch.empty_like(dot)
        evidence = None if prior is None else torch.empty_like(dot)
        items = item_table[:, : self.dim]
        step = _block_size(HEAD_BLOCK // max(candidates.shape[1], 1), len(candidates), dot.device)
        for start in range(0, len(candidates), step):
            rows = slice(start, start + step)
            # an embedding lookup gathers rows several times faster than indexing
            listed = F.embedding(candidates[rows], items)
            head[rows] = dot[rows] + self.correction(user_vectors[rows], listed)
            if evidence is not None:
                evidence[rows] = prior.scores(candidates[rows], rows)
        return head, evidence

    def two_stage(
        self,
        user_vectors: torch.Tensor,
        item_table: torch.Tensor,
        exclude: torch.Tensor,
        n_candidates: int,
        evidence: ItemItemEvidence | None = None,
        boost: ContentBoost | None = None,
    ) -> torch.Tensor:
        """Full-catalogue scores whose order is the two-stage ranking.

        The retrieval scores (the dot product fused with ``evidence``, see ``retrieval``, with
        ``boost``, see ``boost_content``) of the ``n_candidates`` best tracks not in
        ``exclude`` (bool, n_users x n_items) are re-scored by the head (fused with
        ``evidence``, see ``fuse``) and lifted into a band above every retrieval score (order
        within the band = head order); other tracks keep their retrieval score.
        """
        retrieval = self.retrieval(user_vectors, item_table, evidence)
        scores = boost_content(retrieval.users @ retrieval.items.T, boost, exclude)
        retrievable = scores.masked_fill(exclude, float("-inf"))
        k = min(n_candidates, scores.shape[1])
        if k == 0:
            return scores
        top, candidates = retrievable.topk(k, dim=1)
        head = self._rerank(user_vectors, item_table, retrieval, candidates, top, evidence)
        valid = torch.isfinite(top)
        floor = head.masked_fill(~valid, float("inf")).min(dim=1, keepdim=True).values
        ceiling = scores.max(dim=1, keepdim=True).values
        band = head - floor + ceiling + 1.0
        lifted = torch.where(valid, band, scores.gather(1, candidates))
        return scores.scatter(1, candidates, lifted)

    def two_stage_top(
        self,
        user_vectors: torch.Tensor,
        item_table: torch.Tensor,
        exclude: tuple[torch.Tensor, torch.Tensor],
        n_candidates: int,
        k: int,
        evidence: ItemItemEvidence | None = None,
        boost: ContentBoost | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The top ``k`` of ``two_stage``'s ranking (indices, scores) without the full matrix.

        ``exclude``: (rows, columns) of tracks never to return; the head runs on the
        ``n_candidates`` best retrieval scores only.
        """
        retrieval = self.retrieval(user_vectors, item_table, evidence)
        n = min(max(n_candidates, k), item_table.shape[0])
        top, candidates, ceiling = self._retrieve(retrieval, exclude, n, boost)
        c = min(n_candidates, n)
        if c == 0:
            return candidates[:, :k], top[:, :k]
        head = self._rerank(
            user_vectors, item_table, retrieval, candidates[:, :c], top[:, :c], evidence
        )
        valid = torch.isfinite(top[:, :c])
        floor = head.masked_fill(~valid, float("inf")).min(dim=1, keepdim=True).values
        band = torch.where(valid, head - floor + ceiling + 1.0, float("-inf"))
        values, order = torch.cat([band, top[:, c:]], dim=1).topk(min(k, n), dim=1)
        return candidates.gather(1, order), values
