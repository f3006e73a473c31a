"""Settlement under concurrency and failure, against real PostgreSQL with real
threads (billing/settlement.py: one transaction under a per-contract
advisory lock; STYLE.md "Tests")."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from billing import settlement
from billing.models import Statement
from ledger.models import DirtyDay, JournalEntry
from ledger.records import CallIn
from ledger.rollups import rollups_refresh
from tests.billing.settlement_reference import (
    CATALOG,
    Terms,
    catalog_create,
    contract_create,
    ingest,
)
from tests.ledger.journal_sums import journal_imbalances

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
AS_OF = datetime(2026, 4, 8, tzinfo=UTC)


def calls(prefix: str, months: list[int]) -> list[CallIn]:
    return [
        CallIn(
            external_id=f"{prefix}-{month}",
            occurred_at=datetime(2026, month, 14, tzinfo=UTC),
            model="gpt-4o-mini",
            task_type="triage",
            input_tokens=40_000,
            output_tokens=2_000,
        )
        for month in months
    ]


@pytest.fixture
def contract():
    """January to March due by AS_OF, each with a call, rolled up."""
    catalog_create(CATALOG)
    contract = contract_create(Terms(fixed_fee=Decimal("5")), code="raced")
    ingest(contract, calls=calls("c", [1, 2, 3]))
    rollups_refresh()
    return contract


def settle_at_once(contract_id: int, as_of: datetime) -> list[tuple[int, int]]:
    """contract_settle from THREADS threads released together; per thread,
    how many settlements and adjustments it issued."""
    start = threading.Barrier(THREADS)

    def settle() -> tuple[int, int]:
        try:
            start.wait()
            report = settlement.contract_settle(contract_id=contract_id, as_of=as_of)
            return len(report.settled), len(report.adjusted)
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        return sorted(f.result() for f in [pool.submit(settle) for _ in range(THREADS)])


def test_eight_concurrent_runs_issue_each_settlement_once_with_gapless_numbers(contract):
    issued = settle_at_once(contract.id, AS_OF)

    assert issued == [(0, 0)] * (THREADS - 1) + [(3, 0)]
    rows = Statement.objects.filter(contract=contract).order_by("number")
    assert [(s.number, s.kind, s.period_start.month) for s in rows] == [
        (1, "settlement", 1),
        (2, "settlement", 2),
        (3, "settlement", 3),
    ]
    assert list(
        JournalEntry.objects.filter(contract=contract)
        .order_by("statement_number")
        .values_list("statement_number", flat=True)
    ) == [1, 2, 3]


def test_eight_concurrent_runs_issue_one_adjustment_for_a_late_record(contract):
    settlement.contract_settle(contract_id=contract.id, as_of=AS_OF)
    ingest(contract, calls=calls("late", [2]))
    rollups_refresh()

    issued = settle_at_once(contract.id, AS_OF)

    assert issued == [(0, 0)] * (THREADS - 1) + [(0, 1)]
    assert list(
        Statement.objects.filter(contract=contract)
        .order_by("number")
        .values_list("number", "kind", "adjusts__number")
    ) == [
        (1, "settlement", None),
        (2, "settlement", None),
        (3, "settlement", None),
        (4, "adjustment", 2),
    ]
    assert journal_imbalances(contract=contract) == {}


def test_a_failure_after_the_first_write_leaves_no_partial_rows_and_a_retry_settles_once(
    contract, monkeypatch
):
    def journal_down(**kwargs):
        raise RuntimeError("the journal is down")

    monkeypatch.setattr(settlement, "journal_post", journal_down)
    with pytest.raises(RuntimeError, match="the journal is down"):
        settlement.contract_settle(contract_id=contract.id, as_of=AS_OF)
    monkeypatch.undo()

    assert Statement.objects.filter(contract=contract).count() == 0
    assert JournalEntry.objects.filter(contract=contract).count() == 0
    assert DirtyDay.objects.filter(contract=contract, rolled_up=True).count() == 3

    report = settlement.contract_settle(contract_id=contract.id, as_of=AS_OF)

    assert [s.number for s in report.settled] == [1, 2, 3]
    assert Statement.objects.filter(contract=contract).count() == 3
    assert JournalEntry.objects.filter(contract=contract).count() == 3
    assert DirtyDay.objects.filter(contract=contract).count() == 0
