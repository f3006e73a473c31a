"""Period settlement (billing/settlement.py) against the pure-Decimal
reference model: DESIGN.md "Charges", "Outcome", "Period settlement",
"Routing savings"; docs/SETTLEMENT.md."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.models import NightlyFailure, Statement
from ledger import services
from ledger.models import JournalPosting
from ledger.records import CallIn, OutcomeIn
from ops.nightly import nightly_chain
from tests.billing.settlement_reference import (
    CATALOG,
    FRONTIER_SWITCH,
    Books,
    Terms,
    api_statements,
    catalog_create,
    contract_create,
    ingest,
    some_calls,
    some_outcomes,
)
from tests.conftest import client_for
from tests.factories import LlmModelFactory, PriceFactory, api_key_create
from tests.ledger.journal_sums import account_balances, journal_imbalances

D = Decimal

CASES = {
    "eur-fx-markup-fees-fixed-fee-berlin-month": Terms(
        currency="EUR",
        fx_rate=D("0.92"),
        markup=D("0.15"),
        fixed_fee=D("25"),
        hourly_rate=D("10"),
        guarantee_multiple=D("2"),
        payout_share=D("0.5"),
        payout_cap=D("10000"),
        timezone="Europe/Berlin",
        values={("task_completed", "code_review"): D("8"), ("task_completed", None): D("5")},
        fees={("task_completed", "code_review"): D("1.49"), ("task_completed", None): D("0.99")},
    ),
    "usd-quarter-los-angeles-contract-baseline": Terms(
        period="quarter",
        timezone="America/Los_Angeles",
        markup=D("0.2"),
        hourly_rate=D("9.55"),
        guarantee_multiple=D("3"),
        payout_cap=D("100"),
        baseline_model="frontier-a",
        values={("task_completed", None): D("2.5")},
        fees={("hours_saved", None): D("3.3333333333")},
    ),
    "jpy-year-kolkata": Terms(
        currency="JPY",
        fx_rate=D("150.37"),
        markup=D("0.1"),
        fixed_fee=D("5000"),
        hourly_rate=D("300"),
        guarantee_multiple=D("1.5"),
        payout_cap=D("1000000"),
        period="year",
        timezone="Asia/Kolkata",
        values={("task_completed", None): D("200")},
        fees={("task_completed", None): D("150")},
    ),
}


def nightly(as_of: str) -> None:
    """The nightly chain, in-process, as of ``as_of``: the chain itself, as
    some periods here end after today (``manage.py nightly`` refuses an
    as-of in the future)."""
    nightly_chain(datetime.fromisoformat(as_of)).apply()
    assert not NightlyFailure.objects.exists()


def vendor_client(contract):
    return client_for(api_key_create(organization=contract.vendor, role="vendor"))


def record_statuses(contract, books: Books, changes: list[tuple[str, str]]) -> None:
    for external_id, status in changes:
        services.outcome_status_change(
            contract=contract, external_id=external_id, to_status=status, actor="t", reason="r"
        )
        books.status_set(external_id, status)


@pytest.mark.parametrize("name", CASES)
def test_every_statement_equals_the_reference_model_computed_from_the_raw_records(db, name):
    terms = CASES[name]
    catalog_create(CATALOG)
    contract = contract_create(terms, code=name)
    rng = random.Random(name)
    window = {"start": datetime(2026, 1, 1, tzinfo=UTC), "end": datetime(2026, 7, 1, tzinfo=UTC)}
    calls = some_calls(
        rng,
        count=160,
        models=[m for m, _ in CATALOG.models],
        task_types=["code_review", "triage"],
        prefix="c",
        **window,
    )
    outcomes = some_outcomes(
        rng,
        count=60,
        kinds=["task_completed", "hours_saved"],
        task_types=["code_review", "triage"],
        prefix="o",
        **window,
    )
    books = Books(CATALOG, terms)
    ingest(contract, calls=calls, outcomes=outcomes)
    books.calls_add(calls)
    books.outcomes_add(outcomes)
    record_statuses(
        contract,
        books,
        [
            ("o-1", "disputed"),
            ("o-2", "disputed"),
            ("o-2", "rejected"),
            ("o-3", "disputed"),
            ("o-3", "accepted"),
        ],
    )

    nightly("2027-02-01T00:00:00Z")
    books.nightly(datetime(2027, 2, 1, tzinfo=UTC))

    assert api_statements(vendor_client(contract), name) == [s.as_api(terms) for s in books.issued]


def test_each_total_is_rounded_once_half_even_and_the_statement_foots(db):
    """January: three calls of 0.004 sum to 0.012, rounded once to 0.01 (not
    3 x 0.00); February's 0.125 rounds to 0.12 and March's 0.135 to 0.14; the
    guaranteed value 1.5 x charges is rounded from the rounded charges."""
    catalog_create(CATALOG)
    contract = contract_create(
        Terms(fixed_fee=D("0.005"), guarantee_multiple=D("1.5"), payout_cap=D("100")),
        code="rounding",
    )
    costs = [(1, "0.004"), (1, "0.004"), (1, "0.004"), (2, "0.125"), (3, "0.135")]
    ingest(
        contract,
        calls=[
            CallIn(
                external_id=f"c-{n}",
                occurred_at=datetime(2026, month, 10 + n, tzinfo=UTC),
                model="gpt-4o-mini",
                task_type="triage",
                input_tokens=0,
                output_tokens=0,
                reported_cost_usd=D(cost),
            )
            for n, (month, cost) in enumerate(costs)
        ],
    )

    nightly("2026-04-08T00:00:00Z")

    rows = Statement.objects.filter(contract=contract).order_by("number")
    assert [
        (s.cost_usd, s.usage_charges, s.fixed_fee, s.charges, s.guaranteed_value, s.payout)
        for s in rows
    ] == [
        (D("0.01"), D("0.01"), D("0.00"), D("0.01"), D("0.02"), D("0.02")),
        (D("0.12"), D("0.12"), D("0.00"), D("0.12"), D("0.18"), D("0.18")),
        (D("0.14"), D("0.14"), D("0.00"), D("0.14"), D("0.21"), D("0.21")),
    ]
    assert [s.cap_remaining for s in rows] == [D("99.98"), D("99.80"), D("99.59")]


def test_the_default_baseline_is_the_dearest_frontier_model_at_each_calls_time(db):
    """1M input + 1M output tokens of gpt-4o-mini cost 0.75; the baseline is
    frontier-a (5 + 15 = 20) before the switch, frontier-b (10 + 30 = 40) from it."""
    catalog_create(CATALOG)
    contract = contract_create(Terms(), code="baseline")
    ingest(
        contract,
        calls=[
            CallIn(
                external_id=name,
                occurred_at=at,
                model="gpt-4o-mini",
                task_type="triage",
                input_tokens=1_000_000,
                output_tokens=1_000_000,
            )
            for name, at in (
                ("before", FRONTIER_SWITCH - timedelta(microseconds=1)),
                ("at", FRONTIER_SWITCH),
            )
        ],
    )

    nightly("2026-03-08T00:00:00Z")

    s = Statement.objects.get(contract=contract, period_start=date(2026, 2, 1))
    assert (s.cost_usd, s.baseline_cost_usd, s.savings_usd, s.efficiency) == (
        D("1.50"),
        D("60.00"),
        D("58.50"),
        D("40.0000"),
    )


@pytest.mark.parametrize("baseline_model", [None, "frontier-late"])
def test_without_a_baseline_price_in_force_no_savings_are_claimed(db, baseline_model):
    """The only frontier model (the contract's, or the default) is priced from
    March; January's calls have no baseline price, so baseline = cost."""
    LlmModelFactory(name="gpt-4o-mini", tier="light")
    PriceFactory(llm_model=LlmModelFactory(name="gpt-4o-mini"))
    PriceFactory(
        llm_model=LlmModelFactory(name="frontier-late", tier="frontier"),
        effective_from=datetime(2026, 3, 1, tzinfo=UTC),
        input=D("5"),
        output=D("15"),
    )
    contract = contract_create(Terms(baseline_model=baseline_model), code="no-baseline")
    ingest(
        contract,
        calls=[
            CallIn(
                external_id="c-1",
                occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
                model="gpt-4o-mini",
                task_type="triage",
                input_tokens=2_000_000,
                output_tokens=1_000_000,
            )
        ],
    )

    nightly("2026-02-08T00:00:00Z")

    s = Statement.objects.get(contract=contract)
    assert (s.cost_usd, s.baseline_cost_usd, s.savings_usd, s.efficiency) == (
        D("0.90"),
        D("0.90"),
        D("0.00"),
        D("1.0000"),
    )
    assert s.savings_by_task_type == [
        {
            "task_type": "triage",
            "cost_usd": "0.9000000000",
            "baseline_cost_usd": "0.9000000000",
            "savings_usd": "0.0000000000",
            "efficiency": "1.0000",
        }
    ]


def capped_contract(code: str):
    """Fixed fee 100 a month, nothing delivered, guarantee 2x: each month
    falls short by 200, against a cap of 450."""
    catalog_create(CATALOG)
    return contract_create(
        Terms(fixed_fee=D("100"), guarantee_multiple=D("2"), payout_cap=D("450")), code=code
    )


def test_payouts_stop_at_the_cap_and_later_statements_show_none_remaining(db):
    contract = capped_contract("capped")

    nightly("2026-06-08T00:00:00Z")

    rows = Statement.objects.filter(contract=contract).order_by("number")
    assert [(s.period_start.month, s.shortfall, s.payout, s.cap_remaining) for s in rows] == [
        (1, D("200.00"), D("200.00"), D("250.00")),
        (2, D("200.00"), D("200.00"), D("50.00")),
        (3, D("200.00"), D("50.00"), D("0.00")),
        (4, D("200.00"), D("0.00"), D("0.00")),
        (5, D("200.00"), D("0.00"), D("0.00")),
    ]
    assert rows.aggregate(total=Sum("payout"))["total"] == D("450")


def test_the_journal_posts_charges_and_payouts_debit_positive_credit_negative(db):
    contract = capped_contract("journal")

    nightly("2026-03-08T00:00:00Z")

    assert account_balances(contract=contract) == {
        "customer_credit": D("-400"),
        "guarantee_expense": D("400"),
        "receivable": D("200"),
        "revenue": D("-200"),
    }
    assert journal_imbalances(contract=contract) == {}
    assert JournalPosting.objects.filter(contract=contract).count() == 8


def test_a_statement_flags_a_guarantee_resting_on_fewer_outcomes_than_min_sample(db):
    catalog_create(CATALOG)
    terms = Terms(min_sample=2, values={("task_completed", None): D("10")})
    contract = contract_create(terms, code="few")
    ingest(
        contract,
        outcomes=[
            OutcomeIn(
                external_id="o-1",
                occurred_at=datetime(2026, 1, 3, tzinfo=UTC),
                kind="task_completed",
                task_type="triage",
                quantity=D(1),
            ),
            OutcomeIn(
                external_id="o-2",
                occurred_at=datetime(2026, 2, 3, tzinfo=UTC),
                kind="task_completed",
                task_type="triage",
                quantity=D(1),
            ),
            OutcomeIn(
                external_id="o-3",
                occurred_at=datetime(2026, 2, 4, tzinfo=UTC),
                kind="task_completed",
                task_type="triage",
                quantity=D(1),
            ),
        ],
    )

    nightly("2026-03-08T00:00:00Z")

    shown = vendor_client(contract).get("/api/v1/contracts/few/statements").json()["results"]
    assert [(s["totals"]["accepted_outcomes"], s["few_outcomes"]) for s in shown] == [
        (1, True),
        (2, False),
    ]
