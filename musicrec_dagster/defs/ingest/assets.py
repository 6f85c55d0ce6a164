"""raw_users, raw_tracks, raw_plays and landing_registry: the source plus every delivered file.

The configured source is delivery 0; each file dropped into the landing folders is archived by
content, registered in ``landing_registry`` with the next delivery number and appended to the
raw tables, without reading anything already there. The source is read again only when it
changed (or on ``full_refresh``), and then every archived delivery with it, so a rerun leaves
the same state.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from musicrec_core.data import ingest_landing, refresh_raw, registry_frame
from musicrec_core.data import schema as s
from musicrec_core.reports import markdown_table
from musicrec_dagster.defs.resources import DataSource, PlatformPaths
from musicrec_dagster.metadata import warehouse_table_metadata
from musicrec_dagster.warehouse import open_warehouse

_DESCRIPTIONS = {
    "users": "Users as they arrived (user_id, age, gender) as text, with source file, row and "
    "delivery.",
    "tracks": "Tracks as they arrived (metadata, audio features) as text, with file, row and "
    "delivery.",
    "plays": "Play counts per user and track as they arrived, as text, with source file, row and "
    "delivery; rows that could not be split into fields carry a read_error.",
}


def _raw_specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            s.RAW_TABLES[table],
            description=_DESCRIPTIONS[table],
            kinds={"duckdb"},
            group_name="ingest",
        )
        for table in s.TABLES
    ]


def _registry_spec() -> dg.AssetSpec:
    return dg.AssetSpec(
        s.REGISTRY_TABLE,
        description="Every file delivered to the landing folders, by SHA-256, with its delivery "
        "number: where it landed, its archived copy, rows, and whether it was ingested or "
        "rejected (with the reason).",
        kinds={"duckdb"},
        group_name="ingest",
    )


class RawSettings(dg.Config):
    """Whether to read the source and every archived delivery again."""

    full_refresh: bool = Field(
        default=False,
        description="Rebuild the raw tables from the source and the archive even if the source "
        "did not change; validation and features rebuild after them.",
    )


@dg.multi_asset(specs=[*_raw_specs(), _registry_spec()])
def raw_catalogue(
    context: dg.AssetExecutionContext,
    config: RawSettings,
    source: DataSource,
    paths: PlatformPaths,
    warehouse: DuckDBResource,
):
    """Read the source if it changed, then take in every newly landed file."""
    description = source.config().describe()
    with open_warehouse(warehouse) as con:
        raw = refresh_raw(con, source.config(), paths.archive, config.full_refresh)
        ingest = ingest_landing(con, paths.landing, paths.archive)
        context.log.info(
            f"{description}: {'read again' if raw.rebuilt else 'unchanged'} "
            f"(generation {raw.generation}); {ingest.summary()}"
        )
        for repeated in ingest.repeated:
            context.log.info(f"{repeated}: same content as a registered file, nothing to do")
        for table in s.RAW_TABLES.values():
            yield dg.MaterializeResult(
                asset_key=table,
                metadata={
                    **warehouse_table_metadata(con, table),
                    "source": description,
                    "generation": raw.generation,
                    "source_read_again": raw.rebuilt,
                    "deliveries": _count(con, f"SELECT count(DISTINCT {s.DELIVERY}) FROM {table}"),
                },
            )
        registry = registry_frame(con)
        rejected = int((registry[s.STATUS] == s.STATUS_REJECTED).sum())
        yield dg.MaterializeResult(
            asset_key=s.REGISTRY_TABLE,
            metadata={
                **warehouse_table_metadata(con, s.REGISTRY_TABLE),
                "new_files": len(ingest.added),
                "repeated_files_skipped": len(ingest.repeated),
                "rejected_files": rejected,
                "added": dg.MetadataValue.md(
                    markdown_table(ingest.added.drop(columns=[s.ARCHIVED_FILE]))
                    if len(ingest.added)
                    else "no new files"
                ),
            },
        )


def _count(con, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0])
