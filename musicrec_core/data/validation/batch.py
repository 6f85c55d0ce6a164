"""Validate one delivery's raw rows in the warehouse: every row ends in a validated table or in
quarantine, with a reason.

Rows that cannot be used (no id, no usable play count, duplicates, unknown references, a row
that could not be split into fields) are rejected. Optional content and demographic fields that
are missing or invalid are imputed with the median of the valid values (the delivery's and
those already validated) and named in ``imputed_columns``; an invalid value that was replaced is
also logged to quarantine with action "imputed", so no input value disappears without a record.
A delivery is checked against what earlier deliveries left: a key already validated is a
duplicate, and plays must point at users and tracks validated so far.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import duckdb

from musicrec_core.data import schema as s
from musicrec_core.data.validation import rules as r
from musicrec_core.data.validation.tables import (
    VALIDATED_TYPES,
    TableRules,
    known_ids,
    plays_rules,
    tracks_rules,
    users_rules,
)
from musicrec_core.data.warehouse import QUARANTINE, RAW, VALIDATED, quoted, row_count, table_exists

logger = logging.getLogger(__name__)

DERIVED_SOURCE = "derived:plays"
_KEY_OF = {"users": s.USER_ID, "tracks": s.TRACK_ID}
_FILL = re.compile(r"\b_fill_(\w+)\b")


@dataclass
class DeliveryResult:
    """What validating one delivery did, per table: rows validated, rejected and derived."""

    delivery: int
    validated: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the validated tables and quarantine if they do not exist yet."""
    provenance = (
        f"{s.IMPUTED_COLUMNS} VARCHAR, {s.SOURCE_FILE} VARCHAR, {s.SOURCE_ROW} BIGINT, "
        f"{s.DELIVERY} BIGINT"
    )
    for table, types in VALIDATED_TYPES.items():
        columns = ", ".join(f"{quoted(c)} {t}" for c, t in types.items())
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {quoted(VALIDATED[table])} ({columns}, {provenance})"
        )
    quarantine = ", ".join(
        f"{quoted(c)} {'BIGINT' if c in (s.SOURCE_ROW, s.DELIVERY) else 'VARCHAR'}"
        for c in s.QUARANTINE_COLUMNS
    )
    con.execute(f"CREATE TABLE IF NOT EXISTS {QUARANTINE} ({quarantine})")


def validate_delivery(con: duckdb.DuckDBPyConnection, delivery: int) -> DeliveryResult:
    """Validate the raw users, tracks and plays of one delivery, in that order."""
    ensure_tables(con)
    result = DeliveryResult(delivery)
    source = "{raw} WHERE " + f"{s.DELIVERY} = {int(delivery)}"
    for rules in (users_rules(), tracks_rules()):
        _validate(con, rules, source.format(raw=quoted(RAW[rules.table])), result)
        _replace_derived(con, rules.table, delivery)
    delivered = {
        table: row_count(con, RAW[table], f"{s.DELIVERY} <= ?", [delivery]) > 0 for table in _KEY_OF
    }
    plays = plays_rules(check_users=delivered["users"], check_tracks=delivered["tracks"])
    _validate(con, plays, source.format(raw=quoted(RAW["plays"])), result)
    for table, was_delivered in delivered.items():
        if not was_delivered:
            _derive(con, table, delivery, result)
    logger.info(
        "delivery %d: validated %s, rejected %s, derived %s",
        delivery,
        result.validated,
        result.rejected,
        result.derived,
    )
    return result


def _validate(
    con: duckdb.DuckDBPyConnection, rules: TableRules, source: str, result: DeliveryResult
) -> None:
    table = rules.table
    result.validated.setdefault(table, 0)
    result.rejected.setdefault(table, 0)
    _stage(con, rules, source)
    if not row_count(con, "_batch"):
        return
    _mark_duplicates(con, rules)
    rejected = _quarantine(con, rules)
    fills = _fills(con, rules)
    columns = ", ".join(
        f"{_FILL.sub(lambda m: fills[m.group(1)], sql)} AS {quoted(c)}"
        for c, sql in rules.columns.items()
    )
    imputed = ", ".join(
        f"CASE WHEN {cond} THEN {r.sql_text(c)} END" for c, cond in rules.flags.items()
    )
    # _batch is in delivery order (DuckDB keeps insertion order), so no sort is needed.
    kept = con.execute(
        f"INSERT INTO {quoted(VALIDATED[table])} SELECT {columns}, concat_ws(',', {imputed}), "
        f"{s.SOURCE_FILE}, {s.SOURCE_ROW}, {s.DELIVERY} FROM _batch WHERE _rejected IS NULL"
    ).fetchone()[0]
    result.validated[table] += int(kept)
    result.rejected[table] += rejected


