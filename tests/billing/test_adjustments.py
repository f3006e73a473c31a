"""Re-settlement (DESIGN.md "Period settlement", "Ingestion rules": late
records; "Outcome": disputes): the next nightly run issues one adjustment
statement for the difference, linked to the original, within the cap; an
issued statement is never changed; the journal stays balanced."""

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum

from billing.models import Contract, Statement
from ledger import services
from ledger.models import JournalPosting
from ledger.records import CallIn, OutcomeIn
from tests.billing.settlement_reference import (
    CATALOG,
    Books,
    Terms,
    api_statements,
    catalog_create,
    contract_create,
    ingest,
)
from tests.conftest import client_for
from tests.factories import api_key_create
from tests.ledger.journal_sums import account_balances, journal_imbalances

D = Decimal
TERMS = Terms(
    currency="EUR",
    fx_rate=D("0.92"),
    markup=D("0.25"),
    fixed_fee=D("10"),
    guarantee_multiple=D("2"),
    payout_cap=D("1000"),
    values={("task_completed", None): D("30")},
    fees={("task_completed", None): D("2")},
)
SETTLED_AT = datetime(2026, 2, 8, tzinfo=UTC)
NEXT_NIGHT = datetime(2026, 2, 9, tzinfo=UTC)


def call(external_id: str, day: int, cost: str) -> CallIn:
    """100k input + 10k output tokens (0.65 at frontier-a, the baseline in
    January) reporting its own cost."""
    return CallIn(
        external_id=external_id,
        occurred_at=datetime(2026, 1, day, 12, tzinfo=UTC),
        model="gpt-4o-mini",
        task_type="triage",
        input_tokens=100_000,
        output_tokens=10_000,
        reported_cost_usd=D(cost),
    )


def outcome(external_id: str, day: int) -> OutcomeIn:
    return OutcomeIn(
        external_id=external_id,
        occurred_at=datetime(2026, 1, day, 17, tzinfo=UTC),
        kind="task_completed",
        task_type="triage",
        quantity=D(1),
    )


def nightly(as_of: datetime) -> str:
    out = io.StringIO()
    call_command("nightly", as_of=as_of.isoformat(), stdout=out)
    return out.getvalue()


@dataclass
class Ledger:
    """A contract and the reference books kept in step with it."""

    contract: Contract
    books: Books
    client: object

    def ingest(self, *, calls=(), outcomes=()) -> None:
        ingest(self.contract, calls=calls, outcomes=outcomes)
        self.books.calls_add(list(calls))
        self.books.outcomes_add(list(outcomes))

    def status(self, external_id: str, to_status: str) -> None:
        services.outcome_status_change(
            contract=self.contract,
            external_id=external_id,
            to_status=to_status,
            actor="acme/customer",
            reason="checked",
        )
        self.books.status_set(external_id, to_status)

    def nightly(self, as_of: datetime) -> None:
        nightly(as_of)
        self.books.nightly(as_of)

    def statement(self, number: int) -> bytes:
        return self.client.get(
            f"/api/v1/contracts/{self.contract.code}/statements/{number}"
        ).content

    def shown(self, number: int) -> dict:
        return self.client.get(f"/api/v1/contracts/{self.contract.code}/statements/{number}").json()

    def predicted(self) -> list[dict]:
        """Every issued statement, cut to what the reference books predict."""
        return api_statements(self.client, self.contract.code)


@pytest.fixture
def ledger(db) -> Ledger:
    """January settled: two calls of 1.00 USD (charge 1.15 EUR each), three
    accepted outcomes (value 30, fee 2 each), fixed fee 10: charges 18.30,
    value 90.00, no shortfall."""
    catalog_create(CATALOG)
    contract = contract_create(TERMS, code="adjusted")
    ledger = Ledger(
        contract,
        Books(CATALOG, TERMS),
        client_for(api_key_create(organization=contract.customer, role="customer")),
    )
    ledger.ingest(
        calls=[call("c-1", 5, "1.00"), call("c-2", 6, "1.00")],
        outcomes=[outcome("o-1", 5), outcome("o-2", 6), outcome("o-3", 7)],
    )
    ledger.nightly(SETTLED_AT)
    return ledger


def late_changes(ledger: Ledger) -> None:
    """A late call of 3.00 USD, o-1 disputed and rejected, o-2 disputed."""
    ledger.ingest(calls=[call("c-late", 31, "3.00")])
    ledger.status("o-1", "disputed")
    ledger.status("o-1", "rejected")
    ledger.status("o-2", "disputed")


def test_late_calls_and_disputes_issue_one_adjustment_of_the_exact_difference(ledger):
    late_changes(ledger)

    ledger.nightly(NEXT_NIGHT)

    adjustment = ledger.shown(2)
    assert (adjustment["kind"], adjustment["adjusts"], adjustment["period_start"]) == (
        "adjustment",
        1,
        "2026-01-01",
    )
    # Re-settled: charges 5.75 + 2 + 10 = 17.75, value 30, guaranteed 35.50.
    assert adjustment["totals"] == {
        "calls": 1,
        "accepted_outcomes": -2,
        "cost_usd": "3.00",
        "usage_charges": "3.45",
        "outcome_fees": "-4.00",
        "fixed_fee": "0.00",
        "charges": "-0.55",
        "value": "-60.00",
        "guaranteed_value": "-1.10",
        "shortfall": "5.50",
        "payout": "5.50",
        "cap_remaining": "994.50",
        "baseline_cost_usd": "0.65",
        "savings_usd": "-2.35",
        "roi": None,
        "efficiency": None,
        "tasks": 0,
        "value_ci_low": None,
        "value_ci_high": None,
        "shortfall_within_noise": None,
    }
    # The period as re-settled, absolute. Each outcome is its own task:
    # values 0 (o-1 rejected), 0 (o-2 disputed), 30: n = 3, Σx = 30,
    # Σx² = 900, 1.96 x sqrt((3 x 900 - 30²) / 2) = 1.96 x 30 = 58.80.
    resettled = adjustment["resettled_totals"]
    assert {k: resettled[k] for k in ("charges", "value", "accepted_outcomes", "roi")} == {
        "charges": "17.75",
        "value": "30.00",
        "accepted_outcomes": 1,
        "roi": "0.6901",
    }
    assert {k: resettled[k] for k in ("tasks", "value_ci_low", "value_ci_high")} == {
        "tasks": 3,
        "value_ci_low": "-28.80",
        "value_ci_high": "88.80",
    }
    assert resettled["shortfall_within_noise"] is True
    assert ledger.predicted() == [s.as_api(TERMS) for s in ledger.books.issued]


