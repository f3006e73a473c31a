"""A verified API key is trusted for API_KEY_CACHE_SECONDS in the process
that verified it; revoking it through the service ends that at once."""

import time
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import billing.auth
from billing.auth import verified_keys_forget
from billing.models import ApiKey
from billing.services import apikey_revoke
from tests.conftest import client_for
from tests.factories import api_key_create
from tests.helpers import assert_error


@pytest.fixture(autouse=True)
def empty_cache():
    verified_keys_forget()
    yield
    verified_keys_forget()


def _key_lookups(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/contracts").status_code == 200
    return sum("billing_apikey" in q["sql"] for q in queries.captured_queries)


def test_a_verified_key_is_not_looked_up_again_within_the_cache_time(contract):
    client = client_for(api_key_create(organization=contract.vendor, role="vendor"))

    assert (_key_lookups(client), _key_lookups(client)) == (1, 0)


def test_with_no_cache_time_every_request_looks_the_key_up(contract, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    client = client_for(api_key_create(organization=contract.vendor, role="vendor"))

    assert (_key_lookups(client), _key_lookups(client)) == (1, 1)


def test_a_key_revoked_through_the_service_is_refused_at_once(contract):
    secret = api_key_create(organization=contract.vendor, role="vendor")
    client = client_for(secret)
    assert client.get("/api/v1/contracts").status_code == 200

    apikey_revoke(key=ApiKey.objects.get(prefix=secret.partition(".")[0]))

    refused = client.get("/api/v1/contracts")
    assert_error(refused, 401, "unauthenticated")


def test_a_wrong_secret_with_a_known_prefix_is_refused_even_after_the_key_was_cached(contract):
    secret = api_key_create(organization=contract.vendor, role="vendor")
    assert client_for(secret).get("/api/v1/contracts").status_code == 200
    forged = secret.partition(".")[0] + ".not-the-secret"

    assert client_for(forged).get("/api/v1/contracts").status_code == 401


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(contract, settings, monkeypatch):
    # One fixed minute, 30 s in, whatever the wall clock does meanwhile.
    monkeypatch.setattr(
        billing.auth,
        "time",
        SimpleNamespace(time=lambda: 1_800_000_030.0, monotonic=time.monotonic),
    )
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    client = client_for(api_key_create(organization=contract.vendor, role="vendor"))
    other = client_for(api_key_create(organization=contract.customer, role="customer"))

    answers = [client.get("/api/v1/contracts").status_code for _ in range(3)]
    refused = client.get("/api/v1/contracts")

    assert answers[:2] == [200, 200]
    assert answers[2] == 429
    assert_error(refused, 429, "throttled")
    assert refused["Retry-After"] == "30"
    assert other.get("/api/v1/contracts").status_code == 200
