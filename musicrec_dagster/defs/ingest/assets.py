"""raw_users, raw_tracks, raw_plays and landing_registry: the source plus every delivered file.

The configured source is the base; files dropped into the landing folders are archived by
content, registered in ``landing_registry`` and appended to the raw tables. Every run rebuilds
the raw tables from the base and the registered files, so a rerun leaves the same state.
"""

import dagster as dg
import pandas as pd

from musicrec_core.data import empty_registry, ingest_landing, with_deliveries
from musicrec_core.data import schema as s
from musicrec_core.reports import markdown_table
from musicrec_dagster.defs.resources import DataSource, PlatformPaths
from musicrec_dagster.metadata import table_metadata
from musicrec_dagster.warehouse import read_warehouse_table

RAW_TABLES = ("users", "tracks", "plays")
REGISTRY = "landing_registry"
_DESCRIPTIONS = {
    "users": "Users as they arrived (user_id, age, gender) as text, with source file and row.",
    "tracks": "Tracks as they arrived (metadata, audio features) as text, with file and row.",
    "plays": "Play counts per user and track as they arrived, as text, with source file and row.",
}


def _outs() -> dict[str, dg.AssetOut]:
    outs = {
        f"raw_{table}": dg.AssetOut(
            description=_DESCRIPTIONS[table], kinds={"pandas", "duckdb"}, is_required=True
        )
        for table in RAW_TABLES
    }
    outs[REGISTRY] = dg.AssetOut(
        description="Every file delivered to the landing folders, by SHA-256: where it landed, "
        "its archived copy, rows, and whether it was ingested or rejected (with the reason).",
        kinds={"pandas", "duckdb"},
        is_required=True,
    )
    return outs


def previous_registry(paths: PlatformPaths) -> pd.DataFrame:
    """The registry as the last ingestion left it (empty before the first)."""
    registry = read_warehouse_table(paths.warehouse, REGISTRY)
    return empty_registry() if registry is None else registry


@dg.multi_asset(outs=_outs(), group_name="ingest")
def raw_catalogue(context: dg.AssetExecutionContext, source: DataSource, paths: PlatformPaths):
    """Read the configured source and every landed file into the three raw tables."""
    ingest = ingest_landing(paths.landing, paths.archive, previous_registry(paths))
    context.log.info(ingest.summary())
    for repeated in ingest.repeated:
        context.log.info(f"{repeated}: same content as a registered file, nothing to do")
    raw = with_deliveries(source.load(), ingest.registry, paths.archive)
    description = source.config().describe()
    context.log.info("read %s and %d landed file(s)", description, len(ingest.registry))
    for table in RAW_TABLES:
        frame = getattr(raw, table)
        yield dg.Output(
            frame,
            output_name=f"raw_{table}",
            metadata={
                **table_metadata(frame),
                "source": description,
                "files": int(frame[s.SOURCE_FILE].nunique()),
            },
        )
    rejected = ingest.registry[ingest.registry[s.STATUS] == s.STATUS_REJECTED]
    yield dg.Output(
        ingest.registry,
        output_name=REGISTRY,
        metadata={
            **table_metadata(ingest.registry),
            "new_files": len(ingest.added),
            "repeated_files_skipped": len(ingest.repeated),
            "rejected_files": len(rejected),
            "added": dg.MetadataValue.md(
                markdown_table(ingest.added.drop(columns=[s.ARCHIVED_FILE]))
                if len(ingest.added)
                else "no new files"
            ),
        },
    )
