"""The hybrid's inputs: each catalogue track's content and each user's demographics as arrays.

``CatalogueInputs`` turns the track and user catalogues, through a fitted preprocessor, into the
padded TF-IDF rows, clipped numeric features, release-year codes and demographic codes that the
towers embed; saved models rebuild an empty one of the same shapes before loading weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from musicrec_core.data import features
from musicrec_core.data import schema as s
from musicrec_core.data.preprocessing import MusicPreprocessor

YEAR_BASE = s.YEAR_RANGE[0]
N_YEARS = s.YEAR_RANGE[1] - s.YEAR_RANGE[0] + 1  # one more index is "unknown"
NUMERIC_CLIP = 5.0  # robust-scaled values beyond this are outliers, not signal


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


def listener_demographics(
    listeners: pd.DataFrame, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gender codes, age-group codes and ages of listeners outside the catalogue, as the user
    tower reads them."""
    gender, age_group = demographic_codes(listeners)
    return (
        torch.as_tensor(gender, device=device),
        torch.as_tensor(age_group, device=device),
        torch.as_tensor(user_ages(listeners), device=device),
    )
