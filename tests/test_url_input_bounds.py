"""URLs a client can type but no lookup can answer: U+0000 in a path or a
query, a time whose instant falls outside the calendar. Each a 400 in the
error envelope, never a server error."""

import pytest

from tests.helpers import assert_error


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/contracts/acme-agent/outcomes/%00",
        "/api/v1/models/%00/prices",
        "/api/v1/contracts/acme-agent/calls?task_ref=%00",
        "/api/v1/contracts/acme-agent/calls?model=a%00b",
        "/api/v1/contracts/acme-agent/outcomes?%00=1",
    ],
)
def test_a_url_holding_nul_is_a_400(customer_client, url):
    response = customer_client.get(url)
    assert_error(response, 400, "nul_character")


@pytest.mark.parametrize(
    "query",
    ["from=9999-12-31T23:59:59-23:59", "to=0001-01-01T00:00:00%2B01:00"],
)
def test_a_time_range_outside_the_calendar_in_utc_is_a_400(customer_client, query):
    response = customer_client.get(f"/api/v1/contracts/acme-agent/calls?{query}")
    assert_error(response, 400, "out_of_range")


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/organizations", {"slug": "nul", "name": "Nul\u0000Corp"}),
        ("/api/v1/models", {"name": "m\u0000", "provider": "p", "tier": "light"}),
        ("/api/v1/contracts", {"code": "x", "timezone": "UTC\u0000"}),
        ("/api/v1/organizations", {"slug": "nul", "name": "n", "k\u0000": 1}),
    ],
)
def test_a_json_body_holding_nul_is_a_400(admin_client, path, body):
    response = admin_client.post(path, body, format="json")
    assert_error(response, 400, "nul_character")
