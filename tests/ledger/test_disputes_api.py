"""Disputes through the API (API.md "Disputes", DESIGN.md "Outcome"):
every change of status is an appended event with who, why and when."""

import threading
from datetime import datetime

import pytest
from django.db import connection

from ledger.models import OutcomeEvent
from tests.conftest import client_for
from tests.factories import ContractFactory, OrganizationFactory, api_key_create
from tests.helpers import assert_error

OUTCOMES = "/api/v1/contracts/acme-agent/outcomes"


@pytest.fixture
def outcome(vendor_client):
    """One accepted outcome, o-1, ingested by the vendor."""
    record = {
        "external_id": "o-1",
        "occurred_at": "2026-11-03T17:00:00Z",
        "kind": "task_completed",
        "task_type": "code_review",
        "task_ref": "PR-812",
        "quantity": "1",
    }
    response = vendor_client.post(OUTCOMES, {"records": [record]}, format="json")
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    return "o-1"


def dispute(client, external_id="o-1", reason="the PR was reverted"):
    return client.post(f"{OUTCOMES}/{external_id}/disputes", {"reason": reason}, format="json")


def decide(client, status, reason="checked the revert", external_id="o-1"):
    return client.post(
        f"{OUTCOMES}/{external_id}/decision", {"status": status, "reason": reason}, format="json"
    )


def event_shape(event: dict) -> tuple:
    """An event without its time, which is checked for being RFC 3339."""
    datetime.fromisoformat(event["created_at"])
    return (
        event["seq"],
        event["from_status"],
        event["to_status"],
        event["actor"].split("/")[:2],
        event["reason"],
    )


def test_a_customer_dispute_makes_the_outcome_disputed_with_an_event_saying_who_and_why(
    customer_client, outcome
):
    response = dispute(customer_client)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["external_id"] == "o-1"
    assert body["status"] == "disputed"
    assert [event_shape(e) for e in body["events"]] == [
        (1, "accepted", "disputed", ["acme", "customer"], "the PR was reverted")
    ]


def test_the_disputed_status_and_its_event_are_what_the_outcome_reads_back(
    customer_client, outcome
):
    dispute(customer_client)
    read = customer_client.get(f"{OUTCOMES}/o-1").json()
    assert read["status"] == "disputed"
    assert [event_shape(e) for e in read["events"]] == [
        (1, "accepted", "disputed", ["acme", "customer"], "the PR was reverted")
    ]


def test_an_admin_decision_rejects_a_disputed_outcome_as_a_second_event(
    customer_client, admin_client, outcome
):
    dispute(customer_client)
    response = decide(admin_client, "rejected")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "rejected"
    assert [event_shape(e) for e in body["events"]] == [
        (1, "accepted", "disputed", ["acme", "customer"], "the PR was reverted"),
        (2, "disputed", "rejected", ["operator", "admin"], "checked the revert"),
    ]


def test_an_admin_decision_can_accept_a_disputed_outcome_again(
    customer_client, admin_client, outcome
):
    dispute(customer_client)
    assert decide(admin_client, "accepted").json()["status"] == "accepted"


def test_an_admin_may_open_a_dispute_too(admin_client, outcome):
    response = dispute(admin_client)
    assert response.status_code == 200
    assert response.json()["status"] == "disputed"


def test_a_vendor_key_cannot_dispute_and_gets_404_with_nothing_appended(vendor_client, outcome):
    response = dispute(vendor_client)
    assert_error(response, 404, "not_found")
    assert not OutcomeEvent.objects.exists()


def test_a_customer_key_cannot_decide_and_gets_404(customer_client, outcome):
    dispute(customer_client)
    response = decide(customer_client, "accepted")
    assert response.status_code == 404
    assert OutcomeEvent.objects.count() == 1


def test_a_vendor_key_cannot_decide_and_gets_404(customer_client, vendor_client, outcome):
    dispute(customer_client)
    assert decide(vendor_client, "rejected").status_code == 404


def test_another_tenants_customer_gets_404_for_the_outcome(outcome):
    stranger = OrganizationFactory(slug="globex")
    ContractFactory(code="globex-agent", customer=stranger)
    response = dispute(client_for(api_key_create(organization=stranger, role="customer")))
    assert response.status_code == 404
    assert not OutcomeEvent.objects.exists()


def test_an_unknown_outcome_is_404(customer_client, outcome):
    assert dispute(customer_client, external_id="o-404").status_code == 404


def test_disputing_a_disputed_outcome_is_a_409_conflict(customer_client, outcome):
    dispute(customer_client)
    response = dispute(customer_client)
    assert_error(response, 409, "invalid_transition")


def test_deciding_an_undisputed_outcome_is_a_409_conflict(admin_client, outcome):
    assert decide(admin_client, "rejected").status_code == 409
    assert not OutcomeEvent.objects.exists()


def test_a_decision_other_than_accepted_or_rejected_is_400(customer_client, admin_client, outcome):
    dispute(customer_client)
    response = decide(admin_client, "disputed")
    assert list(assert_error(response, 400, "invalid")["details"]) == ["status"]


def test_a_dispute_without_a_reason_is_400(customer_client, outcome):
    response = dispute(customer_client, reason="")
    assert list(assert_error(response, 400, "invalid")["details"]) == ["reason"]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_disputes_of_one_outcome_one_succeeds_the_other_gets_409(contract, outcome):
    secret = api_key_create(organization=contract.customer, role="customer")
    start = threading.Barrier(2)
    statuses: list[int] = []

    def open_dispute():
        client = client_for(secret)
        start.wait()
        statuses.append(dispute(client).status_code)
        connection.close()

    threads = [threading.Thread(target=open_dispute) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    assert OutcomeEvent.objects.filter(contract=contract).count() == 1
