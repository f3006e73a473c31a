"""The Django admin: billing pages load and validate, the ledger is read-only
(DESIGN.md "Who uses it": admins)."""

import html
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.test import RequestFactory

from billing.models import ApiKey, Contract
from ledger.models import Call, Outcome, OutcomeEvent


@pytest.fixture
def site(client, admin_user):
    """A browser logged in to the admin as a superuser."""
    assert client.login(username=admin_user.username, password="password")
    return client


@pytest.fixture
def ledger_rows(vendor_client, contract):
    call = {
        "external_id": "c-admin-1",
        "occurred_at": "2026-11-03T09:15:00Z",
        "model": "gpt-4o-mini",
        "task_type": "code_review",
        "task_ref": "PR-812",
        "input_tokens": 1200,
        "output_tokens": 300,
    }
    outcome = {
        "external_id": "o-admin-1",
        "occurred_at": "2026-11-03T17:00:00Z",
        "kind": "task_completed",
        "task_type": "code_review",
        "task_ref": "PR-812",
        "quantity": "1",
    }
    base = f"/api/v1/contracts/{contract.code}"
    assert (
        vendor_client.post(f"{base}/calls", {"records": [call]}, format="json").json()["accepted"]
        == 1
    )
    assert (
        vendor_client.post(f"{base}/outcomes", {"records": [outcome]}, format="json").json()[
            "accepted"
        ]
        == 1
    )
    return Call.objects.get(), Outcome.objects.get()


def test_contract_pages_load_for_a_superuser(site, contract):
    listed = site.get("/admin/billing/contract/")
    detail = site.get(f"/admin/billing/contract/{contract.pk}/change/")
    added = site.get("/admin/billing/contract/add/")

    assert (listed.status_code, detail.status_code, added.status_code) == (200, 200, 200)
    assert b"acme-agent" in listed.content


def test_contract_terms_are_read_only_once_created_but_schedules_are_editable(site, contract):
    page = site.get(f"/admin/billing/contract/{contract.pk}/change/").content

    assert b'name="markup"' not in page
    assert b'name="guarantee_multiple"' not in page
    assert b'name="value_schedule-0-unit_value"' in page
    assert b'name="webhook_url"' in page


def add_form(contract, **fields) -> dict:
    """The POST of the "Add contract" page: the terms of a contract between
    ``contract``'s parties, no schedule rows, with ``fields`` on top."""
    inline_management = {
        f"{prefix}-{name}": value
        for prefix in ("value_schedule", "fee_schedule", "spend_limits")
        for name, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
    }
    return {
        "code": "added-in-admin",
        "vendor": contract.vendor.pk,
        "customer": contract.customer.pk,
        "currency": "USD",
        "fx_rate": "1",
        "timezone": "UTC",
        "period": "month",
        "starts_on": "2026-01-01",
        "markup": "0",
        "fixed_fee": "0",
        "guarantee_multiple": "0",
        "payout_share": "1",
        "payout_cap": "0",
        "grace_days": "7",
        "min_sample": "30",
        "routing_window_days": "28",
        "routing_min_tasks": "20",
        "routing_tolerance": "0.05",
        "routing_epsilon": "0.05",
        "routing_audit": "0.05",
        "routing_value_weight": "1",
        "routing_featurizer": "markers-v1",
        "routing_feature_length": "32",
        **inline_management,
        **fields,
    }


def test_the_admin_refuses_a_contract_whose_vendor_is_its_customer(site, contract):
    response = site.post(
        "/admin/billing/contract/add/",
        add_form(contract, code="self-dealing", customer=contract.vendor.pk),
    )

    assert response.status_code == 200
    assert b"the vendor cannot be its own customer" in response.content
    assert not Contract.objects.filter(code="self-dealing").exists()


def test_a_key_created_in_the_admin_is_shown_once_and_stored_hashed(site, contract):
    response = site.post(
        "/admin/billing/apikey/add/",
        {"name": "auditor", "organization": contract.customer.pk, "role": "customer"},
        follow=True,
    )

    key = ApiKey.objects.get(name="auditor")
    shown = [str(m) for m in response.context["messages"] if "The API key for" in str(m)]
    secret = shown[0].split(" is: ")[1].split(". ")[0]
    assert len(shown) == 1
    assert secret.startswith(f"{key.prefix}.")
    assert key.hashed_key.startswith("sha512$$")
    assert secret.encode() not in site.get(f"/admin/billing/apikey/{key.pk}/change/").content


