"""validated_users, validated_tracks, validated_plays and the quarantine table.

Each delivery the raw tables hold and validation has not seen is validated on its own against
what earlier deliveries left, in the warehouse, and committed; the metadata reconciles every
delivery. The quality report and the heatmap describe the rows this run validated (all of
them after a rebuild), from a random sample of 200,000 rows beyond that size, so a small
delivery's run does not read the history.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from musicrec_core.data import (
    imputed_counts,
    raw_generation,
    reconcile_by_delivery,
    reconcile_totals,
    validate_pending,
)
from musicrec_core.data import schema as s
from musicrec_core.data import warehouse as wh
from musicrec_core.reports import correlation_heatmap, markdown_table, quality_report
from musicrec_dagster.automation import FOLLOW_NEW_DATA
from musicrec_dagster.metadata import image, warehouse_table_metadata
from musicrec_dagster.warehouse import open_warehouse

REPORT_ROWS = 200_000
SHOWN_DELIVERIES = 20
_DESCRIPTIONS = {
    "users": "Typed users; invalid or missing age and gender imputed and named in imputed_columns.",
    "tracks": "Typed tracks with release_year; invalid or missing content imputed and flagged.",
    "plays": "Plays with a usable count, pointing at known users and tracks.",
}


def _specs() -> list[dg.AssetSpec]:
    """The validated tables and quarantine, each refreshed after new raw rows."""
    raw = [s.RAW_TABLES[table] for table in s.TABLES]
    validated = [
        dg.AssetSpec(
            s.VALIDATED_TABLES[table],
            description=_DESCRIPTIONS[table],
            kinds={"duckdb"},
            group_name="quality",
            deps=raw,
            automation_condition=FOLLOW_NEW_DATA,
        )
        for table in s.TABLES
    ]
    quarantine = dg.AssetSpec(
        s.QUARANTINE_TABLE_NAME,
        description="Every rejected row and every replaced value: table, source file, row, "
        "column, value, reason, action (rejected or imputed) and delivery.",
        kinds={"duckdb"},
        group_name="quality",
        deps=raw,
        automation_condition=FOLLOW_NEW_DATA,
    )
    return [*validated, quarantine]


@dg.multi_asset(specs=_specs())
def validated_catalogue(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """Validate every delivery not validated yet; rows that cannot be used go to quarantine."""
    with open_warehouse(warehouse) as con:
        results = validate_pending(con, raw_generation(con))
        context.log.info(f"validated {len(results)} delivery(ies): {[r.delivery for r in results]}")
        for table in s.TABLES:
            yield dg.MaterializeResult(
                asset_key=s.VALIDATED_TABLES[table], metadata=_table_metadata(con, table, results)
            )
        by_reason = wh.frame(
            con,
            f"SELECT {s.QUARANTINE_TABLE}, {s.QUARANTINE_ACTION}, {s.QUARANTINE_REASON}, "
            f"count(*) AS rows FROM {s.QUARANTINE_TABLE_NAME} "
            "GROUP BY ALL ORDER BY rows DESC LIMIT 50",
        )
        actions = dict(
            con.execute(
                f"SELECT {s.QUARANTINE_ACTION}, count(*) FROM {s.QUARANTINE_TABLE_NAME} "
                "GROUP BY ALL"
            ).fetchall()
        )
        yield dg.MaterializeResult(
            asset_key=s.QUARANTINE_TABLE_NAME,
            metadata={
                **warehouse_table_metadata(con, s.QUARANTINE_TABLE_NAME),
                "rejected_rows": int(actions.get(s.ACTION_REJECTED, 0)),
                "imputed_values": int(actions.get(s.ACTION_IMPUTED, 0)),
                "by_reason": dg.MetadataValue.md(markdown_table(by_reason)),
            },
        )


def _table_metadata(con, table: str, results) -> dict[str, object]:
    by_delivery = reconcile_by_delivery(con, table)
    counts = reconcile_totals(by_delivery)
    deliveries = [r.delivery for r in results] or [-1]
    new_rows = f"{s.DELIVERY} IN ({', '.join(map(str, deliveries))})"
    sample, sampled = wh.sample_frame(con, s.VALIDATED_TABLES[table], REPORT_ROWS, new_rows)
    scope = f"Rows validated in this run (deliveries {', '.join(map(str, deliveries))})"
    if sampled:
        scope += f", from a random sample of {len(sample):,} of them"
    report = (
        f"{scope}.\n\n{quality_report(sample, table).to_markdown()}"
        if len(sample)
        else "No rows of this table were validated in this run; it is unchanged."
    )
    metadata = {
        **warehouse_table_metadata(con, s.VALIDATED_TABLES[table]),
        **{f"reconciliation/{k}": v for k, v in counts.items()},
        "reconciliation_by_delivery": dg.MetadataValue.md(
            markdown_table(by_delivery.tail(SHOWN_DELIVERIES))
        ),
        "deliveries_validated": dg.MetadataValue.json([r.delivery for r in results]),
        "imputed_fields": dg.MetadataValue.json(imputed_counts(con, table)),
        "quality_report": dg.MetadataValue.md(report),
        "derived_from_plays": counts["derived_rows"],
    }
    if table == "tracks" and len(sample):
        numeric = sample[[c for c in s.TRACK_NUMERIC_COLUMNS if c in sample]]
        metadata["correlation_heatmap"] = image(correlation_heatmap(numeric), "correlations")
    return metadata
