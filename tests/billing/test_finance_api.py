"""Cost drift and the journal for finance people (DESIGN.md "Cost drift,
repricing and the journal, for people"; API.md "Drift, reprice, journal").

Drift: gpt-4o-mini (openai) at 0.15 / 0.60 and claude-x (anthropic) at
1.00 / 5.00 USD per million tokens:

    call  day    model        tokens in / out     computed  reported
    a1    01-05  gpt-4o-mini  1,000,000 / 0        0.15      0.16
    a2    01-06  gpt-4o-mini  2,000,000 / 0        0.30      0.27
    a3    02-03  gpt-4o-mini  1,000,000 / 0        0.15      -
    b1    01-07  claude-x     1,000,000 / 100,000  1.50      1.50
    b2    02-04  claude-x     1,000,000 / 200,000  2.00      2.10
"""

import csv
import io
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from billing.models import Statement
from billing.settlement import contract_settle
from core.batch import DecodedBatch
from ledger import ingestion
from ledger.models import JournalEntry
from ledger.records import CallIn
from ledger.rollups import rollups_refresh
from tests.conftest import client_for
from tests.factories import (
    ContractFactory,
    LlmModelFactory,
    OrganizationFactory,
    PriceFactory,
    api_key_create,
)
from tests.helpers import assert_error

D = Decimal
M = D(1_000_000)
CALLS = [
    ("a1", 5, "gpt-4o-mini", 1_000_000, 0, "0.16"),
    ("a2", 6, "gpt-4o-mini", 2_000_000, 0, "0.27"),
    ("a3", 34, "gpt-4o-mini", 1_000_000, 0, None),
    ("b1", 7, "claude-x", 1_000_000, 100_000, "1.50"),
    ("b2", 35, "claude-x", 1_000_000, 200_000, "2.10"),
]
PRICES = {"gpt-4o-mini": (D("0.15"), D("0.60")), "claude-x": (D("1.00"), D("5.00"))}


def computed(name: str) -> Decimal:
    _, _, model, tokens_in, tokens_out, _ = next(c for c in CALLS if c[0] == name)
    p_in, p_out = PRICES[model]
    return (tokens_in * p_in + tokens_out * p_out) / M


def reported(name: str) -> Decimal:
    return D(next(c for c in CALLS if c[0] == name)[5])


def s10(value: Decimal) -> str:
    return f"{value.quantize(D('1E-10')):f}"


def share(drift: Decimal, base: Decimal) -> str:
    return f"{(drift / base).quantize(D('0.0001'), rounding=ROUND_HALF_EVEN):f}"


def group(key: str, names: list[str], compared: list[str], worst: list[str]) -> dict:
    rep = sum((reported(n) for n in compared), D(0))
    com = sum((computed(n) for n in compared), D(0))
    return {
        "key": key,
        "calls": len(names),
        "calls_with_reported_cost": len(compared),
        "calls_compared": len(compared),
        "reported_cost_usd": s10(rep),
        "computed_cost_usd": s10(com),
        "drift_usd": s10(rep - com),
        "drift_share": share(rep - com, com),
        "worst_calls": [n for n in worst],
    }


@pytest.fixture
def drifting(contract):
    claude = LlmModelFactory(name="claude-x", provider="anthropic", tier="mid")
    PriceFactory(llm_model=claude, input=D("1.00"), output=D("5.00"))
    records = [
        CallIn(
            external_id=name,
            occurred_at=datetime(2026, 1, 1, 12, tzinfo=UTC).replace(
                month=1 + (day - 1) // 31, day=1 + (day - 1) % 31
            ),
            model=model,
            task_type="code_review",
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            reported_cost_usd=None if cost is None else D(cost),
        )
        for name, day, model, tokens_in, tokens_out, cost in CALLS
    ]
    report = ingestion.calls_record(contract=contract, batch=DecodedBatch.of(records))
    assert report.as_dict()["accepted"] == 5
    return contract


def drift(client, code: str, group_by: str) -> dict:
    response = client.get(f"/api/v1/contracts/{code}/drift?group_by={group_by}")
    assert response.status_code == 200
    body = response.json()
    for g in [*body["groups"], body["totals"]]:
        g["worst_calls"] = [c["external_id"] for c in g["worst_calls"]]
    return body


def test_drift_by_model_sums_reported_and_computed_over_calls_that_report_a_cost(
    drifting, customer_client
):
    body = drift(customer_client, drifting.code, "model")

    assert body["groups"] == [
        group("claude-x", ["b1", "b2"], ["b1", "b2"], ["b2"]),
        {
            **group("gpt-4o-mini", ["a1", "a2", "a3"], ["a1", "a2"], ["a2", "a1"]),
            "calls_with_reported_cost": 2,
        },
    ]
    assert body["totals"] == {
        **group("total", ["a1", "a2", "b1", "b2"], ["a1", "a2", "b1", "b2"], ["b2", "a2", "a1"]),
        "calls": 5,
    }


def test_drift_by_provider_and_by_period_group_the_same_calls(drifting, vendor_client):
    by_provider = drift(vendor_client, drifting.code, "provider")["groups"]
    by_period = drift(vendor_client, drifting.code, "period")["groups"]

    assert [g["key"] for g in by_provider] == ["anthropic", "openai"]
    assert by_provider[0]["drift_usd"] == s10(reported("b2") - computed("b2"))
    assert by_period == [
        group("2026-01-01", ["a1", "a2", "b1"], ["a1", "a2", "b1"], ["a2", "a1"]),
        {**group("2026-02-01", ["a3", "b2"], ["b2"], ["b2"]), "calls": 2},
    ]


