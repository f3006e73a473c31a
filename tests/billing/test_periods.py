"""Periods in the contract's time zone (billing/periods.py; DESIGN.md "Money
and numbers", "Period settlement"): a record belongs to the period holding
its occurred_at in that zone; a period is settled by the first run at or
after local midnight of period_end + grace_days."""

import hashlib
import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from billing.models import Contract, Statement
from billing.periods import period_of, periods_due, settle_after
from ledger.models import Call
from ledger.records import CallIn, OutcomeIn
from tests.billing import settlement_reference as ref
from tests.billing.settlement_reference import (
    CATALOG,
    Terms,
    catalog_create,
    contract_create,
    ingest,
)
from tests.conftest import client_for
from tests.factories import api_key_create

D = Decimal
ONE_MICROSECOND = timedelta(microseconds=1)
# Month ends around which records are placed: Los Angeles changes to summer
# time on 8 March 2026, Chatham back to standard time on 5 April 2026, so
# the March and April periods start and end at different UTC offsets.
MONTH_ENDS = [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
ZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Chatham"]


def nightly(as_of: datetime) -> None:
    call_command("nightly", as_of=as_of.isoformat(), stdout=io.StringIO())


def local(zone: str, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def boundary_records(zone: str) -> dict[str, datetime]:
    """Per month end: the last microsecond of the month and the first instant
    of the next one, local; plus one record mid-month."""
    records = {}
    for end in MONTH_ENDS:
        records[f"last-{end:%m}"] = local(zone, end, time(23, 59, 59, 999999))
        records[f"first-{end + timedelta(days=1):%m}"] = local(
            zone, end + timedelta(days=1), time(0)
        )
        records[f"mid-{end:%m}"] = local(zone, end.replace(day=15), time(12))
    return records


def digest_input_ids(client, code: str, number: int) -> set[str]:
    text = b"".join(
        client.get(f"/api/v1/contracts/{code}/statements/{number}/digest-input").streaming_content
    )
    return {line.split(b"\t")[1].decode() for line in text.splitlines()}


@pytest.mark.parametrize("zone", ZONES)
def test_a_record_at_a_month_boundary_belongs_to_exactly_the_local_month_holding_it(db, zone):
    catalog_create(CATALOG)
    contract = contract_create(
        Terms(timezone=zone, values={("task_completed", None): D(1)}), code="edges"
    )
    records = boundary_records(zone)
    ingest(
        contract,
        calls=[
            CallIn(
                external_id=f"c-{name}",
                occurred_at=at,
                model="gpt-4o-mini",
                task_type="triage",
                input_tokens=1000,
                output_tokens=100,
            )
            for name, at in records.items()
        ],
        outcomes=[
            OutcomeIn(
                external_id=f"o-{name}",
                occurred_at=at,
                kind="task_completed",
                task_type="triage",
                quantity=D(1),
            )
            for name, at in records.items()
        ],
    )

    nightly(datetime(2026, 6, 10, tzinfo=UTC))

    client = client_for(api_key_create(organization=contract.customer, role="customer"))
    statements = Statement.objects.filter(contract=contract).order_by("number")
    by_month = {
        s.period_start.month: digest_input_ids(client, "edges", s.number) for s in statements
    }
    assert by_month == {
        1: {"c-mid-01", "c-last-01", "o-mid-01", "o-last-01"},
        2: {f"{k}-{n}" for k in "co" for n in ("first-02", "mid-02", "last-02")},
        3: {f"{k}-{n}" for k in "co" for n in ("first-03", "mid-03", "last-03")},
        4: {f"{k}-{n}" for k in "co" for n in ("first-04", "mid-04", "last-04")},
        5: {"c-first-05", "o-first-05"},
    }
    assert [(s.calls, s.accepted_outcomes) for s in statements] == [
        (2, 2),
        (3, 3),
        (3, 3),
        (3, 3),
        (1, 1),
    ]


@pytest.mark.parametrize("zone", ZONES)
def test_the_periods_add_up_to_every_record(db, zone):
    catalog_create(CATALOG)
    contract = contract_create(Terms(timezone=zone, markup=D("0.3")), code="sums")
    ingest(
        contract,
        calls=[
            CallIn(
                external_id=f"c-{name}",
                occurred_at=at,
                model="mid-model",
                task_type="triage",
                input_tokens=123_457,
                output_tokens=9_871,
            )
            for name, at in boundary_records(zone).items()
        ],
    )

    nightly(datetime(2026, 6, 10, tzinfo=UTC))

    lines = [line for s in Statement.objects.filter(contract=contract) for line in s.lines]
    stored = Call.objects.filter(contract=contract)
    assert sum(line["calls"] for line in lines) == stored.count() == 12
    assert sum(D(line["cost_usd"]) for line in lines) == sum(c.cost_usd for c in stored)
    assert sum(D(line["charges"]) for line in lines) == sum(c.charge for c in stored)


def test_an_empty_period_still_gets_a_statement_with_the_fixed_fee(db):
    catalog_create(CATALOG)
    contract = contract_create(Terms(fixed_fee=D("12.5"), currency="EUR"), code="empty")

    nightly(datetime(2026, 2, 8, tzinfo=UTC))

    s = Statement.objects.get(contract=contract)
    assert (s.period_start, s.period_end, s.calls, s.accepted_outcomes) == (
        date(2026, 1, 1),
        date(2026, 2, 1),
        0,
        0,
    )
    assert (s.fixed_fee, s.charges, s.value, s.roi, s.efficiency) == (
        D("12.50"),
        D("12.50"),
        D("0.00"),
        D("-1.0000"),
        None,
    )
    assert (s.lines, s.outcome_lines, s.input_digest) == ([], [], hashlib.sha256(b"").hexdigest())


DUE = [
    ("UTC", 1, 7, datetime(2026, 2, 8, tzinfo=UTC)),
    ("Asia/Kolkata", 2, 3, datetime(2026, 3, 3, 18, 30, tzinfo=UTC)),
    ("America/Los_Angeles", 3, 7, datetime(2026, 4, 8, 7, tzinfo=UTC)),
    ("Pacific/Chatham", 4, 0, datetime(2026, 4, 30, 11, 15, tzinfo=UTC)),
]


@pytest.mark.parametrize(("zone", "month", "grace_days", "due"), DUE)
def test_a_period_is_settled_from_local_midnight_of_its_end_plus_grace_days(
    db, zone, month, grace_days, due
):
    catalog_create(CATALOG)
    contract = contract_create(Terms(timezone=zone, grace_days=grace_days), code="due")

    nightly(due - ONE_MICROSECOND)
    before = list(
        Statement.objects.filter(contract=contract).values_list("period_start", flat=True)
    )
    nightly(due)
    after = list(Statement.objects.filter(contract=contract).values_list("period_start", flat=True))

    assert before == [date(2026, m, 1) for m in range(1, month)]
    assert after == [date(2026, m, 1) for m in range(1, month + 1)]


@given(
    zone=st.sampled_from([*ZONES, "Europe/Berlin", "America/Santiago"]),
    period=st.sampled_from(["month", "quarter", "year"]),
    starts_on=st.dates(date(2024, 1, 1), date(2027, 12, 31)),
    length_days=st.none() | st.integers(0, 1200),
    grace_days=st.integers(0, 40),
    as_of=st.datetimes(datetime(2024, 1, 1), datetime(2031, 1, 1), timezones=st.just(UTC)),
)
def test_due_periods_tile_the_contract_life_as_the_reference_cuts_them(
    zone, period, starts_on, length_days, grace_days, as_of
):
    ends_on = None if length_days is None else starts_on + timedelta(days=length_days)
    terms = Terms(
        timezone=zone, period=period, starts_on=starts_on, ends_on=ends_on, grace_days=grace_days
    )
    contract = Contract(
        timezone=zone, period=period, starts_on=starts_on, ends_on=ends_on, grace_days=grace_days
    )

    due = periods_due(contract, as_of)

    assert [(p.start, p.end) for p in due] == [
        (p.start, p.end) for p in ref.periods_due(terms, as_of)
    ]
    assert [p.start for p in due[1:]] == [p.end for p in due[:-1]]
    assert all(settle_after(contract, p) <= as_of for p in due)
    assert all(period_of(contract, p.end - timedelta(days=1)) == p for p in due)
    assert [p.start for p in due[:1]] in ([], [starts_on])
