"""The one way in for ingested calls and outcomes (the REST and OTLP
endpoints, the demo, the routing simulation): in one transaction the ledger
stores a batch (ledger.services.calls_store, outcomes_store) and billing
meters what the records inserted add to the contract's charges (a call's
charge, an outcome's fee) against its spend limits (DESIGN.md "Spend limits
and alerts"). Limits alert; they never drop records: every record the
ledger accepts is stored whatever the counters say."""

from collections.abc import Collection

from django.db import transaction

from billing.metering import spend_meter
from billing.models import Contract
from core.batch import DecodedBatch
from ledger.records import CallIn, OutcomeIn
from ledger.services import OUTCOME_SOURCES, IngestReport, calls_store, outcomes_store


def calls_record(*, contract: Contract, batch: DecodedBatch[CallIn]) -> IngestReport:
    """Cost and store a batch of calls and meter their charges."""
    with transaction.atomic():
        report = calls_store(contract=contract, batch=batch)
        spend_meter(contract=contract, charges_by_day=report.charges_by_day)
    return report


def outcomes_record(
    *,
    contract: Contract,
    batch: DecodedBatch[OutcomeIn],
    sources: Collection[str] = OUTCOME_SOURCES,
) -> IngestReport:
    """Value and store a batch of outcomes and meter their fees. ``sources``:
    the outcome sources the caller may record (DESIGN.md "Trust between the
    parties": a vendor records vendor outcomes only)."""
    with transaction.atomic():
        report = outcomes_store(contract=contract, batch=batch, sources=sources)
        spend_meter(contract=contract, charges_by_day=report.charges_by_day)
    return report
