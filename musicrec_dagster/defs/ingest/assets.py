"""raw_users, raw_tracks, raw_plays: the configured source, as it arrived."""

import dagster as dg

from musicrec_dagster.defs.resources import DataSource
from musicrec_dagster.metadata import table_metadata

RAW_TABLES = ("users", "tracks", "plays")
_DESCRIPTIONS = {
    "users": "Users as they arrived (user_id, age, gender) as text, with source file and row.",
    "tracks": "Tracks as they arrived (metadata, audio features) as text, with file and row.",
    "plays": "Play counts per user and track as they arrived, as text, with source file and row.",
}


@dg.multi_asset(
    outs={
        f"raw_{table}": dg.AssetOut(
            description=_DESCRIPTIONS[table], kinds={"pandas", "duckdb"}, is_required=True
        )
        for table in RAW_TABLES
    },
    group_name="ingest",
)
def raw_catalogue(context: dg.AssetExecutionContext, source: DataSource):
    """Read the configured source (synthetic, seed_csv or files) into the three raw tables."""
    raw = source.load()
    description = source.config().describe()
    context.log.info("read %s", description)
    for table in RAW_TABLES:
        frame = getattr(raw, table)
        yield dg.Output(
            frame,
            output_name=f"raw_{table}",
            metadata={**table_metadata(frame), "source": description},
        )
