"""validated_users, validated_tracks, validated_plays and the quarantine table."""

import dagster as dg
import pandas as pd

from musicrec_core.data import RawTables, reconcile, validate_catalogue
from musicrec_core.data import schema as s
from musicrec_core.reports import correlation_heatmap, markdown_table, quality_report
from musicrec_dagster.automation import FOLLOW_NEW_DATA
from musicrec_dagster.metadata import image, table_metadata

_DESCRIPTIONS = {
    "users": "Typed users; invalid or missing age and gender imputed and named in imputed_columns.",
    "tracks": "Typed tracks with release_year; invalid or missing content imputed and flagged.",
    "plays": "Plays with a usable count, pointing at known users and tracks.",
}


@dg.multi_asset(
    outs={
        **{
            f"validated_{t}": dg.AssetOut(
                description=_DESCRIPTIONS[t],
                kinds={"pandas", "duckdb"},
                automation_condition=FOLLOW_NEW_DATA,
            )
            for t in ("users", "tracks", "plays")
        },
        "quarantine": dg.AssetOut(
            description="Every rejected row and every replaced value: table, source file, row, "
            "column, value, reason and action (rejected or imputed).",
            kinds={"pandas", "duckdb"},
            automation_condition=FOLLOW_NEW_DATA,
        ),
    },
    group_name="quality",
)
def validated_catalogue(
    context: dg.AssetExecutionContext,
    raw_users: pd.DataFrame,
    raw_tracks: pd.DataFrame,
    raw_plays: pd.DataFrame,
):
    """Validate the raw tables together; rows that cannot be used go to quarantine."""
    raw = RawTables(users=raw_users, tracks=raw_tracks, plays=raw_plays)
    result = validate_catalogue(raw)
    for table in ("users", "tracks", "plays"):
        frame = getattr(result, table)
        report = quality_report(frame, table)
        counts = reconcile(len(getattr(raw, table)), frame, result.quarantine, table)
        metadata = {
            **table_metadata(frame),
            **{f"reconciliation/{k}": v for k, v in counts.items()},
            "imputed_fields": dg.MetadataValue.json(_imputed_counts(frame)),
            "quality_report": dg.MetadataValue.md(report.to_markdown()),
        }
        if table in result.derived:
            metadata["derived_from_plays"] = result.derived[table]
        if table == "tracks":
            numeric = frame[[c for c in s.TRACK_NUMERIC_COLUMNS if c in frame]]
            metadata["correlation_heatmap"] = image(correlation_heatmap(numeric), "correlations")
        context.log.info("validated_%s: %s", table, counts)
        yield dg.Output(frame, output_name=f"validated_{table}", metadata=metadata)
    quarantine = result.quarantine
    by_reason = (
        quarantine.groupby([s.QUARANTINE_TABLE, s.QUARANTINE_ACTION, s.QUARANTINE_REASON])
        .size()
        .rename("rows")
        .reset_index()
        .sort_values("rows", ascending=False)
    )
    yield dg.Output(
        quarantine,
        output_name="quarantine",
        metadata={
            **table_metadata(quarantine),
            "by_reason": dg.MetadataValue.md(markdown_table(by_reason)),
        },
    )


def _imputed_counts(frame: pd.DataFrame) -> dict[str, int]:
    names = frame[s.IMPUTED_COLUMNS].str.split(",").explode()
    return {k: int(v) for k, v in names[names != ""].value_counts().items()}