def test_drift_csv_has_a_line_per_group_and_per_worst_call(drifting, customer_client):
    response = customer_client.get(
        f"/api/v1/contracts/{drifting.code}/drift?group_by=provider&format=csv"
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert rows[0][:4] == ["contract", "group_by", "line", "key"]
    assert [(r[2], r[3], r[9], r[11]) for r in rows[1:]] == [
        ("group", "anthropic", s10(reported("b2") - computed("b2")), ""),
        ("call", "anthropic", s10(reported("b2") - computed("b2")), "b2"),
        ("group", "openai", s10(reported("a1") + reported("a2") - D("0.45")), ""),
        ("call", "openai", s10(reported("a2") - computed("a2")), "a2"),
        ("call", "openai", s10(reported("a1") - computed("a1")), "a1"),
        ("total", "total", s10(D("4.03") - D("3.95")), ""),
        ("call", "total", "0.1000000000", "b2"),
        ("call", "total", "-0.0300000000", "a2"),
        ("call", "total", "0.0100000000", "a1"),
    ]


def test_statement_page_notes_drift_above_one_percent(drifting, customer_client):
    """January: 1.93 reported against 1.95 computed, -1.03% (beyond 1%)."""
    rollups_refresh()
    contract_settle(contract_id=drifting.id, as_of=datetime(2026, 3, 9, tzinfo=UTC))

    january = customer_client.get(f"/api/v1/contracts/{drifting.code}/statements/1?format=html")
    february = customer_client.get(f"/api/v1/contracts/{drifting.code}/statements/2?format=html")

    assert "the providers billed 1.93 USD against 1.95 USD computed" in january.content.decode()
    assert "(-1.03%)" in january.content.decode()
    assert 'id="cost-drift"' in february.content.decode()  # 2.10 vs 2.00: 5%


def test_drift_of_another_tenants_contract_is_404(drifting):
    stranger = client_for(
        api_key_create(organization=OrganizationFactory(slug="other"), role="vendor")
    )

    response = stranger.get(f"/api/v1/contracts/{drifting.code}/drift")

    assert_error(response, 404, "not_found")


# --- journal ------------------------------------------------------------------


@pytest.fixture
def worked(db):
    """Fixed fee 100, guarantee 2 x charges, cap 150, nothing delivered in
    January: charges 100.00, guaranteed 200.00, shortfall 200.00, payout
    min(200.00, 150) = 150.00 (the cap binds)."""
    LlmModelFactory(name="gpt-4o-mini")
    contract = ContractFactory(
        code="worked",
        vendor=OrganizationFactory(slug="v"),
        customer=OrganizationFactory(slug="c"),
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 1, 31),
        fixed_fee=D("100"),
        guarantee_multiple=D("2"),
        payout_cap=D("150"),
    )
    contract_settle(contract_id=contract.id, as_of=datetime(2026, 2, 9, tzinfo=UTC))
    return contract


def test_journal_csv_of_a_worked_statement_has_one_line_per_posting(worked, admin_client):
    statement = Statement.objects.get(contract=worked, number=1)
    entry = JournalEntry.objects.get(contract=worked, statement_number=1)
    charges, payout = statement.charges, statement.payout
    assert (charges, payout) == (D("100"), D("150"))
    created = entry.created_at.isoformat().replace("+00:00", "Z")
    common = ["worked", "2026-01-01", "2026-02-01", "1", "settlement"]
    tail = ["USD", "settlement 2026-01-01..2026-02-01", created]

    response = admin_client.get("/api/v1/contracts/worked/journal?format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert rows == [
        [
            "contract", "period_start", "period_end", "statement_number", "statement_kind",
            "account", "account_name", "debit", "credit", "currency", "memo", "created_at",
        ],
        [*common, "receivable", "Customer receivable", "100.00", "", *tail],
        [*common, "revenue", "Vendor revenue", "", "100.00", *tail],
        [*common, "guarantee_expense", "Guarantee payout expense", "150.00", "", *tail],
        [*common, "customer_credit", "Customer credit (payout liability)", "", "150.00", *tail],
    ]  # fmt: skip


def test_journal_json_filters_entries_by_the_period_they_settle(worked, admin_client):
    inside = admin_client.get(
        "/api/v1/contracts/worked/journal?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"
    ).json()["entries"]
    after = admin_client.get("/api/v1/contracts/worked/journal?from=2026-01-01T00:00:01Z").json()[
        "entries"
    ]

    assert [(e["statement_number"], len(e["postings"])) for e in inside] == [(1, 4)]
    assert after == []


@pytest.mark.parametrize("role", ["vendor", "customer"])
def test_journal_is_for_admins_only_and_404_to_the_contracts_own_parties(worked, role):
    party = worked.vendor if role == "vendor" else worked.customer
    client = client_for(api_key_create(organization=party, role=role))

    response = client.get("/api/v1/contracts/worked/journal?format=csv")

    assert_error(response, 404, "not_found")


@pytest.fixture
def site(client, admin_user):
    assert client.login(username=admin_user.username, password="password")
    return client


def test_admin_drift_page_shows_the_report_and_the_worst_calls(drifting, site):
    response = site.get(f"/admin/billing/contract/{drifting.pk}/drift/?group_by=period")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-drift="2026-02-01">{s10(reported("b2") - computed("b2"))}<' in html
    assert "<td>b2</td>" in html and "<td>a2</td>" in html


def test_admin_lists_journal_entries_and_postings_read_only(worked, site):
    entry = JournalEntry.objects.get(contract=worked)

    pages = [
        site.get("/admin/ledger/journalentry/"),
        site.get(f"/admin/ledger/journalentry/{entry.pk}/change/"),
        site.get("/admin/ledger/journalposting/"),
        site.get("/admin/ledger/journalentry/add/"),
    ]

    assert [page.status_code for page in pages] == [200, 200, 200, 403]
    assert "150.0000000000" in pages[1].content.decode()
