"""The data path as it was before the warehouse: pandas from file to split, kept only as the
baseline that bench/scale_data.py measures the warehouse path against in the same run.

Readers load a whole file as one Python string, validation and features work on pandas object
columns, the split on a sorted frame. Its quarantine columns, registry and delivery numbers
are the old ones (no ``delivery``, no ``read_error``).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd

from musicrec_core.data import SplitConfig, ValidatedCatalogue, features
from musicrec_core.data import schema as s
from musicrec_core.data.sources import NA_STRINGS, canonical_column

OLD_QUARANTINE_COLUMNS = [c for c in s.QUARANTINE_COLUMNS if c != s.DELIVERY]
TRAIN, VALIDATION, TEST, COLD_USER, COLD_TRACK = (
    "train",
    "validation",
    "test",
    "cold_user",
    "cold_track",
)
_DELIMITERS = ",\t;|"


# --- readers ---------------------------------------------------------------------------------
def read_table_file(path: Path, table: str) -> pd.DataFrame:
    """A users/tracks/plays file read whole into a raw frame of text values."""
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    header = text.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(header, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    frame = pd.read_csv(
        io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, skipinitialspace=True
    )
    renamed = {}
    for original in frame.columns:
        name = canonical_column(str(original))
        if name in s.TABLE_COLUMNS[table] and name not in renamed.values():
            renamed[original] = name
    out = frame[list(renamed)].rename(columns=renamed)
    raw = pd.DataFrame(index=range(len(out)))
    for col in s.TABLE_COLUMNS[table]:
        raw[col] = as_text(out[col]) if col in out.columns else None
    raw[s.SOURCE_FILE] = str(path)
    raw[s.SOURCE_ROW] = pd.RangeIndex(1, len(raw) + 1, dtype="int64")
    return raw


def as_text(values: pd.Series) -> pd.Series:
    """Values as stripped strings, with the usual "no value" spellings turned into None."""
    text = values.astype("string").str.strip()
    missing = (text.isna() | text.str.lower().isin(NA_STRINGS)).fillna(True).astype(bool)
    return text.astype(object).where(~missing, None)


# --- validation ------------------------------------------------------------------------------

DERIVED_SOURCE = "derived:plays"
_INVALID_UTF8 = "\ufffd"


class _Quarantine:
    """Collects quarantine records table by table."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        table: str,
        rows: pd.DataFrame,
        column: str,
        values: pd.Series,
        reason: str,
        action: str,
    ) -> None:
        if rows.empty:
            return
        self.parts.append(
            pd.DataFrame(
                {
                    s.QUARANTINE_TABLE: table,
                    s.SOURCE_FILE: rows[s.SOURCE_FILE].astype(str).to_numpy(),
                    s.SOURCE_ROW: rows[s.SOURCE_ROW].astype("int64").to_numpy(),
                    s.QUARANTINE_COLUMN: column,
                    s.QUARANTINE_VALUE: values.astype(object)
                    .where(values.notna(), None)
                    .map(lambda v: None if v is None else str(v))
                    .to_numpy(),
                    s.QUARANTINE_REASON: reason,
                    s.QUARANTINE_ACTION: action,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return empty_quarantine()
        return pd.concat(self.parts, ignore_index=True)[OLD_QUARANTINE_COLUMNS]


def empty_quarantine() -> pd.DataFrame:
    """A quarantine table with no rows and the right columns."""
    return pd.DataFrame(
        {
            col: pd.Series(dtype="int64" if col == s.SOURCE_ROW else object)
            for col in OLD_QUARANTINE_COLUMNS
        }
    )


class _TableValidator:
    """Validation state for one table: the working frame, alive rows and imputed-field flags."""

    def __init__(self, table: str, raw: pd.DataFrame, quarantine: _Quarantine) -> None:
        self.table = table
        self.df = raw.reset_index(drop=True).copy()
        for col in s.TABLE_COLUMNS[table]:
            self.df[col] = as_text(self.df[col])
        self.alive = pd.Series(True, index=self.df.index)
        self.imputed: dict[str, pd.Series] = {}
        self.q = quarantine

    def reject(self, mask: pd.Series, column: str, reason: str) -> None:
        """Drop the alive rows in mask, logging each with the column, its value and the reason."""
        mask = mask & self.alive
        if not mask.any():
            return
        rows = self.df[mask]
        self.q.add(self.table, rows, column, rows[column], reason, s.ACTION_REJECTED)
        self.alive &= ~mask

    def flag(self, column: str, mask: pd.Series) -> None:
        self.imputed[column] = (
            self.imputed.get(column, pd.Series(False, index=self.df.index)) | mask
        )

    def reject_missing_ids(self) -> None:
        for col in s.REQUIRED_COLUMNS[self.table]:
            if col == s.PLAYS:
                continue
            self.reject(self.df[col].isna(), col, f"{col} is missing: the row cannot be used")

    def reject_invalid_text(self) -> None:
        for col in s.TABLE_COLUMNS[self.table]:
            values = self.df[col]
            bad = values.notna() & values.astype(str).str.contains(_INVALID_UTF8, regex=False)
            self.reject(bad, col, f"{col} holds bytes that are not valid UTF-8")

    def reject_duplicates(self, keys: list[str]) -> None:
        alive = self.df[self.alive]
        key_frame = alive[keys].astype(str)
        dup = key_frame.duplicated(keep="first")
        if not dup.any():
            return
        reason = f"duplicate {' + '.join(keys)}: an earlier row with the same key is kept"
        mask = pd.Series(False, index=self.df.index)
        mask[dup[dup].index] = True
        self.reject(mask, keys[0], reason)

    def optional_number(
        self, col: str, bounds: tuple[float, float], integer: bool, text_map: dict | None = None
    ) -> pd.Series:
        """Parse, range-check and impute an optional numeric field; returns the clean column."""
        raw = self.df[col]
        text = raw.astype("string").str.strip().str.lower()
        numbers = pd.to_numeric(text, errors="coerce").astype(float)
        if text_map:
            numbers = numbers.fillna(text.map(text_map).astype(float))
        present = raw.notna()
        not_number = present & numbers.isna()
        low, high = bounds
        out_of_range = numbers.notna() & ((numbers < low) | (numbers > high))
        fractional = (
            numbers.notna() & (numbers != np.round(numbers)) if integer else out_of_range & False
        )
        rng = f"[{low:g}, {high:g}]"
        alive = self.alive
        self._log_imputed(col, not_number & alive, "is not a number")
        self._log_imputed(col, out_of_range & alive, f"is outside the allowed range {rng}")
        self._log_imputed(col, fractional & ~out_of_range & alive, "is not a whole number")
        invalid = not_number | out_of_range | fractional
        numbers = numbers.mask(invalid)
        valid = numbers[alive & numbers.notna()]
        fill = valid.median() if len(valid) else s.IMPUTE_DEFAULTS[col]
        if integer:
            fill = round(fill)
        self.flag(col, numbers.isna())
        filled = numbers.fillna(fill)
        return filled.round().astype("int64") if integer else filled.astype(float)

    def _log_imputed(self, col: str, mask: pd.Series, problem: str) -> None:
        if not mask.any():
            return
        rows = self.df[mask]
        reason = f"{col} {problem}; the value was replaced by an imputed one"
        self.q.add(self.table, rows, col, rows[col], reason, s.ACTION_IMPUTED)

    def finish(self, columns: dict[str, pd.Series]) -> pd.DataFrame:
        """Assemble the validated frame from clean columns, alive rows only."""
        out = pd.DataFrame(columns, index=self.df.index)
        out[s.IMPUTED_COLUMNS] = _imputed_names(self.imputed, self.df.index)
        out[s.SOURCE_FILE] = self.df[s.SOURCE_FILE].astype(str)
        out[s.SOURCE_ROW] = self.df[s.SOURCE_ROW].astype("int64")
        return out[self.alive].reset_index(drop=True)


def _imputed_names(flags: dict[str, pd.Series], index: pd.Index) -> pd.Series:
    if not flags:
        return pd.Series("", index=index)
    names = np.array([f"{c}," for c in flags], dtype=object)
    matrix = np.column_stack([flags[c].to_numpy(bool) for c in flags])
    joined = pd.DataFrame(np.where(matrix, names, ""), index=index).sum(axis=1)
    return joined.str.rstrip(",")


def _text(df: pd.DataFrame, col: str, fill: str) -> pd.Series:
    return df[col].fillna(fill).astype(str)


def validate_users(raw: pd.DataFrame, q: _Quarantine) -> pd.DataFrame:
    """Typed, deduplicated users; unknown or invalid demographics imputed and flagged."""
    v = _TableValidator("users", raw, q)
    v.reject_missing_ids()
    v.reject_invalid_text()
    v.reject_duplicates([s.USER_ID])
    age = v.optional_number(s.AGE, s.AGE_RANGE, integer=True)
    text = v.df[s.GENDER].astype("string").str.strip()
    gender = text.str.lower().map(s.GENDER_ALIASES)
    unknown = text.notna() & gender.isna()
    v._log_imputed(s.GENDER, unknown & v.alive, f"is not one of {', '.join(s.GENDER_VALUES)}")
    v.flag(s.GENDER, gender.isna())
    columns = {
        s.USER_ID: v.df[s.USER_ID].astype(str),
        s.AGE: age,
        s.GENDER: gender.fillna(s.GENDER_UNKNOWN).astype(str),
    }
    return v.finish(columns)


def validate_tracks(raw: pd.DataFrame, q: _Quarantine) -> pd.DataFrame:
    """Typed, deduplicated tracks; missing or invalid content imputed and flagged."""
    v = _TableValidator("tracks", raw, q)
    v.reject_missing_ids()
    v.reject_invalid_text()
    v.reject_duplicates([s.TRACK_ID])
    df = v.df
    for col in (s.TRACK_NAME, s.ARTIST_NAME, s.RELEASE_DATE):
        v.flag(col, df[col].isna())
    v.flag(s.GENRE, df[s.GENRE].isna())
    year = features.parse_release_year(df[s.RELEASE_DATE]).astype("Float64").astype(float)
    bad_date = df[s.RELEASE_DATE].notna() & year.isna()
    v._log_imputed(
        s.RELEASE_DATE, bad_date & v.alive, "is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD"
    )
    v.flag(s.RELEASE_DATE, bad_date)
    valid_years = year[v.alive & year.notna()]
    year_fill = valid_years.median() if len(valid_years) else s.IMPUTE_DEFAULTS[s.RELEASE_YEAR]
    columns: dict[str, pd.Series] = {
        s.TRACK_ID: df[s.TRACK_ID].astype(str),
        s.TRACK_NAME: _text(df, s.TRACK_NAME, ""),
        s.ARTIST_NAME: _text(df, s.ARTIST_NAME, ""),
        s.FEATURED_ARTISTS: _text(df, s.FEATURED_ARTISTS, ""),
        s.GENRE: _text(df, s.GENRE, s.GENRE_UNKNOWN),
        s.RELEASE_DATE: _text(df, s.RELEASE_DATE, "").where(~bad_date, ""),
        s.RELEASE_YEAR: year.fillna(round(year_fill)).round().astype("int64"),
        s.DURATION: v.optional_number(s.DURATION, s.DURATION_RANGE, integer=False),
    }
    for col, bounds in s.AUDIO_RANGES.items():
        columns[col] = v.optional_number(col, bounds, integer=False)
    for col, bounds in s.INTEGER_RANGES.items():
        columns[col] = v.optional_number(col, bounds, integer=True, text_map=s.BOOLEAN_TEXT)
    return v.finish(columns)


def validate_plays(
    raw: pd.DataFrame,
    q: _Quarantine,
    known_users: pd.Series | None,
    known_tracks: pd.Series | None,
) -> pd.DataFrame:
    """Typed plays with a usable count; unknown users or tracks rejected when those tables exist."""
    v = _TableValidator("plays", raw, q)
    v.reject_missing_ids()
    v.reject_invalid_text()
    df = v.df
    v.reject(df[s.PLAYS].isna(), s.PLAYS, "plays is missing: a play count is required")
    count = pd.to_numeric(df[s.PLAYS].astype("string").str.strip(), errors="coerce").astype(float)
    v.reject(count.isna(), s.PLAYS, "plays is not a number")
    low, high = s.PLAYS_RANGE
    v.reject(count < low, s.PLAYS, f"plays is below {low}: a play count must be at least {low}")
    v.reject(count > high, s.PLAYS, f"plays is above {high:,}: not a plausible play count")
    v.reject(count != np.round(count), s.PLAYS, "plays is not a whole number")
    played_at = _parse_timestamps(df[s.PLAYED_AT])
    bad_time = df[s.PLAYED_AT].notna() & played_at.isna()
    v._log_imputed(s.PLAYED_AT, bad_time & v.alive, "is not a timestamp (ISO 8601 expected)")
    v.flag(s.PLAYED_AT, bad_time)
    if known_users is not None:
        unknown = ~df[s.USER_ID].isin(known_users)
        v.reject(unknown, s.USER_ID, "user_id is not in the users table")
    if known_tracks is not None:
        unknown = ~df[s.TRACK_ID].isin(known_tracks)
        v.reject(unknown, s.TRACK_ID, "track_id is not in the tracks table")
    df = df.assign(**{s.PLAYED_AT: played_at.astype(str)})
    v.df = df
    v.reject_duplicates([s.USER_ID, s.TRACK_ID, s.PLAYED_AT])
    columns = {
        s.USER_ID: df[s.USER_ID].astype(str),
        s.TRACK_ID: df[s.TRACK_ID].astype(str),
        s.PLAYS: count.fillna(0).round().astype("int64"),
        s.PLAYED_AT: played_at,
    }
    return v.finish(columns)


def _parse_timestamps(values: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    return parsed.dt.tz_convert(None).astype("datetime64[ns]")


def _derive(table: str, ids: pd.Series) -> pd.DataFrame:
    """Raw rows for ids seen only in plays: the id and nothing else, so every field is imputed."""
    unique = pd.Series(ids.unique(), dtype=object)
    raw = s.empty_raw_frame(table).reindex(range(len(unique)))
    raw[s.REQUIRED_COLUMNS[table][0]] = unique.to_numpy()
    raw[s.SOURCE_FILE] = DERIVED_SOURCE
    raw[s.SOURCE_ROW] = np.arange(1, len(unique) + 1, dtype="int64")
    return raw


def validate_catalogue(raw: s.RawTables) -> ValidatedCatalogue:
    """Validate users, tracks and plays together (plays must point at known users and tracks)."""
    q = _Quarantine()
    has_users, has_tracks = not raw.users.empty, not raw.tracks.empty
    users = validate_users(raw.users, q) if has_users else None
    tracks = validate_tracks(raw.tracks, q) if has_tracks else None
    plays = validate_plays(
        raw.plays,
        q,
        users[s.USER_ID] if users is not None else None,
        tracks[s.TRACK_ID] if tracks is not None else None,
    )
    derived: dict[str, int] = {}
    if users is None:
        users = validate_users(_derive("users", plays[s.USER_ID]), q)
        derived["users"] = len(users)
    if tracks is None:
        tracks = validate_tracks(_derive("tracks", plays[s.TRACK_ID]), q)
        derived["tracks"] = len(tracks)
    quarantine = q.frame()
    return ValidatedCatalogue(users, tracks, plays, quarantine, derived)


# --- features --------------------------------------------------------------------------------
def build_interactions(plays: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, track): total plays, last play time (NaT if unknown) and plays_log."""
    keys = [s.USER_ID, s.TRACK_ID]
    grouped = plays.groupby(keys, sort=True, observed=True).agg(
        **{s.PLAYS: (s.PLAYS, "sum"), s.PLAYED_AT: (s.PLAYED_AT, "max")}
    )
    out = grouped.reset_index()
    out[s.PLAYS] = out[s.PLAYS].astype("int64")
    out[s.PLAYED_AT] = pd.to_datetime(out[s.PLAYED_AT])
    out[s.PLAYS_LOG] = np.log1p(out[s.PLAYS].astype(float))
    return out[[*keys, s.PLAYS, s.PLAYED_AT, s.PLAYS_LOG]]


def user_features(users: pd.DataFrame, interactions: pd.DataFrame) -> pd.DataFrame:
    """Validated users plus age group (Unknown where age was imputed) and listening activity."""
    out = features.add_user_features(users)
    age_imputed = out[s.IMPUTED_COLUMNS].str.contains(rf"(?:^|,){s.AGE}(?:,|$)")
    out.loc[age_imputed, s.AGE_GROUP] = s.AGE_GROUP_UNKNOWN
    activity = interactions.groupby(s.USER_ID).agg(
        n_tracks=(s.TRACK_ID, "size"), total_plays=(s.PLAYS, "sum")
    )
    out = out.join(activity, on=s.USER_ID)
    out[["n_tracks", "total_plays"]] = out[["n_tracks", "total_plays"]].fillna(0).astype("int64")
    return out


def track_features(
    tracks: pd.DataFrame, interactions: pd.DataFrame, reference_year: int | None = None
) -> pd.DataFrame:
    """Validated tracks plus music age, interaction features and listener counts."""
    year = reference_year or dt.datetime.now(dt.UTC).year
    out = features.add_track_features(tracks, year)
    listeners = interactions.groupby(s.TRACK_ID).agg(
        n_listeners=(s.USER_ID, "size"), total_plays=(s.PLAYS, "sum")
    )
    out = out.join(listeners, on=s.TRACK_ID)
    out[["n_listeners", "total_plays"]] = (
        out[["n_listeners", "total_plays"]].fillna(0).astype("int64")
    )
    return out


# --- split -----------------------------------------------------------------------------------
def split_interactions(interactions: pd.DataFrame, config: SplitConfig) -> pd.DataFrame:
    """Return the interactions with a ``split`` column naming the part each belongs to."""
    rng = np.random.default_rng(config.seed)
    df = interactions.reset_index(drop=True).copy()
    df[s.SPLIT] = TRAIN
    cold_tracks = _sample(df[s.TRACK_ID].unique(), config.cold_track_fraction, rng)
    df.loc[df[s.TRACK_ID].isin(cold_tracks), s.SPLIT] = COLD_TRACK

    warm = df[s.SPLIT] == TRAIN
    per_user = df[warm].groupby(s.USER_ID).size()
    eligible = per_user[per_user >= config.min_user_interactions].index.to_numpy()
    cold_users = _sample(eligible, config.cold_user_fraction, rng)
    df.loc[warm & df[s.USER_ID].isin(cold_users), s.SPLIT] = COLD_USER

    holdout = (
        (df[s.SPLIT] == TRAIN) & df[s.USER_ID].isin(eligible) & ~df[s.USER_ID].isin(cold_users)
    )
    df.loc[holdout, s.SPLIT] = _holdout_labels(df[holdout], config, rng)
    return df


def _sample(values: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    count = round(len(values) * fraction)
    if count == 0:
        return values[:0]
    return rng.choice(np.sort(values), size=count, replace=False)


def _holdout_labels(df: pd.DataFrame, config: SplitConfig, rng: np.random.Generator) -> pd.Series:
    """Label each user's latest interactions test, the ones before validation, the rest train."""
    order = df.assign(_tiebreak=rng.random(len(df)))
    order = order.sort_values([s.USER_ID, s.PLAYED_AT, "_tiebreak"], na_position="first")
    position = order.groupby(s.USER_ID).cumcount()
    size = order.groupby(s.USER_ID)[s.USER_ID].transform("size")
    from_end = size - 1 - position
    n_test = np.ceil(size * config.test_fraction).astype(int)
    n_val = np.ceil(size * config.validation_fraction).astype(int)
    labels = np.where(
        from_end < n_test, TEST, np.where(from_end < n_test + n_val, VALIDATION, TRAIN)
    )
    return pd.Series(labels, index=order.index).reindex(df.index)
