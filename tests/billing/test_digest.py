"""The statement's input digest (DESIGN.md "Period settlement"; API.md
"Digest", "Audit reads"): a customer recomputes it from the digest-input
endpoint, and independently from the calls and outcomes lists; statements
are readable only within reach."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from billing.models import Contract, Statement
from billing.settlement import settlements_run
from core.db_roles import connected_as_owner
from ledger import services
from ledger.records import CallIn, OutcomeIn
from ledger.rollups import rollups_refresh
from tests.billing.settlement_reference import (
    CATALOG,
    Books,
    Terms,
    catalog_create,
    contract_create,
    ingest,
)
from tests.conftest import client_for
from tests.factories import OrganizationFactory, api_key_create
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

D = Decimal
ZONE = "Asia/Kolkata"
TERMS = Terms(
    timezone=ZONE,
    markup=D("0.1"),
    values={("task_completed", None): D("7.25"), ("incident_closed", None): D("3")},
)

# Ids that sort differently bytewise than by any locale, and ones that need
# care on the wire: non-ASCII, a backslash, spaces, a percent sign.
CALL_IDS = ["c-10", "c-9", "C-1", "c-1", "çé-ü", "back\\slash", "with space", "100%"]
OUTCOME_IDS = ["o-2", "o-10", "O-1", "ö-1", "tab\\t-not"]


def at_local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(ZONE)).astimezone(UTC)


def records() -> tuple[list[CallIn], list[OutcomeIn]]:
    """January's records (local), plus one each side of it that must stay out."""
    days = [date(2026, 1, 1 + n * 3) for n in range(len(CALL_IDS))]
    calls = [
        CallIn(
            external_id=external_id,
            occurred_at=at_local(day, 0),
            model=["gpt-4o-mini", "mid-model", "frontier-b"][n % 3],
            task_type="triage",
            input_tokens=10_000 * (n + 1),
            output_tokens=777 * n,
            cache_read_tokens=1_000 * n,
        )
        for n, (external_id, day) in enumerate(zip(CALL_IDS, days, strict=True))
    ]
    calls += [
        CallIn(
            external_id=external_id,
            occurred_at=occurred_at,
            model="gpt-4o-mini",
            task_type="triage",
            input_tokens=5,
            output_tokens=5,
        )
        for external_id, occurred_at in (
            ("dec-out", at_local(date(2026, 1, 1), 0) - timedelta(microseconds=1)),
            ("feb-out", at_local(date(2026, 2, 1), 0)),
        )
    ]
    outcomes = [
        OutcomeIn(
            external_id=external_id,
            occurred_at=at_local(date(2026, 1, 2 + n * 5), 23),
            kind=["task_completed", "incident_closed"][n % 2],
            task_type="triage",
            quantity=D("1.5") * (n + 1),
        )
        for n, external_id in enumerate(OUTCOME_IDS)
    ]
    return calls, outcomes


@dataclass
class Audited:
    contract: Contract
    statement: Statement
    client: APIClient
    books: Books

    def shown(self) -> dict:
        """The statement as the API shows it."""
        return self.client.get(
            f"/api/v1/contracts/audited/statements/{self.statement.number}"
        ).json()


@pytest.fixture
def settled() -> Audited:
    """January settled with one outcome rejected and one left disputed, seen
    by the contract's customer, with the reference books kept in step."""
    catalog_create(CATALOG)
    contract = contract_create(TERMS, code="audited")
    calls, outcomes = records()
    ingest(contract, calls=calls, outcomes=outcomes)
    books = Books(CATALOG, TERMS)
    books.calls_add(calls)
    books.outcomes_add(outcomes)
    for external_id, status in [("o-2", "disputed"), ("o-2", "rejected"), ("ö-1", "disputed")]:
        services.outcome_status_change(
            contract=contract, external_id=external_id, to_status=status, actor="a", reason="r"
        )
        books.status_set(external_id, status)
    rollups_refresh()
    settlements_run(as_of=datetime(2026, 2, 8, tzinfo=UTC))
    books.nightly(datetime(2026, 2, 8, tzinfo=UTC))
    statement = Statement.objects.get(contract=contract, period_start=date(2026, 1, 1))
    client = client_for(api_key_create(organization=contract.customer, role="customer"))
    return Audited(contract, statement, client, books)


