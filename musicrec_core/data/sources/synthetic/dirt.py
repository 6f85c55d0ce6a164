"""Injected dirty rows: bad values per table and column, plus exact duplicates.

They give the validation and cleaning steps something real to catch."""

from __future__ import annotations

import numpy as np
import pandas as pd

from musicrec_core.data import schema

# --- dirty rows ------------------------------------------------------------------------------
_MISSING = (None, "")
_DIRT: dict[str, dict[str, dict[str, tuple[str | None, ...]]]] = {
    "users": {
        "missing_optional": {schema.AGE: _MISSING, schema.GENDER: _MISSING},
        "missing_required": {schema.USER_ID: _MISSING},
        "out_of_range": {schema.AGE: ("0", "2", "-3", "130", "250")},
        "unparsable": {schema.AGE: ("abc", "twenty", "3o")},
        "unknown_gender": {schema.GENDER: ("Q", "Z", "7", "mf", "?")},
    },
    "tracks": {
        "missing_optional": {
            col: _MISSING
            for col in (
                schema.TRACK_NAME,
                schema.GENRE,
                schema.RELEASE_DATE,
                schema.DURATION,
                schema.ENERGY,
                schema.TEMPO,
                schema.LOUDNESS,
                schema.KEY,
                schema.EXPLICIT,
            )
        },
        "missing_required": {schema.TRACK_ID: _MISSING},
        "out_of_range": {
            schema.ENERGY: ("1.7", "-0.2"),
            schema.DANCEABILITY: ("1.35", "-0.5"),
            schema.TEMPO: ("-5", "420.0"),
            schema.LOUDNESS: ("12.5", "-75.0"),
            schema.DURATION: ("-1.5", "95.0"),
            schema.KEY: ("14", "-3"),
            schema.TIME_SIGNATURE: ("9", "-1"),
            schema.MODE: ("2",),
            schema.EXPLICIT: ("3",),
        },
        "unparsable": {
            schema.ENERGY: ("abc", "high"),
            schema.TEMPO: ("fast", "1.2.3"),
            schema.DURATION: ("abc", "3:45"),
            schema.KEY: ("C#", "abc"),
            schema.RELEASE_DATE: ("someday", "abc"),
        },
    },
    "plays": {
        "missing_optional": {schema.PLAYED_AT: _MISSING},
        "missing_required": {schema.USER_ID: _MISSING, schema.PLAYS: _MISSING},
        "out_of_range": {schema.PLAYS: ("0", "-1", "-3")},
        "unparsable": {
            schema.PLAYS: ("abc", "many", "1e"),
            schema.PLAYED_AT: ("yesterday", "2024-02-30 25:61:00"),
        },
    },
}
_KIND_WEIGHTS = {
    "missing_optional": 5.0,
    "missing_required": 1.0,
    "out_of_range": 4.0,
    "unparsable": 3.0,
    "unknown_gender": 3.0,
    "duplicate": 4.0,
}
_DUPLICATE = "duplicate"


# --- dirt ------------------------------------------------------------------------------------
def inject_dirt(
    frame: pd.DataFrame, table: str, rate: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Spoil ``rate`` of the rows in place, one defect each, and append exact duplicates."""
    kinds = [*_DIRT[table], _DUPLICATE]
    weights = np.array([_KIND_WEIGHTS[kind] for kind in kinds])
    counts = rng.multinomial(round(rate * len(frame)), weights / weights.sum())
    rows = np.split(
        rng.choice(len(frame), size=int(counts.sum()), replace=False), np.cumsum(counts)[:-1]
    )
    rows_by_kind = dict(zip(kinds, rows, strict=True))
    for kind, bad_values in _DIRT[table].items():
        _spoil(frame, rows_by_kind[kind], bad_values, rng)
    duplicates = frame.iloc[np.sort(rows_by_kind[_DUPLICATE])]
    frame = pd.concat([frame, duplicates], ignore_index=True)
    return frame, {kind: len(chosen) for kind, chosen in rows_by_kind.items()}


def _spoil(
    frame: pd.DataFrame,
    rows: np.ndarray,
    bad_values: dict[str, tuple[str | None, ...]],
    rng: np.random.Generator,
) -> None:
    """Overwrite one column per row with one of that column's bad values, in place."""
    columns = list(bad_values)
    column_of_row = rng.integers(len(columns), size=len(rows))
    for i, col in enumerate(columns):
        targets = rows[column_of_row == i]
        values = np.asarray(bad_values[col], dtype=object)
        frame.iloc[targets, frame.columns.get_loc(col)] = values[
            rng.integers(len(values), size=len(targets))
        ]
