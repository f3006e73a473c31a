"""The admin reads like the statement it shows: labels a person reads,
money to the currency's places in lists (every place on the detail page),
the printable page one click from the list, model pickers that search."""

import io
import re
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from ledger.models import Call
from ledger.records import CallIn
from tests.billing.settlement_reference import (
    CATALOG,
    Terms,
    catalog_create,
    contract_create,
    ingest,
)
from tests.billing.test_statement_html import november  # noqa: F401 - the settled contract


@pytest.fixture
def site(client, admin_user):
    assert client.login(username=admin_user.username, password="password")
    return client


def cells(html: str, tag: str) -> list[str]:
    """The text of every ``tag`` cell (th or td) of ``html``."""
    found = re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", html, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in found]


def first_row(html: str) -> list[str]:
    row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", html, re.S).group(1)
    return cells(row, "t[hd]")


def test_statement_list_shows_money_to_the_currencys_places_and_the_page_link_early(
    site,
    november,  # noqa: F811
):
    row = first_row(site.get("/admin/billing/statement/").content.decode())

    assert row == [
        "acme-agent",
        "1",
        "Statement page",
        "Settlement",
        "Nov. 1, 2026",
        "102.99 USD",
        "345.00 USD",
        "50.00 USD",
        "Dec. 10, 2026, midnight",
    ]


def test_statement_detail_labels_in_words_and_keeps_every_place(site, november):  # noqa: F811
    statement = november.statements.get(number=1)

    html = site.get(f"/admin/billing/statement/{statement.pk}/change/").content.decode()

    assert re.search(r"<label>ROI:</label>\s*<div class=\"readonly\">2.3498000000</div>", html)
    assert re.search(r"<label>Cost \(USD\):</label>", html)
    assert re.search(r"<label>Payout:</label>\s*<div class=\"readonly\">50.0000000000</div>", html)


def test_call_list_headers_name_the_units(site, vendor_client, contract):
    record = {"external_id": "c-1", "occurred_at": "2026-11-03T09:15:00Z",
              "model": "gpt-4o-mini", "task_type": "review", "input_tokens": 10,
              "output_tokens": 1}  # fmt: skip
    vendor_client.post("/api/v1/contracts/acme-agent/calls", {"records": [record]}, format="json")
    assert Call.objects.count() == 1

    labels = cells(site.get("/admin/ledger/call/").content.decode(), "th")

    assert {"Reported cost (USD)", "Computed cost (USD)", "Cost (USD)"} <= set(labels)


def test_the_contract_form_picks_models_by_searching(site, contract):
    html = site.get(f"/admin/billing/contract/{contract.pk}/change/").content.decode()

    picker = re.search(r'<select name="routing_models"[^>]*>', html).group(0)
    assert 'class="admin-autocomplete' in picker
    assert 'data-ajax--url="/admin/autocomplete/"' in picker


def test_statement_lines_count_one_hour_cache_writes(site, db):
    catalog_create(CATALOG)
    contract = contract_create(Terms(), code="cached")
    ingest(
        contract,
        calls=[
            CallIn(
                external_id="c-1",
                occurred_at=datetime(2026, 1, 20, tzinfo=UTC),
                model="gpt-4o-mini",
                task_type="triage",
                input_tokens=2000,
                output_tokens=100,
                cache_write_tokens=500,
                cache_write_1h_tokens=300,
            )
        ],
    )
    call_command("nightly", as_of="2026-02-08T00:00:00Z", stdout=io.StringIO())
    statement = contract.statements.get()

    page = site.get(f"/admin/billing/statement/{statement.pk}/page/").content.decode()

    assert [
        (line["cache_write_tokens"], line["cache_write_1h_tokens"]) for line in statement.lines
    ] == [(500, 300)]
    assert "<th>Cache write</th><th>of which 1 h</th>" in page
    assert '<td class="amount">500</td><td class="amount">300</td>' in page
