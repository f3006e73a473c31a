"""Repricing (DESIGN.md "Price book", "Cost drift, repricing and the
journal, for people"; docs/PRICES.md "Repricing").

gpt-4o-mini at 0.15 / 0.60 USD per million tokens since 2020; the contract:
markup 0.20, fixed fee 10, guarantee 2 x charges, payout cap 24, one
accepted outcome worth 1. January's calls:

    call  tokens in / out       reported  cost now  with 0.30 / 1.20
    r1    1,000,000 / 0         -         0.15      0.30
    r2    2,000,000 / 1,000,000 -         0.90      1.80
    r3    1,000,000 / 0         0.50      0.50      0.50 (the bill stands)
"""

import io
import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from billing.models import RepriceCorrection, Statement
from billing.reprice import reprice_apply
from billing.settlement import contract_settle
from core.batch import DecodedBatch
from core.errors import Conflict
from ledger import ingestion
from ledger.models import Call
from ledger.records import CallIn, OutcomeIn
from ledger.rollups import rollups_refresh
from routing.models import LlmModel
from routing.services import ModelIn, PriceIn, PriceRowIn, price_create, prices_import
from tests.conftest import client_for
from tests.factories import (
    ContractFactory,
    OrganizationFactory,
    ValueScheduleRowFactory,
    api_key_create,
)
from tests.helpers import assert_error

D = Decimal
M = D(1_000_000)
JANUARY = datetime(2026, 1, 1, tzinfo=UTC)
CANDIDATE = {
    "effective_from": "2026-01-01T00:00:00Z",
    "input": "0.30",
    "output": "1.20",
    "cache_read": None,
}
TOKENS = {"r1": (1_000_000, 0), "r2": (2_000_000, 1_000_000), "r3": (1_000_000, 0)}


def cost(name: str, p_in: Decimal, p_out: Decimal) -> Decimal:
    if name == "r3":
        return D("0.50")
    tokens_in, tokens_out = TOKENS[name]
    return (tokens_in * p_in + tokens_out * p_out) / M


def two(value: Decimal) -> str:
    return f"{value.quantize(D('0.01'), rounding=ROUND_HALF_EVEN):f}"


def figures(p_in: Decimal, p_out: Decimal) -> dict:
    """DESIGN.md "Period settlement", by hand."""
    cost_usd = sum((cost(n, p_in, p_out) for n in TOKENS), D(0))
    charges = D(two(cost_usd * D("1.20"))) + D(10)
    guaranteed = D(two(2 * charges))
    shortfall = max(D(0), guaranteed - D(1))
    return {
        "cost_usd": two(cost_usd),
        "charges": two(charges),
        "value": "1.00",
        "value_per_dollar": f"{(D(1) / charges).quantize(D('0.0001'), ROUND_HALF_EVEN):f}",
        "payout": two(min(shortfall, D(24))),
    }


@pytest.fixture
def priced(light_model):
    contract = ContractFactory(
        code="priced",
        vendor=OrganizationFactory(slug="vendor"),
        customer=OrganizationFactory(slug="customer"),
        starts_on=date(2026, 1, 1),
        markup=D("0.20"),
        fixed_fee=D("10"),
        guarantee_multiple=D("2"),
        payout_cap=D("24"),
    )
    ValueScheduleRowFactory(contract=contract, kind="task_completed", unit_value=D("1"))
    calls = [
        CallIn(
            external_id=name,
            occurred_at=datetime(2026, 1, 5 + i, tzinfo=UTC),
            model="gpt-4o-mini",
            task_type="code_review",
            input_tokens=TOKENS[name][0],
            output_tokens=TOKENS[name][1],
            reported_cost_usd=D("0.50") if name == "r3" else None,
        )
        for i, name in enumerate(TOKENS)
    ]
    ingestion.calls_record(contract=contract, batch=DecodedBatch.of(calls))
    outcome = OutcomeIn(
        external_id="o1",
        occurred_at=datetime(2026, 1, 9, tzinfo=UTC),
        kind="task_completed",
        task_type="code_review",
        quantity=D(1),
    )
    ingestion.outcomes_record(contract=contract, batch=DecodedBatch.of([outcome]))
    rollups_refresh()
    contract_settle(contract_id=contract.id, as_of=datetime(2026, 2, 9, tzinfo=UTC))
    return contract


def every_table() -> dict[str, tuple]:
    """Row count and an md5 of every row's text, per table."""
    seen = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(
                f"SELECT count(*), md5(COALESCE(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f'FROM "{table}" t'
            )
            seen[table] = cursor.fetchone()
    return seen


