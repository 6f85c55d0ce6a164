"""The promotion gate between a retrained model and the model users are served.

``promotion_report`` compares the latest trained hybrid with the baselines and the served
model; its blocking check ``promotion_gate`` stops ``served_model`` from recording a candidate
that fails, so the served model stays and the check says why.
"""

import dagster as dg
import pandas as pd
from pydantic import Field

from musicrec_core.data import schema as s
from musicrec_core.evaluation import (
    DEFAULT_TOLERANCE,
    PASSED,
    REASON,
    SCORE,
    VERSION,
    decide_promotion,
    read_served,
    write_served,
)
from musicrec_core.reports import markdown_table
from musicrec_dagster.defs.resources import PlatformPaths
from musicrec_dagster.defs.training.assets import MODEL_KIND

GROUP = "promotion"


class PromotionSettings(dg.Config):
    """How far below the served model a retrained one may score and still be promoted."""

    tolerance: float = Field(
        default=DEFAULT_TOLERANCE,
        ge=0.0,
        le=1.0,
        description="relative warm NDCG@10 drop allowed against the served model",
    )


@dg.asset(group_name=GROUP, kinds={"pandas", "duckdb"})
def promotion_report(
    context: dg.AssetExecutionContext,
    config: PromotionSettings,
    paths: PlatformPaths,
    model_evaluation: pd.DataFrame,
) -> pd.DataFrame:
    """The latest hybrid against every baseline and the served model, requirement by requirement."""
    store = paths.artifacts()
    version, _ = store.latest(MODEL_KIND)
    served = read_served(store.served_record)
    decision = decide_promotion(model_evaluation, MODEL_KIND, version, served, config.tolerance)
    context.log.info(decision.reason)
    report = decision.report()
    context.add_output_metadata(
        {
            "promote": decision.promote,
            "candidate_version": version,
            "served": f"{served.model_name} {served.version}" if served else "best baseline",
            "reason": decision.reason,
            "comparisons": dg.MetadataValue.md(markdown_table(decision.comparisons.round(4))),
        }
    )
    return report


@dg.asset_check(
    asset=promotion_report,
    blocking=True,
    description="The retrained model beats every baseline and stays within the tolerance of the "
    "served model; otherwise served_model is not updated.",
)
def promotion_gate(promotion_report: pd.DataFrame) -> dg.AssetCheckResult:
    failed = promotion_report[~promotion_report[PASSED].astype(bool)]
    return dg.AssetCheckResult(
        passed=failed.empty,
        description=str(promotion_report[REASON].iloc[0]),
        metadata={
            "failed_requirements": dg.MetadataValue.md(
                markdown_table(failed.drop(columns=[REASON]).round(4)) if len(failed) else "none"
            )
        },
    )


@dg.asset(group_name=GROUP, kinds={"pandas", "duckdb"})
def served_model(
    context: dg.AssetExecutionContext, paths: PlatformPaths, promotion_report: pd.DataFrame
) -> pd.DataFrame:
    """The model version recommendations are served from, recorded when it passes the gate."""
    first = promotion_report.iloc[0]
    if not promotion_report[PASSED].astype(bool).all():
        raise dg.Failure(description=str(first[REASON]))
    record = write_served(
        paths.artifacts().served_record,
        str(first[s.MODEL_NAME]),
        str(first[VERSION]),
        first[SCORE],
    )
    context.log.info(f"serving {record.model_name} {record.version} from now on")
    context.add_output_metadata(
        {"model": record.model_name, "version": record.version, "ndcg@10": record.ndcg_at_10}
    )
    return pd.DataFrame([record.__dict__])
