"""One contract's bad data never stops another contract's nightly work
(DESIGN.md "Trust between the parties"; ops/nightly.py, billing/nightly.py):
every step isolates contracts, the chain reaches its last step, and the
contracts it could not do are reported (log, admin, NightlyFailure, exit
status of ``manage.py nightly``)."""

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from billing.models import NightlyFailure, Statement
from ledger.models import Call, DirtyDay
from ledger.records import CallIn, OutcomeIn
from ops.management.commands.nightly import SOME_CONTRACTS_FAILED
from routing.models import PolicyVersion
from tests.billing.settlement_reference import CATALOG, Terms, catalog_create, contract_create
from tests.billing.settlement_reference import ingest as ingest_records

D = Decimal
JANUARY_DUE = datetime(2026, 2, 8, tzinfo=UTC)
FEBRUARY_DUE = datetime(2026, 3, 8, tzinfo=UTC)
TERMS = Terms(values={("task_completed", None): D("10")})
TASKS = {"rollups": "ledger.rollups_refresh", "settlement": "billing.settlements_run"}


def a_call(external_id: str, at: datetime) -> CallIn:
    return CallIn(
        external_id=external_id,
        occurred_at=at,
        model="gpt-4o-mini",
        task_type="triage",
        input_tokens=1000,
        output_tokens=100,
        reported_cost_usd=D("0.25"),
    )


def an_outcome(external_id: str, at: datetime) -> OutcomeIn:
    return OutcomeIn(
        external_id=external_id,
        occurred_at=at,
        kind="task_completed",
        task_type="triage",
        quantity=D(1),
    )


def nightly(as_of: datetime) -> str:
    out = io.StringIO()
    call_command("nightly", as_of=as_of.isoformat(), stdout=out)
    return out.getvalue()


def poison(contract, at: datetime) -> None:
    """A call at ``at`` written straight into the table, as ingestion (which
    refuses such times) never would, with the day mark ingestion leaves."""
    call = Call.objects.filter(contract=contract).first()
    call.pk = None
    call.external_id = "poisoned-call"
    call.occurred_at = at
    call.save(force_insert=True)
    DirtyDay.objects.create(contract=contract, day=at.date())


@pytest.fixture
def two_contracts(db):
    """Both settled for January; then "poisoned" gets a call at the end of
    the calendar and "healthy" a late January outcome and February work."""
    catalog_create(CATALOG)
    healthy = contract_create(TERMS, code="healthy")
    poisoned = contract_create(TERMS, code="poisoned")
    for contract in (healthy, poisoned):
        ingest_records(
            contract,
            calls=[a_call("jan-call", datetime(2026, 1, 10, tzinfo=UTC))],
            outcomes=[an_outcome("jan-outcome", datetime(2026, 1, 10, tzinfo=UTC))],
        )
    nightly(JANUARY_DUE)
    ingest_records(
        healthy,
        calls=[a_call("feb-call", datetime(2026, 2, 10, tzinfo=UTC))],
        outcomes=[an_outcome("late-jan-outcome", datetime(2026, 1, 20, tzinfo=UTC))],
    )
    return healthy, poisoned


@pytest.mark.parametrize(
    ("poisoned_at", "failed_steps", "error"),
    [
        # Its day cannot be rolled up (the next midnight is past year 9999),
        # nor its period settled.
        (datetime(9999, 12, 31, 12, tzinfo=UTC), ["rollups", "settlement"], "OverflowError"),
        # Rolled up, but its month ends past year 9999.
        (datetime(9999, 12, 15, 12, tzinfo=UTC), ["settlement"], "ValueError"),
    ],
)
def test_a_call_at_the_end_of_the_calendar_does_not_stop_another_contracts_night(
    two_contracts, poisoned_at, failed_steps, error
):
    healthy, poisoned = two_contracts
    poison(poisoned, poisoned_at)

    with pytest.raises(CommandError) as failed:
        nightly(FEBRUARY_DUE)

    assert failed.value.returncode == SOME_CONTRACTS_FAILED
    message = str(failed.value)
    assert message.endswith("; ".join(f"{TASKS[step]}: poisoned" for step in failed_steps))
    assert "healthy" not in message
    issued = Statement.objects.filter(contract=healthy).order_by("number")
    assert [(s.kind, s.period_start, s.value) for s in issued] == [
        ("settlement", date(2026, 1, 1), D("10.00")),
        ("adjustment", date(2026, 1, 1), D("10.00")),
        ("settlement", date(2026, 2, 1), D("0.00")),
    ]
    assert PolicyVersion.objects.filter(contract=healthy, as_of=FEBRUARY_DUE).count() == 1
    assert list(Statement.objects.filter(contract=poisoned).values_list("number", flat=True)) == [1]
    failures = NightlyFailure.objects.filter(as_of=FEBRUARY_DUE).order_by("id")
    assert [(f.step, f.contract_id) for f in failures] == [
        (step, poisoned.id) for step in failed_steps
    ]
    assert all(f.error.startswith(f"{error}: ") for f in failures)


def test_the_poisoned_contract_keeps_its_marks_for_the_next_night(two_contracts):
    healthy, poisoned = two_contracts
    poison(poisoned, datetime(9999, 12, 31, 12, tzinfo=UTC))

    with pytest.raises(CommandError):
        nightly(FEBRUARY_DUE)

    assert list(DirtyDay.objects.filter(contract=poisoned).values_list("day", flat=True)) == [
        date(9999, 12, 31)
    ]
    assert not DirtyDay.objects.filter(contract=healthy).exists()


def test_a_night_where_every_contract_is_done_records_no_failure(two_contracts):
    output = nightly(FEBRUARY_DUE)

    assert "failed" not in output
    assert not NightlyFailure.objects.exists()


def test_nightly_failures_are_listed_in_the_admin(two_contracts, client, admin_user):
    _, poisoned = two_contracts
    poison(poisoned, datetime(9999, 12, 31, 12, tzinfo=UTC))
    with pytest.raises(CommandError):
        nightly(FEBRUARY_DUE)
    assert client.login(username=admin_user.username, password="password")

    listed = client.get("/admin/billing/nightlyfailure/")
    added = client.get("/admin/billing/nightlyfailure/add/")

    assert listed.status_code == 200
    assert listed.content.count(b"OverflowError") == 2
    assert b"poisoned" in listed.content
    assert added.status_code == 403


def test_as_of_in_the_future_is_refused_and_nothing_runs(two_contracts):
    healthy, _ = two_contracts
    tomorrow = timezone.now() + timedelta(days=1)

    with pytest.raises(CommandError, match="lies in the future") as refused:
        nightly(tomorrow)

    assert refused.value.returncode == 1
    assert Statement.objects.filter(contract=healthy).count() == 1
    assert not PolicyVersion.objects.filter(as_of__gt=FEBRUARY_DUE).exists()
