"""A fitted MusicPreprocessor on disk: scalers and vectorizers as joblib files next to a JSON
manifest of the rest of its state. Joblib files are pickles: load trusted folders only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import joblib
import sklearn

from musicrec_core.data.column_values import encoded_column

if TYPE_CHECKING:
    from musicrec_core.data.preprocessing import MusicPreprocessor

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
SCALERS_FILE = "scalers.joblib"
VECTORIZERS_FILE = "vectorizers.joblib"


def write_state(folder: Path, scalers: dict, vectorizers: dict, saved: dict) -> Path:
    """The fitted scalers and vectorizers and the manifest ``saved`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(scalers, folder / SCALERS_FILE)
    joblib.dump(vectorizers, folder / VECTORIZERS_FILE)
    (folder / MANIFEST_FILE).write_text(json.dumps(saved, indent=2))
    return folder


def read_manifest(folder: Path) -> dict:
    """The manifest in ``folder``, if this code reads its format."""
    saved = json.loads((folder / MANIFEST_FILE).read_text())
    if saved.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{folder} holds preprocessor format {saved.get('format_version')!r}, "
            f"this code reads format {FORMAT_VERSION}"
        )
    return saved


def read_fitted(folder: Path) -> tuple[dict, dict]:
    """The fitted scalers and vectorizers in ``folder``."""
    try:
        return joblib.load(folder / SCALERS_FILE), joblib.load(folder / VECTORIZERS_FILE)
    except (ModuleNotFoundError, AttributeError) as error:
        raise ValueError(
            f"{folder} was saved by a version of musicrec whose modules have since moved "
            f"({error}): rematerialise the preprocessor and the model"
        ) from error


def manifest(pre: MusicPreprocessor) -> dict:
    """The fitted state that is not a fitted sklearn object, as JSON-ready values."""
    return {
        "format_version": FORMAT_VERSION,
        "sklearn_version": sklearn.__version__,
        "config": {
            "handle_outliers": pre.handle_outliers,
            "reference_year": pre.reference_year,
            "text_max_features": pre.text_max_features,
        },
        "fit_rows": pre.fit_rows,
        "numeric_columns": pre.numeric_columns,
        "fill_values": pre.fill_values,
        "cap_bounds": {col: list(bounds) for col, bounds in pre.cap_bounds.items()},
        "categories": pre.categories,
        "encoded_columns": {col: encoded_column(col) for col in pre.categories},
        "text_columns": {
            col: len(vectorizer.vocabulary_) for col, vectorizer in pre.vectorizers.items()
        },
        "features_used": pre.features_used,
        "features_skipped": pre.features_skipped,
        "steps": pre.steps,
        "files": {"scalers": SCALERS_FILE, "vectorizers": VECTORIZERS_FILE},
    }