def digest_of_digest_input(client, code: str, number: int) -> str:
    response = client.get(f"/api/v1/contracts/{code}/statements/{number}/digest-input")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    return hashlib.sha256(b"".join(response.streaming_content)).hexdigest()


def every_row(client, url: str, params: dict) -> list[dict]:
    rows, page = [], client.get(url, params).json()
    rows += page["results"]
    while page["next"] is not None:
        page = client.get(page["next"]).json()
        rows += page["results"]
    return rows


def digest_of_lists(client, code: str, statement: dict) -> str:
    """API.md "Digest", from the audit lists alone: the period's local bounds
    as RFC 3339 with their offset, lines sorted bytewise, SHA-256."""
    zone = ZoneInfo(client.get(f"/api/v1/contracts/{code}").json()["timezone"])
    bounds = {
        "from": datetime.combine(date.fromisoformat(statement["period_start"]), time(0), zone),
        "to": datetime.combine(date.fromisoformat(statement["period_end"]), time(0), zone),
    }
    params = {k: v.isoformat() for k, v in bounds.items()} | {"limit": 3}
    calls = every_row(client, f"/api/v1/contracts/{code}/calls", params)
    outcomes = every_row(client, f"/api/v1/contracts/{code}/outcomes", params)
    lines = [f"call\t{c['external_id']}\t{c['cost_usd']}\n" for c in calls] + [
        f"outcome\t{o['external_id']}\t{o['value']}\t{o['status']}\n" for o in outcomes
    ]
    return hashlib.sha256(b"".join(sorted(line.encode() for line in lines))).hexdigest()


def test_the_digest_of_the_digest_input_text_is_the_statements_digest(settled):
    shown = settled.shown()

    assert (
        digest_of_digest_input(settled.client, "audited", settled.statement.number)
        == shown["input_digest"]
    )
    assert shown["input_digest"] == settled.books.issued[0].digest


def test_the_digest_recomputed_from_the_calls_and_outcomes_lists_is_the_statements_digest(
    settled,
):
    shown = settled.shown()

    assert digest_of_lists(settled.client, "audited", shown) == shown["input_digest"]


def test_the_digest_input_lists_every_record_of_the_period_once_in_byte_order(settled):
    response = settled.client.get(
        f"/api/v1/contracts/audited/statements/{settled.statement.number}/digest-input"
    )
    lines = b"".join(response.streaming_content).decode().splitlines(keepends=True)

    assert lines == sorted(lines, key=str.encode)
    assert [line.split("\t")[1] for line in lines] == sorted(CALL_IDS, key=str.encode) + sorted(
        OUTCOME_IDS, key=str.encode
    )
    assert "outcome\to-2\t10.8750000000\trejected\n" in lines


@pytest.mark.django_db(transaction=True)
def test_a_call_cost_changed_behind_the_ledgers_back_no_longer_matches_the_digest(settled):
    digest = settled.shown()["input_digest"]
    assert digest_of_lists(settled.client, "audited", settled.shown()) == digest
    # Only the owner can do this (docs/DATABASE.md): a tampering DBA.
    with connected_as_owner(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ledger_call DISABLE TRIGGER ledger_call_append_only")
        cursor.execute(
            "UPDATE ledger_call SET cost_usd = cost_usd + 0.0000000001 "
            "WHERE contract_id = %s AND external_id = 'c-9'",
            [settled.contract.id],
        )
        cursor.execute("ALTER TABLE ledger_call ENABLE TRIGGER ledger_call_append_only")

    shown = settled.shown()

    assert shown["input_digest"] == digest
    assert digest_of_digest_input(settled.client, "audited", settled.statement.number) != digest
    assert digest_of_lists(settled.client, "audited", shown) != digest


@pytest.mark.parametrize("role", ["vendor", "customer"])
def test_another_tenants_key_gets_404_and_no_rows_for_statements(settled, role):
    outsider = client_for(api_key_create(organization=OrganizationFactory(slug="rival"), role=role))
    base = "/api/v1/contracts/audited/statements"

    answers = [
        outsider.get(url)
        for url in (
            base,
            f"{base}/{settled.statement.number}",
            f"{base}/{settled.statement.number}/digest-input",
        )
    ]

    for answer in answers:
        assert_error(answer, 404, "not_found")
    assert settled.client.get(base).status_code == 200
