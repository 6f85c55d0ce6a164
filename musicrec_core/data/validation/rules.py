"""What a valid field is, written as DuckDB SQL over a raw text column.

Each function returns a SQL expression; ``validation.batch`` composes them into the statements
that split a delivery into validated rows and quarantine records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from musicrec_core.data import schema as s
from musicrec_core.data.warehouse import quoted

INVALID_UTF8 = "\ufffd"
# "YYYY", "YYYY-MM" or "YYYY-MM-DD"; group 1 is the year.
_RELEASE_DATE = r"^\s*([0-9]{4})(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12][0-9]|3[01]))?)?\s*$"
# Epoch time: a number with at least nine digits before any decimal point (from 1973 on).
_EPOCH = r"[0-9]{9,}(\.[0-9]+)?"
EPOCH_MILLISECONDS_FROM = 1e11  # below: seconds (up to the year 5138); from here: milliseconds
EPOCH_LIMIT = 1e14
# A UTC offset or "Z" after a time of day, with or without a space before it.
_OFFSET = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s*([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)$"
_ISO_LENGTH = len("YYYY-MM-DD HH:MM:SS")
# Timestamps pandas can hold (nanoseconds since 1970 in 64 bits).
TIMESTAMP_RANGE = ("1677-09-22", "2262-04-11")
TIMESTAMP_FORMATS = "ISO 8601 or epoch seconds or milliseconds"


def sql_text(value: str) -> str:
    """A Python string as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def holds_invalid_utf8(column: str) -> str:
    """True where the (decoded) text holds a replacement character for undecodable bytes."""
    return f"contains({quoted(column)}, {sql_text(INVALID_UTF8)})"


def number(column: str, words: Mapping[str, int] | None = None) -> str:
    """The column read as a DOUBLE as pandas.to_numeric reads it (decimal or scientific
    notation, infinities), NULL where it is not a number; ``words`` map text to numbers."""
    col = quoted(column)
    parsed = f"CASE WHEN contains({col}, '_') THEN NULL ELSE TRY_CAST({col} AS DOUBLE) END"
    if not words:
        return parsed
    mapped = " ".join(f"WHEN {sql_text(k)} THEN {v}" for k, v in words.items())
    return f"coalesce({parsed}, CASE lower({col}) {mapped} END)"


def release_year(column: str) -> str:
    """The year of a release date written YYYY, YYYY-MM or YYYY-MM-DD, NULL otherwise or when
    outside the schema's year range."""
    low, high = s.YEAR_RANGE
    year = f"TRY_CAST(regexp_extract({quoted(column)}, '{_RELEASE_DATE}', 1) AS INTEGER)"
    return f"CASE WHEN {year} BETWEEN {low} AND {high} THEN {year} END"


def gender(column: str) -> str:
    """The schema's gender code of the column's text, NULL when it names none."""
    cases = " ".join(f"WHEN {sql_text(k)} THEN {sql_text(v)}" for k, v in s.GENDER_ALIASES.items())
    return f"CASE lower({quoted(column)}) {cases} END"


def timestamp(column: str) -> str:
    """The column as a UTC TIMESTAMP, NULL where it is not one of ``TIMESTAMP_FORMATS``; the
    caller bounds it to ``TIMESTAMP_RANGE``.

    ISO 8601 without an offset is taken as UTC; with one it is converted to UTC. A plain number
    of at least nine digits is epoch time: seconds below 10^11, milliseconds from there to
    10^14 (the two overlap nowhere between 1973 and 5138). The usual "YYYY-MM-DD HH:MM:SS"
    takes the fast path: one cast."""
    col = quoted(column)
    value = f"TRY_CAST({col} AS DOUBLE)"
    epoch = (
        f"CASE WHEN {value} < {EPOCH_MILLISECONDS_FROM:.0f} "
        f"THEN make_timestamp(CAST(round({value} * 1e6) AS BIGINT)) "
        f"WHEN {value} < {EPOCH_LIMIT:.0f} "
        f"THEN make_timestamp(CAST(round({value} * 1e3) AS BIGINT)) END"
    )
    offset = (
        f"timezone('UTC', TRY_CAST(regexp_replace({col}, "
        r"'\s+([+-][0-9]{2}(:?[0-9]{2})?|[zZ])$', '\1') AS TIMESTAMPTZ))"
    )
    rare = (
        f"CASE WHEN regexp_full_match({col}, '{_EPOCH}') THEN {epoch} "
        f"WHEN regexp_full_match({col}, '[0-9]{{4}}') "
        f"THEN TRY_CAST({col} || '-01-01' AS TIMESTAMP) "
        f"WHEN regexp_full_match({col}, '[0-9]{{4}}-[0-9]{{2}}') "
        f"THEN TRY_CAST({col} || '-01' AS TIMESTAMP) "
        f"WHEN regexp_full_match({col}, '[0-9]{{8}}') THEN try_strptime({col}, '%Y%m%d') END"
    )
    return (
        f"CASE WHEN length({col}) > {_ISO_LENGTH} AND regexp_matches({col}, '{_OFFSET}') "
        f"THEN {offset} ELSE coalesce(TRY_CAST({col} AS TIMESTAMP), {rare}) END"
    )


@dataclass(frozen=True)
class NumericField:
    """An optional numeric field: its range, whether it is whole, and words that mean numbers.

    Values that are not numbers, out of range or (for whole fields) fractional are replaced by
    the median of the valid ones, and the replaced value is logged to quarantine."""

    column: str
    bounds: tuple[float, float]
    integer: bool
    words: Mapping[str, int] | None = None

    @property
    def parsed(self) -> str:
        return f"_n_{self.column}"

    @property
    def valid(self) -> str:
        return f"_v_{self.column}"

    def problems(self) -> list[tuple[str, str]]:
        """(SQL condition over the parsed column, what is wrong), in the order they are logged."""
        col, n = quoted(self.column), self.parsed
        low, high = self.bounds
        out_of_range = f"({n} < {low} OR {n} > {high})"
        found = [
            (f"{col} IS NOT NULL AND {n} IS NULL", "is not a number"),
            (
                f"{n} IS NOT NULL AND {out_of_range}",
                f"is outside the allowed range [{low:g}, {high:g}]",
            ),
        ]
        if self.integer:
            fractional = f"{n} IS NOT NULL AND {n} <> floor({n}) AND NOT {out_of_range}"
            found.append((fractional, "is not a whole number"))
        return found

    def valid_value(self) -> str:
        """The parsed value where it is valid, NULL where it is missing or invalid."""
        low, high = self.bounds
        whole = f" AND {self.parsed} = floor({self.parsed})" if self.integer else ""
        return f"CASE WHEN {self.parsed} BETWEEN {low} AND {high}{whole} THEN {self.parsed} END"


def imputed_reason(column: str, problem: str) -> str:
    """The quarantine reason for a value that was replaced by an imputed one."""
    return f"{column} {problem}; the value was replaced by an imputed one"


USER_NUMBERS = (NumericField(s.AGE, s.AGE_RANGE, integer=True),)
TRACK_NUMBERS = (
    NumericField(s.DURATION, s.DURATION_RANGE, integer=False),
    *(NumericField(c, b, integer=False) for c, b in s.AUDIO_RANGES.items()),
    *(NumericField(c, b, integer=True, words=s.BOOLEAN_TEXT) for c, b in s.INTEGER_RANGES.items()),
)