def test_the_original_statement_reads_byte_identical_after_an_adjustment(ledger):
    before = ledger.statement(1)
    late_changes(ledger)

    ledger.nightly(NEXT_NIGHT)

    assert Statement.objects.filter(contract=ledger.contract).count() == 2
    assert ledger.statement(1) == before


def test_a_second_run_with_nothing_new_issues_nothing(ledger):
    late_changes(ledger)
    ledger.nightly(NEXT_NIGHT)

    output = nightly(datetime(2026, 2, 10, tzinfo=UTC))

    assert Statement.objects.filter(contract=ledger.contract).count() == 2
    assert "settlement: no statement due" in output


def test_every_journal_entry_and_the_whole_journal_sum_to_zero(ledger):
    late_changes(ledger)
    ledger.nightly(NEXT_NIGHT)

    assert journal_imbalances(contract=ledger.contract) == {}
    assert JournalPosting.objects.aggregate(total=Sum("amount"))["total"] == 0
    # 18.30 charged, then -0.55; 5.50 paid out.
    assert account_balances(contract=ledger.contract) == {
        "customer_credit": D("-5.50"),
        "guarantee_expense": D("5.50"),
        "receivable": D("17.75"),
        "revenue": D("-17.75"),
    }


def test_a_dispute_accepted_again_before_the_run_issues_nothing(ledger):
    ledger.status("o-1", "disputed")
    ledger.status("o-1", "accepted")

    ledger.nightly(NEXT_NIGHT)

    assert list(Statement.objects.filter(contract=ledger.contract).values_list("number")) == [(1,)]


def test_a_duplicate_of_a_settled_record_issues_nothing(ledger):
    calls_report, outcomes_report = ingest(
        ledger.contract, calls=[call("c-1", 5, "1.00")], outcomes=[outcome("o-1", 5)]
    )

    ledger.nightly(NEXT_NIGHT)

    assert (calls_report.duplicates, outcomes_report.duplicates) == (1, 1)
    assert Statement.objects.filter(contract=ledger.contract).count() == 1


def test_a_second_adjustment_links_the_original_settlement_and_may_be_negative(ledger):
    """o-2 accepted again: value 60, charges 5.865 -> 5.86 + 4 + 10 = 19.86,
    no shortfall left, so the 5.50 paid out is taken back."""
    late_changes(ledger)
    ledger.nightly(NEXT_NIGHT)
    ledger.status("o-2", "accepted")
    ledger.ingest(calls=[call("c-later", 20, "0.10")])

    ledger.nightly(datetime(2026, 2, 10, tzinfo=UTC))

    third = ledger.shown(3)
    assert (third["kind"], third["adjusts"]) == ("adjustment", 1)
    assert (third["totals"]["value"], third["totals"]["charges"]) == ("30.00", "2.11")
    assert (third["totals"]["payout"], third["totals"]["cap_remaining"]) == ("-5.50", "1000.00")
    assert ledger.predicted() == [s.as_api(TERMS) for s in ledger.books.issued]


def test_an_adjustment_pays_out_only_what_the_cap_leaves_after_other_periods(db):
    """Fixed fee 100, guarantee 2x, cap 450: January pays 50 (its outcome is
    worth 150), February and March 200 each, which exhausts the cap; the
    dispute of January's outcome raises its shortfall by 150, and the
    adjustment pays nothing more."""
    catalog_create(CATALOG)
    terms = Terms(
        fixed_fee=D("100"),
        guarantee_multiple=D("2"),
        payout_cap=D("450"),
        values={("task_completed", None): D("150")},
    )
    contract = contract_create(terms, code="capped")
    ingest(contract, outcomes=[outcome("o-1", 10)])
    nightly(datetime(2026, 4, 8, tzinfo=UTC))
    services.outcome_status_change(
        contract=contract, external_id="o-1", to_status="disputed", actor="a", reason="r"
    )

    nightly(datetime(2026, 4, 9, tzinfo=UTC))

    rows = Statement.objects.filter(contract=contract).order_by("number")
    assert [(s.kind, s.period_start, s.shortfall, s.payout, s.cap_remaining) for s in rows] == [
        ("settlement", date(2026, 1, 1), D("50.00"), D("50.00"), D("400.00")),
        ("settlement", date(2026, 2, 1), D("200.00"), D("200.00"), D("200.00")),
        ("settlement", date(2026, 3, 1), D("200.00"), D("200.00"), D("0.00")),
        ("adjustment", date(2026, 1, 1), D("150.00"), D("0.00"), D("0.00")),
    ]
    assert rows.aggregate(total=Sum("payout"))["total"] == D("450")
