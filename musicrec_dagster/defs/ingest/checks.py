"""A check on the landing registry: every delivered file could be read."""

import dagster as dg
import pandas as pd

from musicrec_core.data import schema as s
from musicrec_core.reports import markdown_table


@dg.asset_check(
    asset="landing_registry",
    description="No landed file was rejected as a whole (empty, no header, missing column, ...).",
)
def landed_files_readable(landing_registry: pd.DataFrame) -> dg.AssetCheckResult:
    rejected = landing_registry[landing_registry[s.STATUS] == s.STATUS_REJECTED]
    return dg.AssetCheckResult(
        passed=rejected.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "files": len(landing_registry),
            "rejected": len(rejected),
            "rejected_files": dg.MetadataValue.md(
                markdown_table(rejected[[s.LANDED_PATH, s.SHA256, s.QUARANTINE_REASON]])
                if len(rejected)
                else "none"
            ),
        },
    )
