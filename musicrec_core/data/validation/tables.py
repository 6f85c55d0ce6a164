"""Per table: which rows are rejected and why, and how each validated column is made.

A ``TableRules`` describes one table for ``validation.batch``: the parsed columns it adds to
the raw text (stripped, with "no value" spellings as NULL, as every reader writes it), the
rejection checks in the order they apply (a row gets the first that
fails), the key of duplicates, the imputed-value logs and the validated columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from musicrec_core.data import schema as s
from musicrec_core.data.validation import rules as r
from musicrec_core.data.warehouse import quoted


@dataclass(frozen=True)
class Check:
    """A rejection: the SQL condition, the column it names and the reason."""

    condition: str
    column: str | None
    reason: str
    value: str | None = None  # SQL of the value logged; the column's own text by default
    reason_column: str | None = None  # a column holding the reason, instead of ``reason``

    @property
    def reason_sql(self) -> str:
        return self.reason_column or r.sql_text(self.reason)

    @property
    def logged_value(self) -> str:
        if self.value is not None:
            return self.value
        return "NULL" if self.column is None else f"CAST({quoted(self.column)} AS VARCHAR)"


@dataclass(frozen=True)
class ImputedLog:
    """A value replaced by an imputed one: the condition, the column and what was wrong."""

    condition: str
    column: str
    problem: str

    @property
    def reason(self) -> str:
        return r.imputed_reason(self.column, self.problem)


@dataclass(frozen=True)
class TableRules:
    """How one table is validated (see the module docstring)."""

    table: str
    parsed: dict[str, str]  # name -> SQL over the raw columns
    checks: list[Check]
    key: dict[str, str]  # validated column -> SQL over the parsed stage: the duplicate key
    early_checks: int  # how many checks come before the imputed logs of ``early_logs``
    numbers: tuple[r.NumericField, ...] = ()
    refined: dict[str, str] = field(default_factory=dict)  # name -> SQL over ``parsed``
    hashed: dict[str, str] = field(default_factory=dict)  # name -> SQL over ``refined``
    early_logs: list[ImputedLog] = field(default_factory=list)
    logs: list[ImputedLog] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # validated column -> SQL
    flags: dict[str, str] = field(default_factory=dict)  # imputed column -> SQL condition
    # A stored hash of the key (validated column, parsed column) to find earlier rows by
    key_hash: tuple[str, str] | None = None
    references: tuple[str, ...] = ()  # tables whose ids the rows must name (see known_ids)


def _read_error() -> Check:
    return Check(f"{s.READ_ERROR} IS NOT NULL", None, "", value="NULL", reason_column=s.READ_ERROR)


def _missing_ids(table: str) -> list[Check]:
    return [
        Check(f"{quoted(c)} IS NULL", c, f"{c} is missing: the row cannot be used")
        for c in s.REQUIRED_COLUMNS[table]
        if c != s.PLAYS
    ]


def _invalid_text(table: str) -> list[Check]:
    return [
        Check(r.holds_invalid_utf8(c), c, f"{c} holds bytes that are not valid UTF-8")
        for c in s.TABLE_COLUMNS[table]
    ]


def _number_logs(numbers: tuple[r.NumericField, ...]) -> list[ImputedLog]:
    return [
        ImputedLog(condition, field.column, problem)
        for field in numbers
        for condition, problem in field.problems()
    ]


def _numbers_parsed(numbers: tuple[r.NumericField, ...]) -> dict[str, str]:
    return {f.parsed: r.number(f.column, f.words) for f in numbers}


def _filled(field: r.NumericField) -> str:
    value = f"coalesce({field.valid}, _fill_{field.column})"
    return f"CAST(round({value}) AS BIGINT)" if field.integer else f"CAST({value} AS DOUBLE)"


def users_rules() -> TableRules:
    numbers = r.USER_NUMBERS
    gender = quoted(s.GENDER)
    return TableRules(
        table="users",
        parsed={**_numbers_parsed(numbers), "_gender": r.gender(s.GENDER)},
        checks=[_read_error(), *_missing_ids("users"), *_invalid_text("users")],
        key={s.USER_ID: quoted(s.USER_ID)},
        early_checks=0,
        numbers=numbers,
        logs=[
            *_number_logs(numbers),
            ImputedLog(
                f"{gender} IS NOT NULL AND _gender IS NULL",
                s.GENDER,
                f"is not one of {', '.join(s.GENDER_VALUES)}",
            ),
        ],
        columns={
            s.USER_ID: quoted(s.USER_ID),
            s.AGE: _filled(numbers[0]),
            s.GENDER: f"coalesce(_gender, {r.sql_text(s.GENDER_UNKNOWN)})",
        },
        flags={s.AGE: f"{numbers[0].valid} IS NULL", s.GENDER: "_gender IS NULL"},
    )


def tracks_rules() -> TableRules:
    numbers = r.TRACK_NUMBERS
    date = quoted(s.RELEASE_DATE)
    bad_date = f"{date} IS NOT NULL AND _year IS NULL"

    def text(col: str, fill: str = "") -> str:
        return f"coalesce({quoted(col)}, {r.sql_text(fill)})"

    columns = {
        s.TRACK_ID: quoted(s.TRACK_ID),
        s.TRACK_NAME: text(s.TRACK_NAME),
        s.ARTIST_NAME: text(s.ARTIST_NAME),
        s.FEATURED_ARTISTS: text(s.FEATURED_ARTISTS),
        s.GENRE: text(s.GENRE, s.GENRE_UNKNOWN),
        s.RELEASE_DATE: f"CASE WHEN _year IS NULL THEN '' ELSE {date} END",
        s.RELEASE_YEAR: "CAST(coalesce(_year, _fill_release_year) AS BIGINT)",
        **{f.column: _filled(f) for f in numbers},
    }
    flags = {
        s.TRACK_NAME: f"{quoted(s.TRACK_NAME)} IS NULL",
        s.ARTIST_NAME: f"{quoted(s.ARTIST_NAME)} IS NULL",
        s.RELEASE_DATE: "_year IS NULL",
        s.GENRE: f"{quoted(s.GENRE)} IS NULL",
        **{f.column: f"{f.valid} IS NULL" for f in numbers},
    }
    return TableRules(
        table="tracks",
        parsed={**_numbers_parsed(numbers), "_year": r.release_year(s.RELEASE_DATE)},
        checks=[_read_error(), *_missing_ids("tracks"), *_invalid_text("tracks")],
        key={s.TRACK_ID: quoted(s.TRACK_ID)},
        early_checks=0,
        numbers=numbers,
        logs=[
            ImputedLog(
                bad_date, s.RELEASE_DATE, "is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD"
            ),
            *_number_logs(numbers),
        ],
        columns=columns,
        flags=flags,
    )


def known_ids(table: str) -> str:
    """The temporary table ``validation.batch`` fills with the batch's ids that ``table`` has:
    a handful to look a play's reference up in, instead of the whole table."""
    return f"_known_{table}"


