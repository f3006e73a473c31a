"""Tenant isolation of ingestion and audit reads (API.md "Conventions":
anything outside the caller's reach answers 404, exactly as if it did not
exist; no or a bad key answers 401)."""

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from ledger.models import Call, Outcome
from tests.conftest import client_for
from tests.factories import (
    CallRecordFactory,
    ContractFactory,
    OrganizationFactory,
    OutcomeRecordFactory,
    ValueScheduleRowFactory,
    api_key_create,
)
from tests.helpers import assert_error


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    body: dict | None = None

    def call(self, client, code: str):
        url = "/api/v1" + self.path.format(code=code)
        return getattr(client, self.method)(url, self.body, format="json")


INTRUDER_CALLS = {"records": [CallRecordFactory(external_id="intruder-call")]}
INTRUDER_OUTCOMES = {"records": [OutcomeRecordFactory(external_id="intruder-outcome")]}

ENDPOINTS = {
    "ingest calls": Endpoint("post", "/contracts/{code}/calls", INTRUDER_CALLS),
    "list calls": Endpoint("get", "/contracts/{code}/calls"),
    "ingest outcomes": Endpoint("post", "/contracts/{code}/outcomes", INTRUDER_OUTCOMES),
    "list outcomes": Endpoint("get", "/contracts/{code}/outcomes"),
    "outcome detail": Endpoint("get", "/contracts/{code}/outcomes/{code}-outcome"),
    "contract detail": Endpoint("get", "/contracts/{code}"),
}
READS = [name for name, endpoint in ENDPOINTS.items() if endpoint.method == "get"]


@pytest.fixture
def tenants(light_model, ingest_calls, ingest_outcomes):
    """Contracts deal-a (vendor-a sells to customer-a) and deal-b (vendor-b
    to customer-b), each with a call and an outcome; a key per organization."""
    keys = {}
    for side in ("a", "b"):
        vendor = OrganizationFactory(slug=f"vendor-{side}")
        customer = OrganizationFactory(slug=f"customer-{side}")
        contract = ContractFactory(code=f"deal-{side}", vendor=vendor, customer=customer)
        ValueScheduleRowFactory(contract=contract, kind="task_completed")
        ingest_calls(contract, [CallRecordFactory(external_id=f"deal-{side}-call")])
        ingest_outcomes(contract, [OutcomeRecordFactory(external_id=f"deal-{side}-outcome")])
        keys[vendor.slug] = api_key_create(organization=vendor, role="vendor")
        keys[customer.slug] = api_key_create(organization=customer, role="customer")
    return keys


def stored_external_ids() -> set[str]:
    calls = Call.objects.values_list("external_id", flat=True)
    outcomes = Outcome.objects.values_list("external_id", flat=True)
    return {*calls, *outcomes}


ALL_STORED = {"deal-a-call", "deal-a-outcome", "deal-b-call", "deal-b-outcome"}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize(
    ("caller", "foreign"),
    [
        ("vendor-a", "deal-b"),
        ("customer-a", "deal-b"),
        ("vendor-b", "deal-a"),
        ("customer-b", "deal-a"),
    ],
)
def test_another_tenants_contract_answers_404_as_if_it_did_not_exist(
    tenants, endpoint, caller, foreign
):
    response = ENDPOINTS[endpoint].call(client_for(tenants[caller]), foreign)
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": f"no contract '{foreign}'", "details": None}
    }
    assert stored_external_ids() == ALL_STORED


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_the_contracts_vendor_reaches_every_endpoint(tenants, endpoint):
    response = ENDPOINTS[endpoint].call(client_for(tenants["vendor-a"]), "deal-a")
    assert response.status_code == 200, response.content
    assert b"deal-b" not in response.content


@pytest.mark.parametrize("endpoint", READS)
def test_the_contracts_customer_reaches_every_read(tenants, endpoint):
    response = ENDPOINTS[endpoint].call(client_for(tenants["customer-a"]), "deal-a")
    assert response.status_code == 200, response.content
    assert b"deal-b" not in response.content


@pytest.mark.parametrize("endpoint", ["ingest calls", "ingest outcomes"])
def test_a_customer_key_cannot_ingest_into_its_own_contract(tenants, endpoint):
    response = ENDPOINTS[endpoint].call(client_for(tenants["customer-a"]), "deal-a")
    assert_error(response, 404, "not_found")
    assert stored_external_ids() == ALL_STORED


@pytest.mark.parametrize(
    ("caller", "visible"),
    [
        ("vendor-a", ["deal-a"]),
        ("customer-a", ["deal-a"]),
        ("vendor-b", ["deal-b"]),
        ("customer-b", ["deal-b"]),
    ],
)
def test_the_contract_list_shows_only_the_callers_own_contracts(tenants, caller, visible):
    response = client_for(tenants[caller]).get("/api/v1/contracts")
    assert response.status_code == 200
    assert [row["code"] for row in response.json()["results"]] == visible


def test_an_admin_key_lists_every_contract(tenants, admin_client):
    response = admin_client.get("/api/v1/contracts")
    assert [row["code"] for row in response.json()["results"]] == ["deal-a", "deal-b"]


EVERY_ENDPOINT = {**ENDPOINTS, "list contracts": Endpoint("get", "/contracts")}


@pytest.mark.parametrize("endpoint", sorted(EVERY_ENDPOINT))
@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer not-a-key"},
        {"HTTP_AUTHORIZATION": "Bearer "},
        {"HTTP_AUTHORIZATION": "Token not-a-bearer-key"},
    ],
)
def test_no_key_or_a_bad_key_answers_401(tenants, endpoint, credentials):
    client = APIClient()
    client.credentials(**credentials)
    response = EVERY_ENDPOINT[endpoint].call(client, "deal-a")
    assert_error(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == "Bearer"
    assert stored_external_ids() == ALL_STORED
