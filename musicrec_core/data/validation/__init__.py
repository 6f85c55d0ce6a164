"""Validation: every raw row ends in a validated table or in quarantine, with a reason."""

from musicrec_core.data.validation.batch import DERIVED_SOURCE, DeliveryResult, validate_delivery
from musicrec_core.data.validation.frames import ValidatedCatalogue, validate_catalogue
from musicrec_core.data.validation.pending import validate_pending
from musicrec_core.data.validation.reconcile import (
    imputed_counts,
    reconcile,
    reconcile_by_delivery,
    reconcile_table,
    reconcile_totals,
)
from musicrec_core.data.validation.rules import TIMESTAMP_RANGE

__all__ = [
    "DERIVED_SOURCE",
    "TIMESTAMP_RANGE",
    "DeliveryResult",
    "ValidatedCatalogue",
    "imputed_counts",
    "reconcile",
    "reconcile_by_delivery",
    "reconcile_table",
    "reconcile_totals",
    "validate_catalogue",
    "validate_delivery",
    "validate_pending",
]