def plays_rules(check_users: bool, check_tracks: bool) -> TableRules:
    """Plays; unknown users and tracks are rejected only when those tables were delivered."""
    plays, low, high = quoted(s.PLAYS), *s.PLAYS_RANGE
    count_checks = [
        Check(f"{plays} IS NULL", s.PLAYS, "plays is missing: a play count is required"),
        Check("_count IS NULL", s.PLAYS, "plays is not a number"),
        Check(
            f"_count < {low}", s.PLAYS, f"plays is below {low}: a play count must be at least {low}"
        ),
        Check(f"_count > {high}", s.PLAYS, f"plays is above {high:,}: not a plausible play count"),
        Check("_count <> floor(_count)", s.PLAYS, "plays is not a whole number"),
    ]
    early = [_read_error(), *_missing_ids("plays"), *_invalid_text("plays"), *count_checks]
    referenced = tuple(
        table for table, check in (("users", check_users), ("tracks", check_tracks)) if check
    )
    references = []
    for table in referenced:
        col = s.REQUIRED_COLUMNS[table][0]
        known = f"SELECT {quoted(col)} FROM {known_ids(table)}"
        references.append(
            Check(f"{quoted(col)} NOT IN ({known})", col, f"{col} is not in the {table} table")
        )
    bad_time = f"{quoted(s.PLAYED_AT)} IS NOT NULL AND _played_at IS NULL"
    first, last = r.TIMESTAMP_RANGE
    return TableRules(
        table="plays",
        parsed={"_count": r.number(s.PLAYS), "_timestamp": r.timestamp(s.PLAYED_AT)},
        refined={
            "_played_at": f"CASE WHEN _timestamp BETWEEN TIMESTAMP '{first}' "
            f"AND TIMESTAMP '{last}' THEN _timestamp END"
        },
        hashed={"_play_key": f"hash({quoted(s.USER_ID)}, {quoted(s.TRACK_ID)}, _played_at)"},
        key_hash=(s.PLAY_KEY, "_play_key"),
        checks=[*early, *references],
        references=referenced,
        key={
            s.USER_ID: quoted(s.USER_ID),
            s.TRACK_ID: quoted(s.TRACK_ID),
            s.PLAYED_AT: "_played_at",
        },
        early_checks=len(early),
        early_logs=[
            ImputedLog(
                bad_time, s.PLAYED_AT, f"is not a timestamp ({r.TIMESTAMP_FORMATS} expected)"
            )
        ],
        columns={
            s.USER_ID: quoted(s.USER_ID),
            s.TRACK_ID: quoted(s.TRACK_ID),
            s.PLAYS: "CAST(_count AS BIGINT)",
            s.PLAYED_AT: "_played_at",
            s.PLAY_KEY: "_play_key",
        },
        flags={s.PLAYED_AT: bad_time},
    )


# SQL types of the validated tables, column by column (provenance is added by the batch).
VALIDATED_TYPES = {
    "users": {s.USER_ID: "VARCHAR", s.AGE: "BIGINT", s.GENDER: "VARCHAR"},
    "tracks": {
        **{c: "VARCHAR" for c in (s.TRACK_ID, *s.TRACK_TEXT_COLUMNS, s.RELEASE_DATE)},
        s.RELEASE_YEAR: "BIGINT",
        s.DURATION: "DOUBLE",
        **{c: "DOUBLE" for c in s.AUDIO_RANGES},
        **{c: "BIGINT" for c in s.INTEGER_RANGES},
    },
    "plays": {
        s.USER_ID: "VARCHAR",
        s.TRACK_ID: "VARCHAR",
        s.PLAYS: "BIGINT",
        s.PLAYED_AT: "TIMESTAMP",
        s.PLAY_KEY: "UBIGINT",
    },
}
