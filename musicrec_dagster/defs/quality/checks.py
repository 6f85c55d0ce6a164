"""Asset checks on the validated tables: schema, reconciliation, duplicates, nulls, references.

Blocking checks stop downstream assets from building on data that fails them. Every check but
the schema check runs in SQL over the whole table. The schema check runs the pandera schema,
the single description of a validated table, on the whole table up to a million rows and on a
random sample of a million rows beyond that; its metadata says which.
"""

import dagster as dg
import pandera.pandas as pa
from dagster_duckdb import DuckDBResource

from musicrec_core.data import imputed_counts, reconcile_by_delivery, reconcile_totals
from musicrec_core.data import schema as s
from musicrec_core.data import warehouse as wh
from musicrec_core.reports import markdown_table
from musicrec_dagster.warehouse import open_warehouse

TABLE_KEYS = {
    "users": [s.USER_ID],
    "tracks": [s.TRACK_ID],
    "plays": [s.USER_ID, s.TRACK_ID, s.PLAYED_AT],
}
MAX_IMPUTED_RATE = 0.5
MAX_FAILURE_ROWS = 20
SCHEMA_CHECK_ROWS = 1_000_000


def _schema_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=s.VALIDATED_TABLES[table],
        name="matches_schema",
        blocking=True,
        description=f"Types, ranges, allowed values and nullability of validated_{table} "
        f"(pandera; a random sample of {SCHEMA_CHECK_ROWS:,} rows on larger tables).",
    )
    def check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        with open_warehouse(warehouse) as con:
            checked, sampled = wh.sample_frame(con, s.VALIDATED_TABLES[table], SCHEMA_CHECK_ROWS)
        scope = {"rows_checked": len(checked), "sampled": sampled}
        try:
            s.VALIDATED_SCHEMAS[table].validate(checked, lazy=True)
        except pa.errors.SchemaErrors as err:
            cases = err.failure_cases
            return dg.AssetCheckResult(
                passed=False,
                metadata={
                    **scope,
                    "failures": len(cases),
                    "failure_cases": dg.MetadataValue.md(
                        markdown_table(cases.head(MAX_FAILURE_ROWS))
                    ),
                },
            )
        return dg.AssetCheckResult(passed=True, metadata=scope)

    return check


def _reconciliation_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=s.VALIDATED_TABLES[table],
        name="counts_reconcile",
        blocking=True,
        description="Every raw row is either validated or rejected to quarantine, in every "
        "delivery and in total.",
    )
    def check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        with open_warehouse(warehouse) as con:
            by_delivery = reconcile_by_delivery(con, table)
        counts = reconcile_totals(by_delivery)
        unbalanced = by_delivery[~by_delivery["balanced"]]
        return dg.AssetCheckResult(
            passed=counts["balanced"],
            metadata={
                **counts,
                "unbalanced": dg.MetadataValue.md(
                    markdown_table(unbalanced.head(MAX_FAILURE_ROWS)) if len(unbalanced) else "none"
                ),
            },
        )

    return check


def _duplicate_check(table: str) -> dg.AssetChecksDefinition:
    keys = TABLE_KEYS[table]

    @dg.asset_check(
        asset=s.VALIDATED_TABLES[table],
        name="no_duplicate_keys",
        blocking=True,
        description=f"No two rows share {' + '.join(keys)}.",
    )
    def check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        key = ", ".join(wh.quoted(k) for k in keys)
        rows = s.VALIDATED_TABLES[table]
        if table == "plays":  # compare in full only the plays whose key hashes repeat
            repeated = f"SELECT {s.PLAY_KEY} FROM {rows} GROUP BY ALL HAVING count(*) > 1"
            rows = f"(SELECT * FROM {rows} WHERE {s.PLAY_KEY} IN ({repeated}))"
        with open_warehouse(warehouse) as con:
            dup = wh.frame(
                con,
                f"SELECT {key}, count(*) AS rows FROM {rows} GROUP BY ALL "
                f"HAVING count(*) > 1 ORDER BY rows DESC",
            )
        return dg.AssetCheckResult(
            passed=dup.empty,
            metadata={
                "duplicate_keys": len(dup),
                "examples": dg.MetadataValue.md(markdown_table(dup.head(MAX_FAILURE_ROWS))),
            },
        )

    return check


def _imputed_rate_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=s.VALIDATED_TABLES[table],
        name="imputed_rates",
        description=f"Warns when over {MAX_IMPUTED_RATE:.0%} of a field was missing or invalid "
        "and had to be imputed.",
    )
    def check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        with open_warehouse(warehouse) as con:
            counts = imputed_counts(con, table)
            rows = max(wh.row_count(con, s.VALIDATED_TABLES[table]), 1)
        rates = {name: round(n / rows, 4) for name, n in sorted(counts.items())}
        high = sorted(name for name, rate in rates.items() if rate > MAX_IMPUTED_RATE)
        return dg.AssetCheckResult(
            passed=not high,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "imputed_rates": dg.MetadataValue.json(rates),
                "fields_over_limit": dg.MetadataValue.json(high),
            },
        )

    return check


@dg.asset_check(
    asset=s.VALIDATED_TABLES["plays"],
    name="references_known_users_and_tracks",
    blocking=True,
    description="Every play points at a validated user and a validated track.",
)
def plays_reference_known_ids(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    plays, users, tracks = (
        s.VALIDATED_TABLES["plays"],
        s.VALIDATED_TABLES["users"],
        s.VALIDATED_TABLES["tracks"],
    )
    orphans = (
        f"SELECT * FROM {plays} WHERE {s.USER_ID} NOT IN (SELECT {s.USER_ID} FROM {users}) "
        f"OR {s.TRACK_ID} NOT IN (SELECT {s.TRACK_ID} FROM {tracks})"
    )
    with open_warehouse(warehouse) as con:
        unknown_users, unknown_tracks = con.execute(
            f"SELECT count(*) FILTER ({s.USER_ID} NOT IN (SELECT {s.USER_ID} FROM {users})), "
            f"count(*) FILTER ({s.TRACK_ID} NOT IN (SELECT {s.TRACK_ID} FROM {tracks})) "
            f"FROM {plays}"
        ).fetchone()
        examples = wh.frame(con, f"{orphans} LIMIT {MAX_FAILURE_ROWS}")
    return dg.AssetCheckResult(
        passed=unknown_users == 0 and unknown_tracks == 0,
        metadata={
            "plays_with_unknown_user": int(unknown_users),
            "plays_with_unknown_track": int(unknown_tracks),
            "examples": dg.MetadataValue.md(markdown_table(examples)),
        },
    )


_FACTORIES = (_schema_check, _reconciliation_check, _duplicate_check, _imputed_rate_check)
validated_table_checks = [factory(table) for table in TABLE_KEYS for factory in _FACTORIES]
