"""Every ``/contracts/{code}...`` view resolves its contract once, through
billing.scope.ContractView: out of reach (another tenant's contract, or a
role the method does not admit) is the 404 of a contract that does not
exist, before the body is read (API.md "Conventions")."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from billing.scope import ContractView
from tests.conftest import client_for
from tests.factories import ContractFactory, OrganizationFactory, api_key_create


def _contract_urls(patterns=None, prefix="") -> list[tuple[str, type]]:
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _contract_urls(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and "<slug:code>" in route:
            found.append((route, entry.callback.view_class))
    return found


CONTRACT_URLS = _contract_urls()
READS = [route for route, view in CONTRACT_URLS if hasattr(view, "get")]
WRITES = [route for route, view in CONTRACT_URLS if hasattr(view, "post")]


def _url(route: str, code: str) -> str:
    return "/" + (
        route.replace("<slug:code>", code)
        .replace("<path:external_id>", "o-1")
        .replace("<int:number>", "1")
    )


def _not_found(code: str) -> dict:
    return {"error": {"code": "not_found", "message": f"no contract '{code}'", "details": None}}


def test_every_contract_url_is_served_by_a_contract_view():
    assert len(CONTRACT_URLS) == 18
    assert [route for route, view in CONTRACT_URLS if not issubclass(view, ContractView)] == []


@pytest.fixture
def stranger(db):
    return client_for(
        api_key_create(organization=OrganizationFactory(slug="stranger"), role="vendor")
    )


@pytest.mark.parametrize("route", READS)
def test_another_tenants_contract_answers_404_to_a_read(contract, stranger, route):
    response = stranger.get(_url(route, contract.code))

    assert (response.status_code, response.json()) == (404, _not_found(contract.code))


@pytest.mark.parametrize("route", WRITES)
def test_another_tenants_contract_answers_404_before_the_body_is_read(contract, stranger, route):
    response = stranger.post(
        _url(route, contract.code), b"{not json", content_type="application/json"
    )

    assert (response.status_code, response.json()) == (404, _not_found(contract.code))


@pytest.mark.parametrize(
    ("route", "role"),
    [
        ("api/v1/contracts/<slug:code>/calls", "customer"),
        ("api/v1/contracts/<slug:code>/outcomes", "customer"),
        ("api/v1/contracts/<slug:code>/otlp/v1/traces", "customer"),
        ("api/v1/contracts/<slug:code>/routing/route", "customer"),
        ("api/v1/contracts/<slug:code>/outcomes/<path:external_id>/disputes", "vendor"),
        ("api/v1/contracts/<slug:code>/outcomes/<path:external_id>/decision", "vendor"),
        ("api/v1/contracts/<slug:code>/outcomes/<path:external_id>/decision", "customer"),
    ],
)
def test_a_role_a_write_does_not_admit_gets_the_404_of_a_stranger(contract, route, role):
    party = contract.vendor if role == "vendor" else contract.customer
    client = client_for(api_key_create(organization=party, role=role))

    response = client.post(_url(route, contract.code), {}, format="json")

    assert (response.status_code, response.json()) == (404, _not_found(contract.code))


@pytest.mark.parametrize(
    ("route", "role"),
    [
        ("api/v1/contracts/<slug:code>/routing/decisions", "customer"),
        ("api/v1/contracts/<slug:code>/journal", "vendor"),
        ("api/v1/contracts/<slug:code>/journal", "customer"),
    ],
)
def test_a_role_a_read_does_not_admit_gets_the_404_of_a_stranger(contract, route, role):
    party = contract.vendor if role == "vendor" else contract.customer
    client = client_for(api_key_create(organization=party, role=role))

    response = client.get(_url(route, contract.code))

    assert (response.status_code, response.json()) == (404, _not_found(contract.code))


def test_a_method_the_view_does_not_answer_is_405_even_out_of_reach(contract, stranger):
    response = stranger.delete(f"/api/v1/contracts/{contract.code}/calls")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_head_is_scoped_like_get(contract):
    other = ContractFactory(code="other-deal")
    vendor = client_for(api_key_create(organization=contract.vendor, role="vendor"))

    own = vendor.head(f"/api/v1/contracts/{contract.code}/calls")
    foreign = vendor.head(f"/api/v1/contracts/{other.code}/calls")

    assert (own.status_code, foreign.status_code) == (200, 404)
