"""``manage.py nightly`` says what each step did in words: the contracts by
code, the periods by name and the statements by number."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal

from django.core.management import call_command

from ledger.records import CallIn, OutcomeIn
from ledger.services import outcome_status_change
from tests.billing.settlement_reference import (
    CATALOG,
    Terms,
    catalog_create,
    contract_create,
    ingest,
)

NIGHT = datetime(2026, 2, 8, tzinfo=UTC)
NEXT_NIGHT = datetime(2026, 2, 9, tzinfo=UTC)
TERMS = Terms(values={("task_completed", None): Decimal(40)})


def nightly(as_of: datetime) -> list[str]:
    out = io.StringIO()
    call_command("nightly", as_of=as_of.isoformat(), stdout=out)
    return out.getvalue().splitlines()


def a_january_call(contract) -> None:
    ingest(
        contract,
        calls=[
            CallIn(
                external_id="c-1",
                occurred_at=datetime(2026, 1, 20, tzinfo=UTC),
                model="gpt-4o-mini",
                task_type="triage",
                input_tokens=1000,
                output_tokens=100,
            )
        ],
        outcomes=[
            OutcomeIn(
                external_id="o-1",
                occurred_at=datetime(2026, 1, 20, 18, tzinfo=UTC),
                kind="task_completed",
                task_type="triage",
                quantity=Decimal(1),
            )
        ],
    )


def test_nightly_names_each_contract_period_and_statement_number(db):
    catalog_create(CATALOG)
    monthly = contract_create(TERMS, code="acme-agent-2026")
    quarterly = contract_create(
        Terms(period="quarter", starts_on=date(2025, 10, 1)), code="globex-q"
    )
    a_january_call(monthly)

    lines = nightly(NIGHT)

    assert lines[:4] == [
        "nightly run as of 2026-02-08T00:00:00+00:00",
        "rollups: 1 day of 1 contract rebuilt",
        "acme-agent-2026: 2026-01 settled as #1",
        "globex-q: 2025-Q4 settled as #1",
    ]
    assert quarterly.statements.get().number == 1


def test_a_late_change_reads_as_an_adjustment_of_the_statement_it_adjusts(db):
    catalog_create(CATALOG)
    contract = contract_create(TERMS, code="acme-agent-2026")
    a_january_call(contract)
    nightly(NIGHT)
    outcome_status_change(
        contract=contract, external_id="o-1", to_status="disputed", actor="acme", reason="late"
    )

    lines = nightly(NEXT_NIGHT)

    assert lines == [
        "nightly run as of 2026-02-09T00:00:00+00:00",
        "rollups: 1 day of 1 contract rebuilt",
        "acme-agent-2026: 2026-01 adjusted as #2 (adjusts #1)",
        "routing: acme-agent-2026 v2 learned",
    ]


def test_a_run_with_nothing_due_says_so(db):
    catalog_create(CATALOG)
    contract_create(Terms(starts_on=date(2026, 2, 1)), code="acme-agent-2026")

    lines = nightly(NIGHT)

    assert lines[1:3] == [
        "rollups: no new records since the last run",
        "settlement: no statement due",
    ]
