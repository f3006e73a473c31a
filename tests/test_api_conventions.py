"""API.md "Conventions" across endpoints: the error envelope for every
error, pagination of every list, external ids of any printable shape."""

from tests.conftest import client_for
from tests.factories import ContractFactory, api_key_create
from tests.helpers import assert_error

OUTCOME = {
    "external_id": "PR/812",
    "occurred_at": "2026-11-03T17:00:00Z",
    "kind": "task_completed",
    "task_type": "code_review",
    "quantity": "1",
}


def test_an_outcome_whose_id_holds_a_slash_can_be_read_and_disputed(
    vendor_client, customer_client, contract
):
    stored = vendor_client.post(
        "/api/v1/contracts/acme-agent/outcomes", {"records": [OUTCOME]}, format="json"
    )
    read = customer_client.get("/api/v1/contracts/acme-agent/outcomes/PR/812")
    disputed = customer_client.post(
        "/api/v1/contracts/acme-agent/outcomes/PR/812/disputes",
        {"reason": "reverted"},
        format="json",
    )

    assert stored.json()["accepted"] == 1
    assert (read.status_code, read.json()["external_id"]) == (200, "PR/812")
    assert (disputed.status_code, disputed.json()["status"]) == (200, "disputed")


def test_a_url_that_matches_nothing_answers_the_error_envelope(vendor_client):
    response = vendor_client.get("/api/v1/no-such-thing")

    assert_error(response, 404, "not_found")


def test_a_body_over_the_upload_limit_is_a_413_in_the_envelope(vendor_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    records = [{**OUTCOME, "external_id": f"o-{i}"} for i in range(50)]

    response = vendor_client.post(
        "/api/v1/contracts/acme-agent/outcomes", {"records": records}, format="json"
    )

    assert_error(response, 413, "batch_too_large")


def test_the_contract_list_is_cursor_paginated(db):
    admin = client_for(api_key_create(organization=ContractFactory().vendor, role="admin"))
    for _ in range(2):
        ContractFactory()

    first = admin.get("/api/v1/contracts?limit=2").json()
    rest = admin.get(first["next"]).json()

    codes = [c["code"] for c in first["results"] + rest["results"]]
    assert len(first["results"]) == 2
    assert rest["next"] is None
    assert codes == sorted(codes)
    assert len(set(codes)) == 3


def test_a_customer_reads_the_terms_but_not_the_vendors_webhook_url(
    vendor_client, customer_client, contract
):
    contract.webhook_url = "https://alerts.agentco.example/hook?token=s3cret"
    contract.save(update_fields=["webhook_url"])

    seen_by_vendor = vendor_client.get("/api/v1/contracts/acme-agent").json()
    seen_by_customer = customer_client.get("/api/v1/contracts/acme-agent").json()

    assert seen_by_vendor["webhook_url"] == contract.webhook_url
    assert seen_by_customer["webhook_url"] is None
    assert seen_by_customer["markup"] == seen_by_vendor["markup"]