def test_dry_run_reports_cost_charges_value_per_dollar_and_payout_before_and_after(
    priced, admin_client
):
    response = admin_client.post(
        "/api/v1/reprice",
        {"model": "gpt-4o-mini", "price": CANDIDATE, "contracts": ["priced"]},
        format="json",
    )

    body = response.json()
    assert response.status_code == 200
    assert (body["model"], body["stored"], len(body["contracts"])) == ("gpt-4o-mini", False, 1)
    [period] = body["contracts"][0]["periods"]
    old, new = (D("0.15"), D("0.60")), (D("0.30"), D("1.20"))
    change = sum((cost(n, *new) - cost(n, *old) for n in TOKENS), D(0))
    assert period == {
        "period_start": "2026-01-01",
        "period_end": "2026-02-01",
        "settled": True,
        "calls_repriced": 3,
        "cost_usd_change": f"{change.quantize(D('1E-10')):f}",
        "charge_change": f"{(change * D('1.20')).quantize(D('1E-10')):f}",
        "before": figures(*old),
        "after": figures(*new),
    }
    # The cap binds after, not before: 22.72 -> min(25.24, 24).
    assert (period["before"]["payout"], period["after"]["payout"]) == ("22.72", "24.00")


def test_dry_run_leaves_every_table_unchanged(priced, admin_client, tmp_path):
    price_file = tmp_path / "price.json"
    price_file.write_text(json.dumps(CANDIDATE))
    before = every_table()

    response = admin_client.post(
        "/api/v1/reprice", {"model": "gpt-4o-mini", "price": CANDIDATE}, format="json"
    )
    out = io.StringIO()
    call_command("reprice", model="gpt-4o-mini", price_json=str(price_file), stdout=out)

    assert response.status_code == 200
    assert json.loads(out.getvalue()) == response.json()
    assert every_table() == before


def test_a_back_dated_price_row_is_refused_outside_a_decided_reprice(priced, admin_client):
    response = admin_client.post("/api/v1/models/gpt-4o-mini/prices", CANDIDATE, format="json")
    report = prices_import(
        rows=[
            PriceRowIn(
                "row 1",
                ModelIn("gpt-4o-mini", "openai", "light"),
                PriceIn(effective_from=JANUARY, input=D("0.30"), output=D("1.20")),
            )
        ],
        source="test",
    )

    assert_error(response, 409, "backdated_price")
    assert (report.added, [r.row.origin for r in report.rejected]) == ([], ["row 1"])
    with pytest.raises(Conflict):
        price_create(
            model=priced_model(), effective_from=JANUARY, input=D("0.30"), output=D("1.20")
        )


def priced_model() -> LlmModel:
    return LlmModel.objects.get(name="gpt-4o-mini")


def test_a_price_row_after_every_costed_call_is_not_back_dated(priced, admin_client):
    later = {**CANDIDATE, "effective_from": "2026-01-08T00:00:00Z"}

    response = admin_client.post("/api/v1/models/gpt-4o-mini/prices", later, format="json")

    assert response.status_code == 201


def test_a_decided_reprice_posts_an_adjustment_and_never_edits_a_call(priced):
    costs_before = list(Call.objects.order_by("external_id").values_list("cost_usd", "charge"))

    reprice_apply(
        model=priced_model(),
        price=PriceIn(effective_from=JANUARY, input=D("0.30"), output=D("1.20")),
        reason="list price corrected by the provider",
        source="test",
    )
    rollups_refresh()
    contract_settle(contract_id=priced.id, as_of=datetime(2026, 2, 10, tzinfo=UTC))

    old, new = figures(D("0.15"), D("0.60")), figures(D("0.30"), D("1.20"))
    adjustment = Statement.objects.get(contract=priced, number=2)
    correction = RepriceCorrection.objects.get(contract=priced)
    assert (adjustment.kind, adjustment.adjusts.number) == ("adjustment", 1)
    assert (adjustment.cost_usd, adjustment.charges, adjustment.payout) == (
        D(new["cost_usd"]) - D(old["cost_usd"]),
        D(new["charges"]) - D(old["charges"]),
        D(new["payout"]) - D(old["payout"]),
    )
    assert (correction.calls, correction.cost_usd) == (3, D("1.05"))
    assert (
        list(Call.objects.order_by("external_id").values_list("cost_usd", "charge")) == costs_before
    )


@pytest.mark.parametrize("role", ["vendor", "customer"])
def test_reprice_is_404_to_anyone_but_an_admin(priced, role):
    party = priced.vendor if role == "vendor" else priced.customer
    client = client_for(api_key_create(organization=party, role=role))

    response = client.post(
        "/api/v1/reprice", {"model": "gpt-4o-mini", "price": CANDIDATE}, format="json"
    )

    assert_error(response, 404, "not_found")


def test_the_admin_refuses_a_back_dated_price_row(priced, client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        "/admin/routing/price/add/",
        {
            "llm_model": priced_model().pk,
            "service_tier": "standard",
            "effective_from_0": "2026-01-01",
            "effective_from_1": "00:00:00",
            "input": "0.30",
            "output": "1.20",
            "per_request_usd": "0",
        },
    )

    assert "3 call(s) from 2026-01-01T00:00:00+00:00 were already costed" in (
        response.content.decode().replace("&#x27;", "'")
    )
    assert priced_model().prices.count() == 1
