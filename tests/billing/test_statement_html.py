"""The printable statement (API.md "Audit reads": statements with
``Accept: text/html`` or ``?format=html``): every figure as the JSON has it,
charts drawn from the statement's own figures, escaped, self-contained, and
rendered by headless Chromium (Debian's chromium, installed by .ci/run).

The contract: markup 0.5 (charge = cost x 1.5), fixed fee 100, guarantee 4 x
charges, payout cap 50, min_sample 30; task_completed worth 40 with a fee of
0.99, hours_saved at the hourly rate 150 with no fee. Every call reports its
cost and has 10,000 input and 1,000 output tokens, so its baseline at gpt-4o
(2.50 and 10.00 per million) is (10000 x 2.5 + 1000 x 10) / 10^6 = 0.035.

    call  day    model        task_type        cost   charge
    c1    11-03  gpt-4o-mini  code_review      0.001  0.0015
    c2    11-03  gpt-4o       code_review      0.003  0.0045
    c3    11-10  gpt-4o-mini  <b>triage</b>    0.002  0.003
    c4    11-20  gpt-4o       <b>triage</b>    0.004  0.006

    outcome  day    kind              task_type      value  fee
    o1       11-03  task_completed    code_review    40     0.99
    o2       11-10  task_completed x2 <b>triage</b>  80     1.98
    o3       11-20  hours_saved x1.5  <b>triage</b>  225    0

Per day: 11-03 charges 0.0060 + 0.99 = 0.9960, value 40; 11-10 charges
0.003 + 1.98 = 1.983, value 80; 11-20 charges 0.006, value 225.
Totals: usage 0.015 -> 0.02 (half even), fees 2.97, fixed 100, charges
102.99, value 345.00, roi 242.01 / 102.99 = 2.3498, guaranteed 411.96,
shortfall 66.96, payout 50.00 (the cap), cap remaining 0.00; cost 0.01,
baseline 0.14, savings 0.13, efficiency 0.14 / 0.01 = 14.0000.

Value interval (DESIGN.md "Statistical honesty"): each outcome is its own
task (task_ref = its id), values 40, 80, 225: n = 3, Σx = 345, Σx² = 58625,
s x sqrt(n) = sqrt((3 x 58625 - 345²) / 2) = sqrt(28425) = 168.597...,
x 1.96 = 330.450... -> 330.45: 14.55 to 675.45, and the guaranteed 411.96
lies inside it.
"""

import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from billing import charts
from billing.settlement import contract_settle
from core.batch import DecodedBatch
from ledger import ingestion, services
from ledger.records import CallIn, OutcomeIn
from ledger.rollups import rollups_refresh
from tests.conftest import client_for
from tests.factories import (
    ContractFactory,
    FeeScheduleRowFactory,
    LlmModelFactory,
    OrganizationFactory,
    PriceFactory,
    ValueScheduleRowFactory,
    api_key_create,
)
from tests.helpers import assert_error

TRIAGE = "<b>triage</b>"
CALLS = [
    ("c1", "2026-11-03T09:00:00Z", "gpt-4o-mini", "code_review", "0.001"),
    ("c2", "2026-11-03T10:00:00Z", "gpt-4o", "code_review", "0.003"),
    ("c3", "2026-11-10T09:00:00Z", "gpt-4o-mini", TRIAGE, "0.002"),
    ("c4", "2026-11-20T09:00:00Z", "gpt-4o", TRIAGE, "0.004"),
]
OUTCOMES = [
    ("o1", "2026-11-03T18:00:00Z", "task_completed", "code_review", "1"),
    ("o2", "2026-11-10T18:00:00Z", "task_completed", TRIAGE, "2"),
    ("o3", "2026-11-20T18:00:00Z", "hours_saved", TRIAGE, "1.5"),
]
SETTLED_AT = datetime(2026, 12, 10, tzinfo=UTC)
URL = "/api/v1/contracts/acme-agent/statements"
REPO = Path(__file__).resolve().parents[2]