def _stage(con: duckdb.DuckDBPyConnection, rules: TableRules, source: str) -> None:
    """``_batch``: the source rows in order with their fields parsed; ``_check`` numbers the
    first check a row fails (NULL when it passes all), ``_rejected`` starts as ``_check``."""
    for table in rules.references:
        key = _KEY_OF[table]
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {known_ids(table)} AS SELECT DISTINCT {quoted(key)} "
            f"FROM {quoted(VALIDATED[table])} JOIN (SELECT DISTINCT {quoted(key)} FROM {source}) "
            f"USING ({quoted(key)})"
        )
    text = ", ".join(quoted(c) for c in s.TABLE_COLUMNS[rules.table])
    parsed = ", ".join(f"{sql} AS {name}" for name, sql in rules.parsed.items())
    refined = {**{f.valid: f.valid_value() for f in rules.numbers}, **rules.refined}
    refined_sql = ", ".join(f"{sql} AS {name}" for name, sql in refined.items()) or "NULL AS _none"
    hashed = "".join(f", {sql} AS {name}" for name, sql in rules.hashed.items())
    cases = " ".join(f"WHEN {c.condition} THEN {i}" for i, c in enumerate(rules.checks, 1))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _batch AS SELECT *, _check AS _rejected FROM "
        f"(SELECT *, CASE {cases} END AS _check{hashed} FROM (SELECT *, {refined_sql} FROM "
        f"(SELECT *, {parsed} FROM (SELECT rowid AS _seq, {text}, {s.SOURCE_FILE}, "
        f"{s.SOURCE_ROW}, {s.READ_ERROR}, {s.DELIVERY} FROM {source}))))"
    )


def _mark_duplicates(con: duckdb.DuckDBPyConnection, rules: TableRules) -> None:
    """Reject, as duplicates, kept rows whose key an earlier row of the batch or a row
    validated before holds. Keys are compared in full only where their hashes meet."""
    key = ", ".join(rules.key.values())
    hashed = rules.key_hash[1] if rules.key_hash else f"hash({key})"
    candidates = (
        f"SELECT _h FROM (SELECT {hashed} AS _h FROM _batch WHERE _check IS NULL) "
        "GROUP BY _h HAVING count(*) > 1"
    )
    repeated = (
        f"SELECT _seq FROM (SELECT _seq, row_number() OVER (PARTITION BY {key} ORDER BY _seq) "
        f"AS _n FROM _batch WHERE _check IS NULL AND {hashed} IN ({candidates})) WHERE _n > 1"
    )
    if row_count(con, VALIDATED[rules.table]):
        repeated += f" UNION {_seen_before(con, rules)}"
    duplicate = len(rules.checks) + 1
    con.execute(f"UPDATE _batch SET _rejected = {duplicate} WHERE _seq IN ({repeated})")


def _seen_before(con: duckdb.DuckDBPyConnection, rules: TableRules) -> str:
    """SELECT of the kept rows of the batch whose key is already validated. With a stored key
    hash, one join on that 64-bit column finds the candidates (``_candidates``) without
    comparing the keys of every validated row; only the candidates are compared in full."""
    target = quoted(VALIDATED[rules.table])
    same = " AND ".join(f"_v.{quoted(c)} IS NOT DISTINCT FROM _b.{e}" for c, e in rules.key.items())
    if rules.key_hash is None:
        derived = f" AND _v.{s.SOURCE_FILE} <> '{DERIVED_SOURCE}'" if rules.table in _KEY_OF else ""
        return (
            f"SELECT _b._seq FROM _batch _b JOIN {target} _v ON {same}{derived} "
            "WHERE _b._check IS NULL"
        )
    stored, parsed = rules.key_hash
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _candidates AS SELECT _b._seq, _h._row FROM _batch _b "
        f"JOIN (SELECT rowid AS _row, {quoted(stored)} AS _k FROM {target}) _h "
        f"ON _h._k = _b.{parsed} WHERE _b._check IS NULL"
    )
    return (
        f"SELECT _c._seq FROM _candidates _c JOIN _batch _b USING (_seq) JOIN "
        f"(SELECT rowid AS _row, * FROM {target} WHERE rowid IN (SELECT _row FROM _candidates)) "
        f"_v USING (_row) WHERE {same}"
    )


def _quarantine(con: duckdb.DuckDBPyConnection, rules: TableRules) -> int:
    """Log every rejected row and every replaced value; returns the rows rejected."""
    first_key = next(iter(rules.key))
    duplicate = r.sql_text(
        f"duplicate {' + '.join(rules.key)}: an earlier row with the same key is kept"
    )
    checks = list(enumerate(rules.checks, 1))
    column = " ".join(
        f"WHEN {i} THEN {r.sql_text(c.column) if c.column else 'NULL'}" for i, c in checks
    )
    value = " ".join(f"WHEN {i} THEN {c.logged_value}" for i, c in checks)
    reason = " ".join(f"WHEN {i} THEN {c.reason_sql}" for i, c in checks)
    table = r.sql_text(rules.table)
    con.execute(
        f"INSERT INTO {QUARANTINE} SELECT {table}, {s.SOURCE_FILE}, {s.SOURCE_ROW}, "
        f"CASE _rejected {column} ELSE {r.sql_text(first_key)} END, "
        f"CASE _rejected {value} ELSE {quoted(first_key)} END, "
        f"CASE _rejected {reason} ELSE {duplicate} END, '{s.ACTION_REJECTED}', {s.DELIVERY} "
        "FROM _batch WHERE _rejected IS NOT NULL ORDER BY _rejected, _seq"
    )
    logs = [(log, f"(_check IS NULL OR _check > {rules.early_checks})") for log in rules.early_logs]
    logs += [(log, "_rejected IS NULL") for log in rules.logs]
    for log, alive in logs:
        con.execute(
            f"INSERT INTO {QUARANTINE} SELECT {table}, {s.SOURCE_FILE}, {s.SOURCE_ROW}, "
            f"{r.sql_text(log.column)}, {quoted(log.column)}, {r.sql_text(log.reason)}, "
            f"'{s.ACTION_IMPUTED}', {s.DELIVERY} FROM _batch WHERE ({log.condition}) AND {alive} "
            "ORDER BY _seq"
        )
    return row_count(con, "_batch", "_rejected IS NOT NULL")


