"""A small world for routing policy tests: priced models of each tier and
calls and outcomes stored through the real ingestion services."""

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.batch import DecodedBatch
from ledger.ingestion import calls_record, outcomes_record
from ledger.records import CallIn, OutcomeIn
from tests.factories import LlmModelFactory, PriceFactory

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
DAY_BEFORE = AS_OF - timedelta(days=1)
_serial = itertools.count()


def priced_model(name: str, tier: str, input_usd: str = "1", output_usd: str = "1"):
    model = LlmModelFactory(name=name, tier=tier)
    PriceFactory(llm_model=model, input=Decimal(input_usd), output=Decimal(output_usd))
    return model


def calls_add(
    contract, calls: list[tuple[str, str, str, str]], at=DAY_BEFORE, policy_version=None
) -> None:
    """``calls``: (task_type, task_ref, model, cost in USD) each, costed as
    reported so that the figures are exact."""
    records = [
        CallIn(
            external_id=f"call-{next(_serial)}",
            occurred_at=at,
            model=model,
            task_type=task_type,
            task_ref=task_ref,
            input_tokens=100,
            output_tokens=10,
            reported_cost_usd=Decimal(cost),
            policy_version=policy_version,
        )
        for task_type, task_ref, model, cost in calls
    ]
    report = calls_record(contract=contract, batch=DecodedBatch.of(records))
    assert report.rejected == []


def outcomes_add(contract, task_refs: list[str], task_type: str, at=DAY_BEFORE) -> None:
    """One accepted task_completed outcome (quantity 1) per task_ref."""
    records = [
        OutcomeIn(
            external_id=f"outcome-{task_ref}",
            occurred_at=at,
            kind="task_completed",
            task_type=task_type,
            task_ref=task_ref,
            quantity=Decimal(1),
        )
        for task_ref in task_refs
    ]
    report = outcomes_record(contract=contract, batch=DecodedBatch.of(records))
    assert report.rejected == []
