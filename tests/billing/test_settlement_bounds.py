"""Every sum and ratio a statement can reach is storable (docs/SETTLEMENT.md
"Bounds"): records are refused at 10^20 each, and the rollups, statements
and journal hold any sum of them (NUMERIC(60, 10), core.money.SUM_FIELD),
so a contract of large but valid records still settles."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.models import Statement
from billing.settlement import contract_settle
from ledger.models import CallRollup, OutcomeRollup
from ledger.records import CallIn, OutcomeIn
from ledger.rollups import rollups_refresh
from tests.billing.settlement_reference import CATALOG, Terms, catalog_create, contract_create
from tests.billing.settlement_reference import ingest as ingest_records
from tests.ledger.journal_sums import account_balances

D = Decimal
JANUARY_DUE = datetime(2026, 2, 8, tzinfo=UTC)
# The largest value one outcome may carry is below 10^20 (AMOUNT_LIMIT).
NEAR_LIMIT = D("90000000000000000000")


@pytest.fixture
def catalog(db):
    catalog_create(CATALOG)


def outcomes(count: int) -> list[OutcomeIn]:
    return [
        OutcomeIn(
            external_id=f"big-{n}",
            occurred_at=datetime(2026, 1, 10, 12, tzinfo=UTC),
            kind="task_completed",
            task_type="triage",
            quantity=D(9),
        )
        for n in range(count)
    ]


def test_eleven_outcomes_each_below_the_record_limit_settle_past_it(catalog):
    contract = contract_create(
        Terms(fixed_fee=D("1"), values={("task_completed", None): D("10000000000000000000")}),
        code="eleven",
    )
    _, outcomes_report = ingest_records(contract, outcomes=outcomes(11))
    assert outcomes_report.accepted == 11

    rollups_refresh()
    [statement] = contract_settle(contract_id=contract.id, as_of=JANUARY_DUE).settled

    rollup = OutcomeRollup.objects.get(contract=contract)
    assert (rollup.outcomes, rollup.quantity, rollup.value) == (
        11,
        D("99.0000000000"),
        D("990000000000000000000.0000000000"),
    )
    stored = Statement.objects.get(pk=statement.pk)
    assert stored.value == 11 * NEAR_LIMIT == D("990000000000000000000.00")
    assert stored.charges == D("1.00")
    # (value - charges) / charges, to 4 places: far past 10^10.
    assert stored.roi == D("989999999999999999999.0000")
    assert account_balances(contract=contract) == {
        "receivable": D("1.0000000000"),
        "revenue": D("-1.0000000000"),
    }


def test_an_efficiency_past_ten_to_the_tenth_is_stored_exactly(catalog):
    """One call costing 10^-10 USD whose tokens cost 5 USD at the baseline
    model (frontier-a, 5 USD per million input tokens)."""
    contract = contract_create(Terms(baseline_model="frontier-a"), code="efficient")
    ingest_records(
        contract,
        calls=[
            CallIn(
                external_id="cheap",
                occurred_at=datetime(2026, 1, 10, 12, tzinfo=UTC),
                model="gpt-4o-mini",
                task_type="triage",
                input_tokens=1_000_000,
                output_tokens=0,
                reported_cost_usd=D("0.0000000001"),
            )
        ],
    )

    [statement] = contract_settle(contract_id=contract.id, as_of=JANUARY_DUE).settled

    stored = Statement.objects.get(pk=statement.pk)
    assert (stored.cost_usd, stored.baseline_cost_usd, stored.savings_usd) == (
        D("0.00"),
        D("5.00"),
        D("5.00"),
    )
    assert stored.efficiency == D("50000000000.0000")
    assert CallRollup.objects.get(contract=contract).baseline_cost_usd == D("5.0000000000")


def test_the_largest_multiple_of_the_largest_fee_is_a_storable_guaranteed_value(catalog):
    """The largest terms a contract accepts (a multiple below 10^10, a fixed
    fee below 10^20): the guaranteed value and the shortfall reach 10^30,
    the payout stays within the cap."""
    contract = contract_create(
        Terms(
            fixed_fee=D("99999999999999999999.99"),
            guarantee_multiple=D("9999999999.9999999999"),
            payout_cap=D("99999999999999999999.99"),
        ),
        code="largest",
    )

    statements = contract_settle(contract_id=contract.id, as_of=JANUARY_DUE).settled

    stored = Statement.objects.get(pk=statements[0].pk)
    assert stored.period_start == date(2026, 1, 1)
    # 9999999999.9999999999 x 99999999999999999999.99, rounded half-even to cents.
    assert stored.guaranteed_value == D("999999999999999999989900000000.00")
    assert stored.shortfall == stored.guaranteed_value
    assert stored.payout == D("99999999999999999999.99")
    assert stored.cap_remaining == D("0.00")
    assert stored.roi == D("-1.0000")
