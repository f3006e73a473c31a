"""POST /api/v1/contracts with hostile bodies (docs/INGESTION.md "Limits"):
an integer term beyond its column, a body nested too deep, a number beyond
a float: each a specific 400, nothing stored."""

import pytest

from billing.models import Contract
from tests.helpers import assert_error

CONTRACTS = "/api/v1/contracts"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"min_sample": 2**31}, "min_sample"),
        ({"grace_days": 3651}, "grace_days"),
    ],
)
def test_an_integer_term_beyond_what_its_column_holds_is_a_400(admin_client, terms, change, field):
    response = admin_client.post(CONTRACTS, {**terms, **change}, format="json")
    assert list(assert_error(response, 400, "invalid")["details"]) == [field]
    assert not Contract.objects.exists()


@pytest.mark.parametrize(
    "routing, field",
    [
        ({"min_tasks": 3_101_358_617}, "routing.min_tasks"),
        ({"window_days": 3651}, "routing.window_days"),
    ],
)
def test_a_routing_term_beyond_what_its_column_holds_is_a_400(admin_client, terms, routing, field):
    body = {**terms, "routing": {**terms["routing"], **routing}}
    response = admin_client.post(CONTRACTS, body, format="json")
    error = assert_error(response, 400, "out_of_range")
    assert [(d["field"], d["code"]) for d in error["details"]] == [(field, "out_of_range")]
    assert not Contract.objects.exists()


def test_the_largest_integer_terms_are_stored(admin_client, terms):
    body = {**terms, "min_sample": 2**31 - 1, "grace_days": 3650}
    body["routing"] = {**terms["routing"], "min_tasks": 2**31 - 1, "window_days": 3650}
    response = admin_client.post(CONTRACTS, body, format="json")
    assert response.status_code == 201, response.content
    stored = Contract.objects.get()
    assert (stored.min_sample, stored.routing_min_tasks) == (2**31 - 1, 2**31 - 1)


@pytest.mark.parametrize("depth", [33, 2_000, 10_000])
def test_a_contract_body_nested_too_deep_is_a_400_too_deep(admin_client, terms, depth):
    body = b'{"code": "x", "routing": ' + b"[" * depth + b"]" * depth + b"}"
    response = admin_client.generic("POST", CONTRACTS, body, content_type="application/json")
    assert_error(response, 400, "too_deep")
    assert not Contract.objects.exists()


def test_a_contract_body_holding_1e400_is_a_400_out_of_range(admin_client, terms):
    body = b'{"code": "x", "routing": {"min_tasks": 1e400}}'
    response = admin_client.generic("POST", CONTRACTS, body, content_type="application/json")
    assert_error(response, 400, "out_of_range")
    assert not Contract.objects.exists()
