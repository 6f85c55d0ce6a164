"""The validation stage: take in every delivery the raw tables hold and validation has not seen.

Each delivery is validated and committed on its own, with the stage's state, so a run that
stops part-way resumes where it stopped and a rerun finds nothing to do. When the raw tables
were rebuilt (a new generation), or DuckDB's hash function changed under the stored key
hashes, validation starts again from the first delivery.
"""

from __future__ import annotations

import duckdb

from musicrec_core.data.validation.batch import (
    DeliveryResult,
    ensure_tables,
    pending_deliveries,
    validate_delivery,
)
from musicrec_core.data.warehouse import (
    QUARANTINE,
    VALIDATED,
    StageState,
    hash_probe,
    quoted,
    read_state,
    transaction,
    write_state,
)

STAGE = "validated"


def validate_pending(con: duckdb.DuckDBPyConnection, generation: int) -> list[DeliveryResult]:
    """Validate the deliveries not validated yet for this generation of the raw tables."""
    state = read_state(con, STAGE)
    probe = hash_probe(con)
    rebuild = state is None or state.generation != generation or state.fingerprint != probe
    after = -1 if rebuild else state.delivery
    if rebuild:
        with transaction(con):
            for name in (*VALIDATED.values(), QUARANTINE):
                con.execute(f"DROP TABLE IF EXISTS {quoted(name)}")
            ensure_tables(con)
            write_state(con, STAGE, StageState(generation, after, probe))
    results = []
    for delivery in pending_deliveries(con, after):
        with transaction(con):
            results.append(validate_delivery(con, delivery))
            write_state(con, STAGE, StageState(generation, delivery, probe))
    return results
