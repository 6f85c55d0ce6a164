"""Automation conditions: which assets refresh by themselves when their inputs change."""

import dagster as dg

# Refresh once after any upstream update, only over inputs whose blocking checks passed.
FOLLOW_NEW_DATA = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
)

# The same for the serving policy, which also follows promotions: served_model stays absent
# until a first model passes the promotion gate, and must not hold serving back until then.
FOLLOW_NEW_DATA_AND_PROMOTIONS = (
    dg.AutomationCondition.eager().replace(
        "any_deps_missing",
        dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.assets("served_model")),
    )
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
)