def test_ledger_pages_load_for_a_superuser(site, ledger_rows):
    call, outcome = ledger_rows

    pages = [
        "/admin/ledger/call/",
        f"/admin/ledger/call/{call.pk}/change/",
        "/admin/ledger/outcome/",
        f"/admin/ledger/outcome/{outcome.pk}/change/",
        "/admin/ledger/outcomeevent/",
        f"/admin/ledger/call/?q={call.external_id}",
    ]

    assert [site.get(page).status_code for page in pages] == [200] * len(pages)
    assert b"c-admin-1" in site.get("/admin/ledger/call/").content


@pytest.mark.parametrize("model", [Call, Outcome, OutcomeEvent])
def test_ledger_records_cannot_be_added_changed_or_deleted_in_the_admin(admin_user, model):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    model_admin = admin.site._registry[model]

    assert (
        model_admin.has_add_permission(request),
        model_admin.has_change_permission(request),
        model_admin.has_delete_permission(request),
        model_admin.has_view_permission(request),
    ) == (False, False, False, True)


def test_the_add_page_of_calls_is_forbidden(site, db):
    assert site.get("/admin/ledger/call/add/").status_code == 403


def change_form(contract, **fields) -> dict:
    """The POST of the contract's change page: its editable fields and its
    existing schedule rows, with ``fields`` on top."""
    value_row, fee_row = contract.value_schedule.get(), contract.fee_schedule.get()
    return {
        "ends_on": "",
        "webhook_url": "",
        "routing_window_days": "28",
        "routing_min_tasks": "20",
        "routing_tolerance": "0.05",
        "routing_epsilon": "0.05",
        "routing_audit": "0.05",
        "routing_value_weight": "1",
        "routing_featurizer": "markers-v1",
        "routing_feature_length": "32",
        "value_schedule-TOTAL_FORMS": "1",
        "value_schedule-INITIAL_FORMS": "1",
        "value_schedule-0-id": value_row.pk,
        "value_schedule-0-contract": contract.pk,
        "value_schedule-0-kind": value_row.kind,
        "value_schedule-0-task_type": "",
        "value_schedule-0-unit_value": str(value_row.unit_value),
        "fee_schedule-TOTAL_FORMS": "1",
        "fee_schedule-INITIAL_FORMS": "1",
        "fee_schedule-0-id": fee_row.pk,
        "fee_schedule-0-contract": contract.pk,
        "fee_schedule-0-kind": fee_row.kind,
        "fee_schedule-0-task_type": "",
        "fee_schedule-0-fee": str(fee_row.fee),
        "spend_limits-TOTAL_FORMS": "0",
        "spend_limits-INITIAL_FORMS": "0",
        **fields,
    }


def test_the_admin_edits_a_schedule_row_but_not_the_terms(site, contract):
    response = site.post(
        f"/admin/billing/contract/{contract.pk}/change/",
        change_form(contract, **{"value_schedule-0-unit_value": "55.5", "markup": "0.9"}),
    )

    assert response.status_code == 302, response.content
    contract.refresh_from_db()
    assert contract.value_schedule.get().unit_value == Decimal("55.5000000000")
    assert contract.markup == Decimal("0E-10")


def test_the_admin_refuses_to_end_a_contract_before_it_starts(site, contract):
    response = site.post(
        f"/admin/billing/contract/{contract.pk}/change/",
        change_form(contract, ends_on="2025-12-31"),
    )

    assert response.status_code == 200
    assert b"ends_on is on or after starts_on" in response.content
    contract.refresh_from_db()
    assert contract.ends_on is None


def api_refusals(admin_client, **terms) -> list[str]:
    """What POST /api/v1/contracts says of a contract between the fixture's
    parties with ``terms``: every problem's message."""
    body = {"code": "over-the-api", "vendor": "agentco", "customer": "acme"}
    response = admin_client.post(
        "/api/v1/contracts", {**body, "starts_on": "2026-01-01", **terms}, format="json"
    )
    assert response.status_code == 400, response.content
    return [problem["message"] for problem in response.json()["error"]["details"]]


