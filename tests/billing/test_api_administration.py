"""POST /api/v1/organizations and /api/v1/contracts (API.md "Administration")."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from billing.models import Contract, Organization
from tests.helpers import assert_error

CONTRACTS = "/api/v1/contracts"
ORGANIZATIONS = "/api/v1/organizations"


def test_admin_creates_an_organization(admin_client):
    response = admin_client.post(
        ORGANIZATIONS, {"slug": "acme", "name": "Acme Corp"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "acme"
    assert response.json()["name"] == "Acme Corp"
    assert Organization.objects.get(slug="acme").name == "Acme Corp"


def test_admin_lists_organizations_by_creation(admin_client):
    admin_client.post(ORGANIZATIONS, {"slug": "acme", "name": "Acme Corp"}, format="json")

    listed = admin_client.get(ORGANIZATIONS).json()

    assert [o["slug"] for o in listed["results"]] == ["operator", "acme"]
    assert listed["next"] is None


def test_a_taken_organization_slug_is_a_conflict(admin_client):
    admin_client.post(ORGANIZATIONS, {"slug": "acme", "name": "Acme Corp"}, format="json")

    response = admin_client.post(ORGANIZATIONS, {"slug": "acme", "name": "Other"}, format="json")

    error = assert_error(response, 409, "conflict")
    assert error["message"] == "an organization 'acme' already exists"
    assert Organization.objects.get(slug="acme").name == "Acme Corp"


def test_an_organization_slug_must_be_a_slug(admin_client):
    response = admin_client.post(
        ORGANIZATIONS, {"slug": "Acme Corp!", "name": "Acme"}, format="json"
    )

    error = assert_error(response, 400, "invalid")
    assert list(error["details"]) == ["slug"]


@pytest.mark.parametrize("role_client", ["vendor_client", "customer_client"])
def test_organizations_are_not_found_for_non_admin_keys(request, role_client):
    client = request.getfixturevalue(role_client)

    created = client.post(ORGANIZATIONS, {"slug": "newco", "name": "NewCo"}, format="json")
    listed = client.get(ORGANIZATIONS)

    assert_error(created, 404, "not_found")
    assert_error(listed, 404, "not_found")
    assert not Organization.objects.filter(slug="newco").exists()


def test_creating_without_a_key_is_unauthenticated(db):
    response = APIClient().post(ORGANIZATIONS, {"slug": "acme", "name": "Acme"}, format="json")

    assert_error(response, 401, "unauthenticated")


def test_admin_creates_api_md_example_contract_with_exact_terms(admin_client, terms):
    response = admin_client.post(CONTRACTS, terms, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    del body["created_at"]
    # Shown once here (docs/ALERTS.md "Signatures"): the stored secret.
    assert body.pop("webhook_secret") == Contract.objects.get(code="acme-agent-2026").webhook_secret
    assert body == {
        "code": "acme-agent-2026",
        "vendor": "agentco",
        "customer": "acme",
        "currency": "USD",
        "fx_rate": "1.0000000000",
        "timezone": "UTC",
        "period": "month",
        "starts_on": "2026-01-01",
        "ends_on": None,
        "markup": "0.2000000000",
        "fixed_fee": "0.0000000000",
        "hourly_rate": "150.0000000000",
        "guarantee_multiple": "2.0000000000",
        "payout_share": "1.0000000000",
        "payout_cap": "10000000.0000000000",
        "grace_days": 7,
        "min_sample": 30,
        "baseline_model": None,
        "value_schedule": [
            {"kind": "task_completed", "task_type": "code_review", "unit_value": "40.0000000000"}
        ],
        "fee_schedule": [{"kind": "task_completed", "task_type": None, "fee": "0.9900000000"}],
        "spend_limits": [{"window": "week", "amount": "50000.0000000000"}],
        "webhook_url": None,
        "routing_models": ["claude-haiku-4-5", "gpt-4o", "gpt-4o-mini"],
        "routing": {
            "window_days": 28,
            "min_tasks": 20,
            "tolerance": "0.0500000000",
            "epsilon": "0.0500000000",
            "audit": "0.0500000000",
            "value_weight": "1.0000000000",
            "featurizer": "markers-v1",
            "feature_length": 32,
        },
    }


def test_created_contract_stores_terms_and_schedules_as_exact_decimals(admin_client, terms):
    admin_client.post(CONTRACTS, terms, format="json")

    contract = Contract.objects.get(code="acme-agent-2026")
    stored = (
        contract.fx_rate,
        contract.markup,
        contract.fixed_fee,
        contract.hourly_rate,
        contract.guarantee_multiple,
        contract.payout_share,
        contract.payout_cap,
        contract.routing_tolerance,
        contract.routing_epsilon,
    )
    assert [str(value) for value in stored] == [
        "1.0000000000",
        "0.2000000000",
        "0E-10",
        "150.0000000000",
        "2.0000000000",
        "1.0000000000",
        "10000000.0000000000",
        "0.0500000000",
        "0.0500000000",
    ]
    assert (contract.vendor.slug, contract.customer.slug) == ("agentco", "acme")
    assert (contract.starts_on, contract.ends_on) == (date(2026, 1, 1), None)
    assert (contract.grace_days, contract.min_sample) == (7, 30)
    assert (contract.routing_window_days, contract.routing_min_tasks) == (28, 20)
    assert list(contract.value_schedule.values_list("kind", "task_type", "unit_value")) == [
        ("task_completed", "code_review", Decimal("40.0000000000"))
    ]
    assert list(contract.fee_schedule.values_list("kind", "task_type", "fee")) == [
        ("task_completed", None, Decimal("0.9900000000"))
    ]
    assert list(contract.spend_limits.values_list("window", "amount")) == [
        ("week", Decimal("50000.0000000000"))
    ]
    assert sorted(contract.routing_models.values_list("name", flat=True)) == [
        "claude-haiku-4-5",
        "gpt-4o",
        "gpt-4o-mini",
    ]


def test_omitted_terms_take_the_design_defaults(admin_client, parties):
    body = {"code": "minimal", "vendor": "agentco", "customer": "acme", "starts_on": "2026-01-01"}

    response = admin_client.post(CONTRACTS, body, format="json")

    assert response.status_code == 201, response.content
    contract = Contract.objects.get(code="minimal")
    assert (contract.currency, contract.fx_rate, contract.timezone, contract.period) == (
        "USD",
        Decimal("1.0000000000"),
        "UTC",
        "month",
    )
    assert (contract.payout_share, contract.grace_days, contract.min_sample) == (
        Decimal("1.0000000000"),
        7,
        30,
    )
    assert (
        contract.routing_tolerance,
        contract.routing_epsilon,
        contract.routing_audit,
        contract.routing_value_weight,
        contract.routing_featurizer,
        contract.routing_feature_length,
    ) == (
        Decimal("0.0200000000"),
        Decimal("0.0500000000"),
        Decimal("0.0500000000"),
        Decimal("1.0000000000"),
        "markers-v1",
        32,
    )
    assert contract.value_schedule.count() == 0


def test_a_baseline_named_by_alias_is_stored_as_the_canonical_model(admin_client, terms, catalog):
    terms["baseline_model"] = "gpt-4o-2024-08-06"

    response = admin_client.post(CONTRACTS, terms, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["baseline_model"] == "gpt-4o"
    assert Contract.objects.get(code="acme-agent-2026").baseline_model == catalog


def test_a_contract_in_another_currency_keeps_its_fx_rate(admin_client, terms):
    terms.update(currency="EUR", fx_rate="0.9234567891", timezone="Europe/Berlin")

    response = admin_client.post(CONTRACTS, terms, format="json")

    assert response.status_code == 201, response.content
    contract = Contract.objects.get(code="acme-agent-2026")
    assert (contract.currency, contract.fx_rate, contract.timezone) == (
        "EUR",
        Decimal("0.9234567891"),
        "Europe/Berlin",
    )


INVALID_TERMS = [
    ({"timezone": "Mars/Olympus"}, "timezone", "unknown_timezone",
     "'Mars/Olympus' is not an IANA time zone"),
    ({"currency": "usd"}, "currency", "invalid_currency",
     "'usd' is not an ISO 4217 code (three capital letters)"),
    ({"currency": "EURO"}, "currency", "invalid_currency",
     "'EURO' is not an ISO 4217 code (three capital letters)"),
    ({"fx_rate": "1.1"}, "fx_rate", "invalid_fx_rate",
     "a USD contract has fx_rate 1 (prices are USD)"),
    ({"currency": "EUR", "fx_rate": "0"}, "fx_rate", "invalid_fx_rate",
     "fx_rate must be above 0"),
    ({"customer": "agentco"}, "customer", "same_vendor_and_customer",
     "the vendor cannot be its own customer"),
    ({"vendor": "nobody"}, "vendor", "unknown_organization", "no organization 'nobody'"),
    ({"routing_models": ["gpt-4o", "gpt-9"]}, "routing_models[1]", "unknown_model",
     "no model or alias 'gpt-9' in the catalog"),
    ({"baseline_model": "gpt-9"}, "baseline_model", "unknown_model",
     "no model or alias 'gpt-9' in the catalog"),
    ({"baseline_model": "gpt-4o-mini"}, "baseline_model", "baseline_not_frontier",
     "the baseline model 'gpt-4o-mini' is light, not frontier"),
    ({"value_schedule": [{"kind": "k", "task_type": "code_review", "unit_value": "1"},
                         {"kind": "k", "task_type": "code_review", "unit_value": "2"}]},
     "value_schedule[1]", "duplicate_row",
     "('k', 'code_review') appears twice in value_schedule"),
    ({"fee_schedule": [{"kind": "task_completed", "fee": "1"},
                       {"kind": "task_completed", "task_type": None, "fee": "2"}]},
     "fee_schedule[1]", "duplicate_row",
     "('task_completed', None) appears twice in fee_schedule"),
    ({"spend_limits": [{"window": "day", "amount": "1"}, {"window": "day", "amount": "2"}]},
     "spend_limits[1]", "duplicate_row", "day appears twice in spend_limits"),
    ({"markup": "-0.1"}, "markup", "negative_amount", "markup cannot be negative"),
    ({"payout_cap": "-1"}, "payout_cap", "negative_amount", "payout_cap cannot be negative"),
    ({"hourly_rate": "-150"}, "hourly_rate", "negative_amount", "hourly_rate cannot be negative"),
    ({"value_schedule": [{"kind": "task_completed", "unit_value": "-40"}]},
     "value_schedule[0]", "negative_amount", "unit_value < 0"),
    ({"fee_schedule": [{"kind": "task_completed", "fee": "-0.99"}]},
     "fee_schedule[0]", "negative_amount", "fee < 0"),
    ({"spend_limits": [{"window": "week", "amount": "0"}]},
     "spend_limits[0]", "invalid_spend_limit", "a limit is above 0"),
    ({"payout_share": "1.5"}, "payout_share", "invalid_payout_share",
     "payout_share is between 0 and 1"),
    ({"payout_share": "-0.5"}, "payout_share", "invalid_payout_share",
     "payout_share is between 0 and 1"),
    ({"ends_on": "2025-12-31"}, "ends_on", "ends_before_start",
     "ends_on is on or after starts_on"),
    ({"routing": {"epsilon": "1.5"}}, "routing.epsilon", "invalid_share",
     "epsilon is between 0 and 1"),
    ({"routing": {"epsilon": "0.6", "audit": "0.5"}}, "routing.audit", "invalid_share",
     "epsilon + audit must not exceed 1"),
    ({"routing": {"min_tasks": 3101358617}}, "routing.min_tasks", "out_of_range",
     "min_tasks is between 0 and 2147483647"),
    ({"routing": {"featurizer": "my-embedding"}}, "routing.feature_length", "required",
     "featurizer 'my-embedding' is not one the client package ships (markers-v1): give its "
     "feature_length"),
    ({"routing": {"feature_length": 31}}, "routing.feature_length", "invalid_feature_length",
     "featurizer 'markers-v1' gives 32 features, not 31"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field", "code", "message"), INVALID_TERMS)
def test_invalid_terms_are_refused_with_a_specific_error(
    admin_client, terms, change, field, code, message
):
    terms.update(change)

    response = admin_client.post(CONTRACTS, terms, format="json")

    error = assert_error(response, 400, code)
    assert error["message"] == message
    assert error["details"] == [{"field": field, "code": code, "message": message}]
    assert not Contract.objects.exists()


def test_every_problem_of_the_terms_is_reported_at_once(admin_client, terms):
    terms.update(currency="usd", timezone="Nowhere", payout_share="2")

    response = admin_client.post(CONTRACTS, terms, format="json")

    # The envelope's code is the first problem's.
    error = assert_error(response, 400, "invalid_currency")
    assert [d["code"] for d in error["details"]] == [
        "invalid_currency",
        "invalid_payout_share",
        "unknown_timezone",
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"markup": "0.12345678901"}, "markup"),
        ({"period": "fortnight"}, "period"),
        ({"starts_on": "2026-13-01"}, "starts_on"),
        ({"spend_limits": [{"window": "hour", "amount": "1"}]}, "spend_limits"),
        ({"grace_days": -1}, "grace_days"),
    ],
)
def test_malformed_terms_are_refused_field_by_field(admin_client, terms, change, field):
    terms.update(change)

    response = admin_client.post(CONTRACTS, terms, format="json")

    error = assert_error(response, 400, "invalid")
    assert list(error["details"]) == [field]


def test_a_taken_contract_code_is_a_conflict(admin_client, terms):
    admin_client.post(CONTRACTS, terms, format="json")
    terms["markup"] = "0.5"

    response = admin_client.post(CONTRACTS, terms, format="json")

    error = assert_error(response, 409, "conflict")
    assert (error["message"], error["details"]) == (
        "a contract 'acme-agent-2026' already exists",
        None,
    )
    assert Contract.objects.get(code="acme-agent-2026").markup == Decimal("0.2000000000")


@pytest.mark.parametrize("role_client", ["vendor_client", "customer_client"])
def test_contracts_cannot_be_created_with_a_non_admin_key(request, role_client, terms):
    client = request.getfixturevalue(role_client)

    response = client.post(CONTRACTS, terms, format="json")

    assert_error(response, 404, "not_found")
    assert not Contract.objects.filter(code="acme-agent-2026").exists()


def test_contract_terms_cannot_be_replaced_through_the_api(admin_client, terms):
    admin_client.post(CONTRACTS, terms, format="json")

    response = admin_client.put(f"{CONTRACTS}/acme-agent-2026", terms, format="json")

    assert_error(response, 405, "method_not_allowed")


# NUMERIC(30, 10) amounts and NUMERIC(20, 10) rates, at full width.
AMOUNTS = st.decimals(min_value=0, max_value=10**19, places=10, allow_nan=False)
RATES = st.decimals(min_value=0, max_value=10**9, places=10, allow_nan=False)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(markup=RATES, payout_cap=AMOUNTS, unit_value=AMOUNTS, share=st.decimals(0, 1, places=10))
def test_any_ten_place_amount_is_stored_exactly_as_sent(
    admin_client, terms, markup, payout_cap, unit_value, share
):
    Contract.objects.filter(code=terms["code"]).delete()
    terms.update(markup=str(markup), payout_cap=str(payout_cap), payout_share=str(share))
    terms["value_schedule"] = [{"kind": "task_completed", "unit_value": str(unit_value)}]

    response = admin_client.post(CONTRACTS, terms, format="json")

    assert response.status_code == 201, response.content
    contract = Contract.objects.get(code=terms["code"])
    assert (contract.markup, contract.payout_cap, contract.payout_share) == (
        markup,
        payout_cap,
        share,
    )
    assert contract.value_schedule.get().unit_value == unit_value
    assert response.json()["payout_cap"] == f"{payout_cap:.10f}"