def calls_ingest(contract, rows) -> None:
    records = [
        CallIn(
            external_id=external_id,
            occurred_at=datetime.fromisoformat(at),
            model=model,
            task_type=task_type,
            input_tokens=10_000,
            output_tokens=1_000,
            reported_cost_usd=Decimal(cost),
        )
        for external_id, at, model, task_type, cost in rows
    ]
    report = ingestion.calls_record(contract=contract, batch=DecodedBatch.of(records))
    assert report.as_dict()["accepted"] == len(rows)


def outcomes_ingest(contract, rows) -> None:
    records = [
        OutcomeIn(
            external_id=external_id,
            occurred_at=datetime.fromisoformat(at),
            kind=kind,
            task_type=task_type,
            task_ref=external_id,
            quantity=Decimal(quantity),
        )
        for external_id, at, kind, task_type, quantity in rows
    ]
    report = ingestion.outcomes_record(contract=contract, batch=DecodedBatch.of(records))
    assert report.as_dict()["accepted"] == len(rows)


@pytest.fixture
def november(db):
    """The contract above with November ingested and settled (statement #1)."""
    light = LlmModelFactory(name="gpt-4o-mini", provider="openai", tier="light")
    PriceFactory(llm_model=light)
    frontier = LlmModelFactory(name="gpt-4o", provider="openai", tier="frontier")
    PriceFactory(llm_model=frontier, input=Decimal("2.50"), output=Decimal("10.00"))
    contract = ContractFactory(
        code="acme-agent",
        vendor=OrganizationFactory(slug="agentco", name="<b>Agent & Co</b>"),
        customer=OrganizationFactory(slug="acme", name="Acme Corp"),
        starts_on=date(2026, 11, 1),
        markup=Decimal("0.5"),
        fixed_fee=Decimal("100"),
        guarantee_multiple=Decimal("4"),
        payout_share=Decimal("1"),
        payout_cap=Decimal("50"),
        min_sample=30,
    )
    ValueScheduleRowFactory(contract=contract, kind="task_completed", unit_value=Decimal("40"))
    FeeScheduleRowFactory(contract=contract, kind="task_completed", fee=Decimal("0.99"))
    calls_ingest(contract, CALLS)
    outcomes_ingest(contract, OUTCOMES)
    rollups_refresh()
    contract_settle(contract_id=contract.id, as_of=SETTLED_AT)
    return contract


@pytest.fixture
def customer(november):
    return client_for(api_key_create(organization=november.customer, role="customer"))


def statement_html(client, number: int = 1) -> str:
    response = client.get(f"{URL}/{number}?format=html")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    return response.content.decode()