@pytest.mark.parametrize(
    ("fields", "routing"),
    [
        ({"routing_epsilon": "0.6", "routing_audit": "0.5"}, {"epsilon": "0.6", "audit": "0.5"}),
        ({"routing_feature_length": "16"}, {"featurizer": "markers-v1", "feature_length": 16}),
        ({"routing_window_days": "3651"}, {"window_days": 3651}),
    ],
)
def test_the_admin_refuses_routing_terms_the_api_refuses(
    site, contract, admin_client, fields, routing
):
    [refusal] = api_refusals(admin_client, routing=routing)

    response = site.post(
        f"/admin/billing/contract/{contract.pk}/change/", change_form(contract, **fields)
    )

    assert response.status_code == 200
    assert refusal in html.unescape(response.content.decode())
    contract.refresh_from_db()
    terms = (contract.routing_epsilon, contract.routing_audit, contract.routing_feature_length)
    assert terms == (Decimal("0.0500000000"), Decimal("0.0500000000"), 32)


def second_value_row(contract) -> dict:
    """A second value-schedule row of the page, for the kind of the first
    and any task type."""
    return {
        "value_schedule-TOTAL_FORMS": "2",
        "value_schedule-1-id": "",
        "value_schedule-1-contract": contract.pk,
        "value_schedule-1-kind": "task_completed",
        "value_schedule-1-task_type": "",
        "value_schedule-1-unit_value": "50",
    }


def test_the_admin_refuses_a_schedule_row_twice_as_the_api_does(site, contract, admin_client):
    row = {"kind": "task_completed", "task_type": None, "unit_value": "40"}
    [refusal] = api_refusals(admin_client, value_schedule=[row, {**row, "unit_value": "50"}])

    response = site.post(
        f"/admin/billing/contract/{contract.pk}/change/",
        change_form(contract, **second_value_row(contract)),
    )

    assert response.status_code == 200
    assert refusal in html.unescape(response.content.decode())
    assert list(contract.value_schedule.values_list("unit_value", flat=True)) == [
        Decimal("40.0000000000")
    ]


def test_a_contract_added_with_a_schedule_row_twice_is_refused(site, contract):
    rows = {
        "value_schedule-TOTAL_FORMS": "2",
        **{
            f"value_schedule-{index}-{name}": value
            for index in (0, 1)
            for name, value in (("kind", "task_completed"), ("task_type", ""), ("unit_value", "40"))
        },
    }

    response = site.post("/admin/billing/contract/add/", add_form(contract, **rows))

    assert response.status_code == 200
    assert "('task_completed', None) appears twice in value_schedule" in html.unescape(
        response.content.decode()
    )
    assert not Contract.objects.filter(code="added-in-admin").exists()


def test_a_valid_edit_is_written_by_the_service_and_kept_in_the_history(
    site, contract, light_model
):
    """The service writes each schedule by key: a row deleted and added again
    for the same (kind, task_type) in one edit is the same row, updated."""
    value_row = contract.value_schedule.get()
    edit = {
        "ends_on": "2026-12-31",
        "routing_models": [light_model.pk],
        "routing_epsilon": "0.1",
        "value_schedule-0-DELETE": "on",
        **second_value_row(contract),
        "value_schedule-1-unit_value": "55.5",
        "fee_schedule-0-fee": "1.5",
        "spend_limits-TOTAL_FORMS": "1",
        "spend_limits-0-window": "day",
        "spend_limits-0-amount": "100",
    }

    response = site.post(
        f"/admin/billing/contract/{contract.pk}/change/", change_form(contract, **edit)
    )

    assert response.status_code == 302, response.content
    contract.refresh_from_db()
    assert (str(contract.ends_on), contract.routing_epsilon) == (
        "2026-12-31",
        Decimal("0.1000000000"),
    )
    assert list(contract.routing_models.values_list("name", flat=True)) == ["gpt-4o-mini"]
    assert list(contract.value_schedule.values_list("id", "unit_value")) == [
        (value_row.id, Decimal("55.5000000000"))
    ]
    assert list(contract.fee_schedule.values_list("fee", flat=True)) == [Decimal("1.5000000000")]
    assert list(contract.spend_limits.values_list("window", "amount")) == [
        ("day", Decimal("100.0000000000"))
    ]
    history = LogEntry.objects.get(object_id=str(contract.pk)).get_change_message()
    assert "Added spend limit “day 100”." in history
