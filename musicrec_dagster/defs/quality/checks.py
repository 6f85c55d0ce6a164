"""Asset checks on the validated tables: schema, reconciliation, duplicates, nulls, references.

Blocking checks stop downstream assets from building on data that fails them.
"""

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from musicrec_core.data import reconcile
from musicrec_core.data import schema as s
from musicrec_core.reports import markdown_table

TABLE_KEYS = {
    "users": [s.USER_ID],
    "tracks": [s.TRACK_ID],
    "plays": [s.USER_ID, s.TRACK_ID, s.PLAYED_AT],
}
MAX_IMPUTED_RATE = 0.5
MAX_FAILURE_ROWS = 20


def _schema_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"validated_{table}",
        name="matches_schema",
        blocking=True,
        description=f"Types, ranges, allowed values and nullability of validated_{table}.",
    )
    def check(frame: pd.DataFrame) -> dg.AssetCheckResult:
        try:
            s.VALIDATED_SCHEMAS[table].validate(frame, lazy=True)
        except pa.errors.SchemaErrors as err:
            cases = err.failure_cases
            return dg.AssetCheckResult(
                passed=False,
                metadata={
                    "failures": len(cases),
                    "failure_cases": dg.MetadataValue.md(
                        markdown_table(cases.head(MAX_FAILURE_ROWS))
                    ),
                },
            )
        return dg.AssetCheckResult(passed=True, metadata={"rows": len(frame)})

    return check


def _reconciliation_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"validated_{table}",
        name="counts_reconcile",
        blocking=True,
        additional_ins={"raw": dg.AssetIn(f"raw_{table}"), "quarantine": dg.AssetIn("quarantine")},
        description="Every raw row is either validated or rejected to quarantine.",
    )
    def check(
        frame: pd.DataFrame, raw: pd.DataFrame, quarantine: pd.DataFrame
    ) -> dg.AssetCheckResult:
        counts = reconcile(len(raw), frame, quarantine, table)
        return dg.AssetCheckResult(passed=counts["balanced"], metadata=counts)

    return check


def _duplicate_check(table: str) -> dg.AssetChecksDefinition:
    keys = TABLE_KEYS[table]

    @dg.asset_check(
        asset=f"validated_{table}",
        name="no_duplicate_keys",
        blocking=True,
        description=f"No two rows share {' + '.join(keys)}.",
    )
    def check(frame: pd.DataFrame) -> dg.AssetCheckResult:
        dup = frame[frame.duplicated(keys, keep=False)]
        return dg.AssetCheckResult(
            passed=dup.empty,
            metadata={
                "duplicate_rows": len(dup),
                "examples": dg.MetadataValue.md(markdown_table(dup.head(MAX_FAILURE_ROWS))),
            },
        )

    return check


def _imputed_rate_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"validated_{table}",
        name="imputed_rates",
        description=f"Warns when over {MAX_IMPUTED_RATE:.0%} of a field was missing or invalid "
        "and had to be imputed.",
    )
    def check(frame: pd.DataFrame) -> dg.AssetCheckResult:
        names = frame[s.IMPUTED_COLUMNS].str.split(",").explode()
        rates = (names[names != ""].value_counts() / max(len(frame), 1)).round(4)
        high = rates[rates > MAX_IMPUTED_RATE]
        return dg.AssetCheckResult(
            passed=high.empty,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "imputed_rates": dg.MetadataValue.json({k: float(v) for k, v in rates.items()}),
                "fields_over_limit": dg.MetadataValue.json(sorted(high.index)),
            },
        )

    return check


@dg.asset_check(
    asset="validated_plays",
    name="references_known_users_and_tracks",
    blocking=True,
    additional_ins={
        "users": dg.AssetIn("validated_users"),
        "tracks": dg.AssetIn("validated_tracks"),
    },
    description="Every play points at a validated user and a validated track.",
)
def plays_reference_known_ids(
    validated_plays: pd.DataFrame, users: pd.DataFrame, tracks: pd.DataFrame
) -> dg.AssetCheckResult:
    orphan_users = validated_plays[~validated_plays[s.USER_ID].isin(users[s.USER_ID])]
    orphan_tracks = validated_plays[~validated_plays[s.TRACK_ID].isin(tracks[s.TRACK_ID])]
    orphans = pd.concat([orphan_users, orphan_tracks]).drop_duplicates()
    return dg.AssetCheckResult(
        passed=orphans.empty,
        metadata={
            "plays_with_unknown_user": len(orphan_users),
            "plays_with_unknown_track": len(orphan_tracks),
            "examples": dg.MetadataValue.md(markdown_table(orphans.head(MAX_FAILURE_ROWS))),
        },
    )


_FACTORIES = (_schema_check, _reconciliation_check, _duplicate_check, _imputed_rate_check)
validated_table_checks = [factory(table) for table in TABLE_KEYS for factory in _FACTORIES]
