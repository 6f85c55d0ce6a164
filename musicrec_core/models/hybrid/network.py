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

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from musicrec_core.data import schema as s
from musicrec_core.models.hybrid.inputs import N_YEARS, CatalogueInputs

# Gender codes, age-group codes and ages (years, NaN unknown) of listeners outside the catalogue.
Demographics = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
AGE_CENTRES = np.arange(10.0, 95.0, 5.0)  # years: the user tower's age bumps (``age_basis``)
AGE_SPREAD = 5.0


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
        table_rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(n, dim) user vectors.

        ``users``: catalogue indices, -1 for users the model does not know; ``history`` (n, H):
        catalogue indices of each user's plays, padded with weight 0; their item vectors are
        ``item_table[table_rows]`` (default ``item_table[history]``: a table of every item);
        ``gender`` / ``age_group`` codes default to the catalogue's for known users (unknown
        codes for the others).
        """
        weight = history_weight / history_weight.sum(dim=1, keepdim=True).clamp(min=1e-6)
        rows = history if table_rows is None else table_rows
        pooled = (item_table[rows][..., : self.dim] * weight.unsqueeze(-1)).sum(dim=1)
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
        demographics: Demographics | None = None,
    ) -> torch.Tensor:
        """(n, dim) user vectors, as ``user_vectors``, from plays in ``EmbeddingBag`` layout.

        ``index``: every user's played item indices one after another, ``offsets`` (n,): where
        each user's start, ``weight``: their play weights (all positive). For serving.
        ``demographics`` (gender codes, age-group codes, ages): given for listeners the
        catalogue does not hold, instead of the catalogue's.
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
        gender, age_group, age = demographics or (None, None, None)
        return self._user_tower(users, pooled, pooled_ids, count, gender, age_group, age=age)

    def _user_tower(
        self,
        users: torch.Tensor,
        pooled: torch.Tensor,
        pooled_ids: torch.Tensor,
        count: torch.Tensor,
        gender: torch.Tensor | None = None,
        age_group: torch.Tensor | None = None,
        id_dropout: float = 0.0,
        age: torch.Tensor | None = None,
    ) -> torch.Tensor:
        known = users >= 0
        safe = users.clamp(min=0)
        if gender is None:
            gender = torch.where(known, self.gender[safe], len(s.GENDER_VALUES) - 1)
        if age_group is None:
            unknown_group = len(s.age_group_labels()) - 1
            age_group = torch.where(known, self.age_group[safe], unknown_group)
        ids = torch.where(known, users, torch.full_like(users, self.n_users))
        if age is None:
            age = torch.where(known, self.age[safe], float("nan"))
        age = age_basis(age)
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