def _fills(con: duckdb.DuckDBPyConnection, rules: TableRules) -> dict[str, str]:
    """SQL literals of each imputed field's fill: the median of the valid values of the kept
    rows and of the rows validated before, or the schema's default when there are none."""
    fields = [(f.column, f.valid, f.integer) for f in rules.numbers]
    if rules.table == "tracks":
        fields.append((s.RELEASE_YEAR, "_year", True))
    if not fields:
        return {}
    target = quoted(VALIDATED[rules.table])
    medians = []
    for column, valid, _ in fields:
        flag = s.RELEASE_DATE if column == s.RELEASE_YEAR else column
        before = (
            f"SELECT {quoted(column)} FROM {target} WHERE NOT list_contains("
            f"string_split({s.IMPUTED_COLUMNS}, ','), {r.sql_text(flag)})"
        )
        medians.append(
            f"(SELECT median(x) FROM (SELECT {valid} AS x FROM _batch WHERE _rejected IS NULL "
            f"UNION ALL {before}))"
        )
    values = con.execute(f"SELECT {', '.join(medians)}").fetchone()
    fills = {}
    for (column, _, integer), value in zip(fields, values, strict=True):
        fill = s.IMPUTE_DEFAULTS[column] if value is None else float(value)
        fills[column] = f"CAST({round(fill) if integer else fill!r} AS DOUBLE)"
    return fills


def _derive(
    con: duckdb.DuckDBPyConnection, table: str, delivery: int, result: DeliveryResult
) -> None:
    """Users or tracks seen only in plays, validated as rows with the id and nothing else, so
    every field is imputed; numbered after the ones derived before, in order of first play."""
    key = quoted(_KEY_OF[table])
    target = quoted(VALIDATED[table])
    start = con.execute(
        f"SELECT coalesce(max({s.SOURCE_ROW}), 0) FROM {target} WHERE {s.SOURCE_FILE} = ?",
        [DERIVED_SOURCE],
    ).fetchone()[0]
    others = ", ".join(
        f"NULL::VARCHAR AS {quoted(c)}" for c in s.TABLE_COLUMNS[table] if quoted(c) != key
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _derived AS SELECT {key}, {others}, '{DERIVED_SOURCE}' AS "
        f"{s.SOURCE_FILE}, {int(start)} + row_number() OVER (ORDER BY _first) AS {s.SOURCE_ROW}, "
        f"NULL::VARCHAR AS {s.READ_ERROR}, {int(delivery)} AS {s.DELIVERY} FROM (SELECT {key}, "
        f"min(rowid) AS _first FROM {quoted(VALIDATED['plays'])} "
        f"WHERE {s.DELIVERY} = {int(delivery)} AND {key} NOT IN (SELECT {key} FROM {target}) "
        f"GROUP BY {key}) ORDER BY _first"
    )
    rules = users_rules() if table == "users" else tracks_rules()
    before = result.validated.get(table, 0)
    _validate(con, rules, "_derived", result)
    result.derived[table] = result.validated[table] - before
    result.validated[table] = before


def _replace_derived(con: duckdb.DuckDBPyConnection, table: str, delivery: int) -> None:
    """A delivered user or track replaces the row derived for it from plays."""
    key, target = quoted(_KEY_OF[table]), quoted(VALIDATED[table])
    con.execute(
        f"DELETE FROM {target} WHERE {s.SOURCE_FILE} = ? AND {key} IN (SELECT {key} FROM {target} "
        f"WHERE {s.DELIVERY} = ? AND {s.SOURCE_FILE} <> ?)",
        [DERIVED_SOURCE, delivery, DERIVED_SOURCE],
    )


def pending_deliveries(con: duckdb.DuckDBPyConnection, after: int) -> list[int]:
    """Deliveries with raw rows numbered above ``after``, in order."""
    parts = " UNION ".join(
        f"SELECT DISTINCT {s.DELIVERY} AS d FROM {quoted(RAW[t])} WHERE {s.DELIVERY} > {int(after)}"
        for t in s.TABLES
        if table_exists(con, RAW[t])
    )
    return (
        [int(row[0]) for row in con.execute(f"SELECT d FROM ({parts}) ORDER BY d").fetchall()]
        if parts
        else []
    )
