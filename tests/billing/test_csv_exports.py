"""CSV for spreadsheets (API.md "Audit reads": ``?format=csv``): the calls,
outcomes and statements lists, streamed, every matching row with the same
filters as the JSON, each field the same string as in the JSON."""

import csv
import io
from datetime import UTC, datetime

import pytest

from billing.settlement import contract_settle
from core.csv_export import cell
from ledger.rollups import rollups_refresh
from tests.billing.test_statement_html import calls_ingest, november, outcomes_ingest
from tests.conftest import client_for
from tests.factories import OrganizationFactory, api_key_create
from tests.helpers import assert_error

__all__ = ["november"]  # the contract of test_statement_html, with November settled

CONTRACT = "/api/v1/contracts/acme-agent"
# 150 more code_review calls on 11-15: more than one JSON page (100).
MANY_CALLS = [
    (f"bulk-{n:03}", f"2026-11-15T{n // 60:02}:{n % 60:02}:00Z", "gpt-4o-mini", "code_review",
     f"0.000{n:03}")
    for n in range(150)
]  # fmt: skip


@pytest.fixture
def ledger(november):
    """November as settled (statement #1), then 150 late calls, a late
    outcome and the adjustment they cause (statement #2)."""
    calls_ingest(november, MANY_CALLS)
    outcomes_ingest(november, [("o4", "2026-11-25T18:00:00Z", "task_completed", "x", "1")])
    rollups_refresh()
    contract_settle(contract_id=november.id, as_of=datetime(2026, 12, 11, tzinfo=UTC))
    return client_for(api_key_create(organization=november.customer, role="customer"))


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def json_rows(client, url: str) -> list[dict]:
    """Every page of a JSON list."""
    rows = []
    while url:
        page = client.get(url).json()
        rows += page["results"]
        url = page["next"]
    return rows


def as_cells(row: dict) -> dict:
    """A JSON row as its CSV cells: null empty, booleans lowercase, JSON
    fields as compact JSON, strings and numbers as they are."""
    return {
        key: cell(value) if isinstance(value, bool | dict | list | None) else str(value)
        for key, value in row.items()
    }


def test_calls_csv_has_every_matching_call_as_the_json_pages_have_it(ledger):
    query = "task_type=code_review&from=2026-11-03T00:00:00Z&to=2026-11-16T00:00:00Z"

    rows = csv_rows(ledger.get(f"{CONTRACT}/calls?{query}&format=csv"))
    expected = json_rows(ledger, f"{CONTRACT}/calls?{query}")

    assert len(rows) == len(expected) == 152
    assert [row["external_id"] for row in rows] == ["c1", "c2"] + [c[0] for c in MANY_CALLS]
    assert rows == [as_cells(row) for row in expected]
    assert rows[-1]["cost_usd"] == "0.0001490000"
    assert rows[-1]["charge"] == "0.0002235000"


def test_calls_csv_ignores_limit_and_cursor_pagination(ledger):
    rows = csv_rows(ledger.get(f"{CONTRACT}/calls?format=csv&limit=1"))

    assert len(rows) == 154


def test_json_list_is_still_paginated_when_csv_is_offered(ledger):
    page = ledger.get(f"{CONTRACT}/calls?limit=100").json()

    assert len(page["results"]) == 100
    assert page["next"] is not None


def test_outcomes_csv_with_a_status_filter_equals_the_json_rows(ledger):
    query = "status=accepted&kind=task_completed"

    rows = csv_rows(ledger.get(f"{CONTRACT}/outcomes?{query}&format=csv"))
    expected = json_rows(ledger, f"{CONTRACT}/outcomes?{query}")

    assert [row["external_id"] for row in rows] == ["o1", "o2", "o4"]
    assert rows == [as_cells({k: v for k, v in row.items() if k != "events"}) for row in expected]
    assert [row["value"] for row in rows] == ["40.0000000000", "80.0000000000", "40.0000000000"]


def test_statements_csv_has_one_row_per_statement_with_its_totals(ledger):
    rows = csv_rows(ledger.get(f"{CONTRACT}/statements?format=csv"))
    statements = json_rows(ledger, f"{CONTRACT}/statements")

    assert [(row["number"], row["kind"], row["adjusts"]) for row in rows] == [
        ("1", "settlement", ""),
        ("2", "adjustment", "1"),
    ]
    assert [{k: row[k] for k in statements[0]["totals"]} for row in rows] == [
        as_cells(statement["totals"]) for statement in statements
    ]
    assert rows[0]["charges"] == "102.99"
    assert rows[0]["payout"] == "50.00"
    assert rows[0]["contract"] == "acme-agent"
    assert rows[0]["input_digest"] == statements[0]["input_digest"]


def test_csv_is_an_attachment_named_after_the_contract_and_list(ledger):
    for name in ("calls", "outcomes", "statements"):
        response = ledger.get(f"{CONTRACT}/{name}?format=csv")
        assert response["Content-Disposition"] == f'attachment; filename="acme-agent-{name}.csv"'


def test_another_tenants_key_gets_404_for_every_csv(ledger):
    stranger = client_for(
        api_key_create(organization=OrganizationFactory(slug="globex"), role="customer")
    )

    statuses = [
        stranger.get(f"{CONTRACT}/{name}?format=csv").status_code
        for name in ("calls", "outcomes", "statements")
    ]

    assert statuses == [404, 404, 404]


def test_csv_with_a_bad_filter_answers_the_json_error(ledger):
    response = ledger.get(f"{CONTRACT}/calls?format=csv&from=2026-11-03")

    assert_error(response, 400, "invalid")