def shown_totals(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-total="(\w+)">([^<]*)<', html))


def bars(html: str, chart_id: str) -> dict[tuple[str, str], str]:
    """(series, category) -> data-value of every bar of one chart."""
    svg = re.search(rf'<svg [^>]*id="{chart_id}".*?</svg>', html, re.S).group(0)
    return {
        (series, category): value
        for series, category, value in re.findall(
            r'data-series="(\w+)" data-category="([^"]*)" data-value="([^"]*)"', svg
        )
    }


def test_statement_totals_are_the_hand_computed_figures(customer):
    totals = customer.get(f"{URL}/1").json()["totals"]

    assert totals == {
        "calls": 4,
        "cost_usd": "0.01",
        "usage_charges": "0.02",
        "outcome_fees": "2.97",
        "fixed_fee": "100.00",
        "charges": "102.99",
        "value": "345.00",
        "accepted_outcomes": 3,
        "roi": "2.3498",
        "guaranteed_value": "411.96",
        "shortfall": "66.96",
        "payout": "50.00",
        "cap_remaining": "0.00",
        "baseline_cost_usd": "0.14",
        "savings_usd": "0.13",
        "efficiency": "14.0000",
        "tasks": 3,
        "value_ci_low": "14.55",
        "value_ci_high": "675.45",
        "shortfall_within_noise": True,
    }


def test_html_statement_shows_every_total_exactly_as_the_json_has_it(customer):
    totals = customer.get(f"{URL}/1").json()["totals"]

    html = statement_html(customer)

    assert shown_totals(html) == {name: str(value) for name, value in totals.items()}
    assert re.findall(r'data-guarantee="(\w+)">([^<]*)<', html) == [
        ("guaranteed_value", "411.96"),
        ("value", "345.00"),
        ("shortfall", "66.96"),
        ("payout", "50.00"),
        ("cap_remaining", "0.00"),
    ]


def test_accept_text_html_gets_the_same_page_as_format_html(customer):
    by_header = customer.get(f"{URL}/1", HTTP_ACCEPT="text/html")

    assert by_header.status_code == 200
    assert by_header["Content-Type"] == "text/html; charset=utf-8"
    assert "Accept" in by_header["Vary"]
    assert by_header.content.decode() == statement_html(customer)


def test_a_browser_accept_header_gets_html_and_an_api_client_gets_json(customer):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

    assert customer.get(f"{URL}/1", HTTP_ACCEPT=browser)["Content-Type"].startswith("text/html")
    assert customer.get(f"{URL}/1", HTTP_ACCEPT="*/*").json()["number"] == 1
    assert customer.get(f"{URL}/1", HTTP_ACCEPT="application/json").json()["number"] == 1


def test_page_names_the_contract_parties_period_kind_and_digest(customer, november):
    html = statement_html(customer)
    digest = customer.get(f"{URL}/1").json()["input_digest"]

    assert '<dd id="contract-code">acme-agent</dd>' in html
    assert "Acme Corp (acme)" in html
    assert '<dd id="period">2026-11-01 to 2026-11-30 inclusive (UTC)</dd>' in html
    assert "Statement #1" in html
    assert 'class="kind kind-settlement"' in html
    assert f'<code id="input-digest">{digest}</code>' in html
    assert 'href="http://testserver/api/v1/contracts/acme-agent/statements/1/digest-input"' in html


def test_few_accepted_outcomes_are_flagged_on_the_page(customer):
    html = statement_html(customer)

    assert (
        'id="few-outcomes">The guarantee figures rest on 3 accepted outcomes, '
        "fewer than the contract's minimum sample of 30."
    ) in html


def test_every_name_is_escaped_in_tables_and_charts(customer):
    html = statement_html(customer)

    assert "<b>" not in html
    assert "&lt;b&gt;Agent &amp; Co&lt;/b&gt; (agentco)" in html
    assert "<td>&lt;b&gt;triage&lt;/b&gt;</td>" in html
    assert ('data-category="&lt;b&gt;triage&lt;/b&gt;"') in html


def test_cost_value_chart_carries_the_daily_figures_with_empty_days_at_zero(customer):
    daily = customer.get(f"{URL}/1").json()["daily"]

    chart = bars(statement_html(customer), "chart-cost-value")

    assert daily == [
        {"day": "2026-11-03", "cost_usd": "0.0040000000", "charges": "0.9960000000",
         "value": "40.0000000000"},
        {"day": "2026-11-10", "cost_usd": "0.0020000000", "charges": "1.9830000000",
         "value": "80.0000000000"},
        {"day": "2026-11-20", "cost_usd": "0.0040000000", "charges": "0.0060000000",
         "value": "225.0000000000"},
    ]  # fmt: skip
    assert len(chart) == 2 * 30
    assert {key: chart[key] for key in chart if chart[key] != "0"} == {
        (series, row["day"]): row[series] for row in daily for series in ("charges", "value")
    }


def test_tier_and_savings_charts_carry_the_lines_and_savings_figures(customer):
    html = statement_html(customer)

    assert bars(html, "chart-cost-tier") == {
        ("cost", "frontier"): "0.0070000000",
        ("cost", "light"): "0.0030000000",
    }
    assert bars(html, "chart-savings") == {
        ("cost", "code_review"): "0.0040000000",
        ("baseline", "code_review"): "0.0700000000",
        ("savings", "code_review"): "0.0660000000",
        ("cost", "&lt;b&gt;triage&lt;/b&gt;"): "0.0060000000",
        ("baseline", "&lt;b&gt;triage&lt;/b&gt;"): "0.0700000000",
        ("savings", "&lt;b&gt;triage&lt;/b&gt;"): "0.0640000000",
    }


def test_adjustment_page_says_which_statement_it_adjusts(customer, november):
    outcomes_ingest(november, [("o4", "2026-11-25T18:00:00Z", "task_completed", "x", "1")])
    rollups_refresh()
    contract_settle(contract_id=november.id, as_of=datetime(2026, 12, 11, tzinfo=UTC))

    html = statement_html(customer, number=2)

    assert 'class="kind kind-adjustment"' in html
    assert "This adjustment statement adjusts statement #1." in html
    assert shown_totals(html)["value"] == "40.00"


def test_adjustment_page_puts_differences_and_resettled_figures_in_two_labelled_columns(
    customer, november
):
    """o1 (value 40, fee 0.99) is rejected: the adjustment's differences are
    accepted outcomes -1, value -40.00; the period as re-settled has 2
    accepted outcomes, value 305.00, charges 102.00 (fees 1.98), roi
    (305 - 102) / 102 = 1.9902. The sample line and the ROI in the
    difference column never show a difference as a count or a ratio."""
    for status in ("disputed", "rejected"):
        services.outcome_status_change(
            contract=november, external_id="o1", to_status=status, actor="t", reason="r"
        )
    rollups_refresh()
    contract_settle(contract_id=november.id, as_of=datetime(2026, 12, 11, tzinfo=UTC))

    html = statement_html(customer, number=2)
    resettled = dict(re.findall(r'data-resettled="(\w+)">([^<]*)<', html))

    assert "This adjustment (difference)" in html and "Period as re-settled" in html
    assert {k: shown_totals(html)[k] for k in ("accepted_outcomes", "value", "roi")} == {
        "accepted_outcomes": "-1",
        "value": "-40.00",
        "roi": "n/a",
    }
    assert {k: resettled[k] for k in ("accepted_outcomes", "value", "charges", "roi")} == {
        "accepted_outcomes": "2",
        "value": "305.00",
        "charges": "102.00",
        "roi": "1.9902",
    }
    assert "Accepted outcomes behind the value: 2 " in html
    assert "Accepted outcomes behind the value: -1" not in html


def test_page_says_when_the_cap_bound_the_payout(customer):
    """Shortfall 66.96 x share 1 is more than the cap of 50: payout 50.00."""
    html = statement_html(customer)

    assert 'id="cap-bound">The payout cap bound this period' in html


def test_page_shows_the_value_interval_and_the_real_issue_time(customer):
    html = statement_html(customer)

    assert "95% interval of the value over 3 tasks: 14.55 to 675.45 USD" in html
    assert 'id="as-of">2026-12-10T00:00:00Z<' in html


def test_roi_over_time_charts_every_settled_period_up_to_the_statement(customer, november):
    """December has only the fixed fee: charges 100.00, value 0, ROI
    (0 - 100) / 100 = -1. November's page, issued before, keeps one period."""
    contract_settle(contract_id=november.id, as_of=datetime(2027, 1, 8, tzinfo=UTC))

    december, first = statement_html(customer, number=2), statement_html(customer, number=1)
    points = dict(re.findall(r'data-category="([\d-]+)" data-value="([^"]*)"', _svg(december)))

    assert bars(december, "chart-roi-money") == {
        ("charges", "2026-11"): "102.99",
        ("value", "2026-11"): "345.00",
        ("charges", "2026-12"): "100.00",
        ("value", "2026-12"): "0.00",
    }
    assert points == {"2026-11": "2.3498", "2026-12": "-1.0000"}
    assert set(bars(first, "chart-roi-money")) == {("charges", "2026-11"), ("value", "2026-11")}


def _svg(html: str) -> str:
    return re.search(r'<svg [^>]*id="chart-roi".*?</svg>', html, re.S).group(0)


def test_another_tenants_key_gets_404_for_the_html_statement(november):
    stranger = client_for(
        api_key_create(organization=OrganizationFactory(slug="globex"), role="customer")
    )

    by_param = stranger.get(f"{URL}/1?format=html")
    by_header = stranger.get(f"{URL}/1", HTTP_ACCEPT="text/html")

    assert_error(by_param, 404, "not_found")
    assert_error(by_header, 404, "not_found")


def test_page_is_self_contained(customer):
    html = statement_html(customer)

    assert re.findall(r"<(script|link|img|iframe|object)\b", html) == []
    assert re.findall(r"\ssrc=|url\(|@import", html) == []
    assert html.count("<svg ") == 5


@pytest.mark.needs("chromium")
def test_headless_chromium_renders_the_charts_offline_and_saves_a_screenshot(customer, tmp_path):
    chromium = shutil.which("chromium")
    page = tmp_path / "statement.html"
    page.write_text(statement_html(customer), encoding="utf-8")
    screenshot = tmp_path / "statement.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,1800",
    ]

    subprocess.run(
        [chromium, *flags, f"--screenshot={screenshot}", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout

    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 50_000
    assert bars(dom, "chart-cost-value")[("value", "2026-11-20")] == "225.0000000000"
    assert bars(dom, "chart-cost-tier")[("cost", "frontier")] == "0.0070000000"
    assert bars(dom, "chart-savings")[("baseline", "code_review")] == "0.0700000000"
    assert shown_totals(dom)["payout"] == "50.00"
    (REPO / "out").mkdir(exist_ok=True)
    shutil.copyfile(screenshot, REPO / "out" / "statement.png")


def test_admin_lists_statements_read_only_and_serves_the_page(client, admin_user, november):
    assert client.login(username=admin_user.username, password="password")
    statement_id = november.statements.get(number=1).pk

    listing = client.get("/admin/billing/statement/")
    page = client.get(f"/admin/billing/statement/{statement_id}/page/")

    assert listing.status_code == 200
    assert f'href="/admin/billing/statement/{statement_id}/page/"' in listing.content.decode()
    assert client.get("/admin/billing/statement/add/").status_code == 403
    assert client.get(f"/admin/billing/statement/{statement_id}/change/").status_code == 200
    assert page.status_code == 200
    assert shown_totals(page.content.decode())["payout"] == "50.00"


def test_admin_page_of_a_missing_statement_is_404(client, admin_user, november):
    assert client.login(username=admin_user.username, password="password")

    assert client.get("/admin/billing/statement/999999/page/").status_code == 404


def test_a_quarter_is_charted_per_month_with_exact_sums_of_its_days():
    daily = [
        {"day": "2026-10-01", "cost_usd": "0", "charges": "0.1000000001", "value": "1.5"},
        {"day": "2026-10-31", "cost_usd": "0", "charges": "0.2000000002", "value": "2.5"},
        {"day": "2026-12-31", "cost_usd": "0", "charges": "0.0000000003", "value": "0"},
    ]

    svg = charts.cost_value_chart(
        daily=daily, period_start=date(2026, 10, 1), period_end=date(2027, 1, 1), currency="EUR"
    )

    assert bars(svg, "chart-cost-value") == {
        ("charges", "2026-10"): "0.3000000003",
        ("value", "2026-10"): "4.0",
        ("charges", "2026-11"): "0",
        ("value", "2026-11"): "0",
        ("charges", "2026-12"): "0.0000000003",
        ("value", "2026-12"): "0",
    }
    assert "Charges vs value per month (EUR)" in svg


def test_a_period_without_figures_draws_no_bars():
    svg = charts.savings_chart(savings_by_task_type=[])

    assert bars(svg, "chart-savings") == {}
    assert "Nothing to chart in this period." in svg
