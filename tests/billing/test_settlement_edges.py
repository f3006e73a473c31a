"""Edges of settlement: statements that must not be issued, caps written
with more places than the currency, the sample flag of an adjustment, and
one contract's failure not holding back the others."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing import settlement
from billing.models import Statement
from billing.settlement import contract_settle, settlements_run
from ledger import services
from ledger.records import OutcomeIn
from tests.billing.settlement_reference import CATALOG, Terms, catalog_create, contract_create
from tests.billing.settlement_reference import ingest as ingest_records
from tests.conftest import client_for
from tests.factories import api_key_create
from tests.helpers import assert_error
from tests.ledger.journal_sums import account_balances

D = Decimal
FEBRUARY_DUE = datetime(2026, 3, 8, tzinfo=UTC)


def outcome(external_id: str, month: int) -> OutcomeIn:
    return OutcomeIn(
        external_id=external_id,
        occurred_at=datetime(2026, month, 10, 12, tzinfo=UTC),
        kind="task_completed",
        task_type="triage",
        quantity=D(1),
    )


def dispute_and_accept(contract, external_id: str) -> None:
    for status in ("disputed", "accepted"):
        services.outcome_status_change(
            contract=contract, external_id=external_id, to_status=status, actor="t", reason="r"
        )


@pytest.fixture
def catalog(db):
    catalog_create(CATALOG)


def test_a_change_that_leaves_a_period_as_it_was_issues_nothing_even_when_the_cap_moved(catalog):
    """January: value 1000 >= 2 x 50, no payout, cap_remaining 100. February
    takes the whole cap. Re-accepting January's outcome changes nothing in
    January, only the cap_remaining it would show."""
    terms = Terms(
        fixed_fee=D("50"),
        guarantee_multiple=D("2"),
        payout_cap=D("100"),
        values={("task_completed", None): D("1000")},
    )
    contract = contract_create(terms, code="cap-moved")
    ingest_records(contract, outcomes=[outcome("jan", 1)])
    contract_settle(contract_id=contract.id, as_of=FEBRUARY_DUE)
    dispute_and_accept(contract, "jan")

    report = contract_settle(contract_id=contract.id, as_of=FEBRUARY_DUE)

    assert (report.settled, report.adjusted) == ([], [])
    assert [(s.number, s.payout) for s in Statement.objects.filter(contract=contract)] == [
        (1, D("0")),
        (2, D("100")),
    ]


def test_a_cap_with_more_places_than_the_currency_is_never_exceeded_and_the_books_agree(catalog):
    terms = Terms(fixed_fee=D("100"), guarantee_multiple=D("2"), payout_cap=D("100.005"))
    contract = contract_create(terms, code="fine-cap")

    report = contract_settle(contract_id=contract.id, as_of=datetime(2026, 2, 8, tzinfo=UTC))

    statement = report.settled[0]
    assert (statement.payout, statement.cap_remaining) == (D("100.00"), D("0.00"))
    assert account_balances(contract=contract)["guarantee_expense"] == D("100.00")


def test_an_adjustment_flags_few_outcomes_by_the_period_as_re_settled(catalog):
    terms = Terms(min_sample=1, values={("task_completed", None): D("10")})
    contract = contract_create(terms, code="sample")
    ingest_records(contract, outcomes=[outcome("a", 1), outcome("b", 1)])
    contract_settle(contract_id=contract.id, as_of=datetime(2026, 2, 8, tzinfo=UTC))
    services.outcome_status_change(
        contract=contract, external_id="b", to_status="disputed", actor="t", reason="r"
    )

    adjustment = contract_settle(
        contract_id=contract.id, as_of=datetime(2026, 2, 9, tzinfo=UTC)
    ).adjusted[0]

    assert adjustment.accepted_outcomes == -1
    assert adjustment.few_outcomes is False


def test_one_contract_failing_does_not_hold_back_the_others(catalog, monkeypatch):
    first = contract_create(Terms(starts_on=date(2026, 1, 1)), code="first")
    second = contract_create(Terms(starts_on=date(2026, 1, 1)), code="second")
    real = settlement.contract_settle

    def failing_for_first(*, contract_id, as_of):
        if contract_id == first.id:
            raise RuntimeError("the database went away")
        return real(contract_id=contract_id, as_of=as_of)

    monkeypatch.setattr(settlement, "contract_settle", failing_for_first)

    report = settlements_run(as_of=datetime(2026, 2, 8, tzinfo=UTC))

    assert report.failures.errors == {"first": "RuntimeError: the database went away"}
    assert [s.contract.code for s in report.settled] == ["second"]
    assert Statement.objects.filter(contract=second).count() == 1
    assert Statement.objects.filter(contract=first).count() == 0


def test_digest_input_of_a_superseded_statement_names_the_adjustment_instead_of_misleading(
    catalog,
):
    contract = contract_create(Terms(values={("task_completed", None): D("10")}), code="superseded")
    ingest_records(contract, outcomes=[outcome("a", 1), outcome("b", 1)])
    contract_settle(contract_id=contract.id, as_of=datetime(2026, 2, 8, tzinfo=UTC))
    services.outcome_status_change(
        contract=contract, external_id="b", to_status="disputed", actor="t", reason="r"
    )
    contract_settle(contract_id=contract.id, as_of=datetime(2026, 2, 9, tzinfo=UTC))
    client = client_for(api_key_create(organization=contract.customer, role="customer"))

    original = client.get("/api/v1/contracts/superseded/statements/1/digest-input")
    latest = client.get("/api/v1/contracts/superseded/statements/2/digest-input")

    error = assert_error(original, 409, "superseded")
    assert error["details"] == {"superseded_by": 2}
    assert latest.status_code == 200
    assert b"".join(latest.streaming_content) == (
        b"outcome\ta\t10.0000000000\taccepted\noutcome\tb\t10.0000000000\tdisputed\n"
    )
