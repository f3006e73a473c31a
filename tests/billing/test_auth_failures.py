"""Failed authentication is throttled per client address (billing/auth.py
AuthFailures; docs/ADMIN.md "API keys"): past AUTH_FAILURE_LIMIT failures in
a window, a key this process has not verified is answered 429 with
Retry-After without touching the database; other addresses are not held."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import billing.auth
from billing.auth import AuthFailures, verified_keys_forget
from tests.conftest import client_for
from tests.factories import api_key_create
from tests.helpers import assert_error

URL = "/api/v1/contracts"
ATTACKER = "203.0.113.7"
NEIGHBOUR = "198.51.100.20"


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The failure windows on a clock the test moves, 30 s into a minute:
    hundreds of requests never straddle a window's end by chance."""
    now = SimpleNamespace(seconds=1_800_000_030.0)
    real = billing.auth.time
    monkeypatch.setattr(
        billing.auth,
        "time",
        SimpleNamespace(time=lambda: now.seconds, monotonic=real.monotonic),
    )
    return now


@pytest.fixture(autouse=True)
def empty_cache():
    verified_keys_forget()
    yield
    verified_keys_forget()


def bad_keys(count: int, address: str = ATTACKER) -> list[int]:
    return [
        client_for(f"guess{n}.not-a-secret").get(URL, REMOTE_ADDR=address).status_code
        for n in range(count)
    ]


def test_after_the_limit_bad_keys_get_429_with_retry_after(contract, settings):
    settings.AUTH_FAILURE_LIMIT = 20

    statuses = bad_keys(300)

    assert statuses == [401] * 20 + [429] * 280
    answer = client_for("guess.again").get(URL, REMOTE_ADDR=ATTACKER)
    assert_error(answer, 429, "throttled")
    assert 1 <= int(answer["Retry-After"]) <= settings.AUTH_FAILURE_WINDOW_SECONDS


def test_once_the_limit_is_hit_a_bad_key_costs_no_database_query(contract, settings):
    settings.AUTH_FAILURE_LIMIT = 5
    bad_keys(5)

    with CaptureQueriesContext(connection) as queries:
        assert bad_keys(50) == [429] * 50

    assert queries.captured_queries == []


def test_before_the_limit_each_bad_key_is_looked_up(contract, settings):
    settings.AUTH_FAILURE_LIMIT = 5

    with CaptureQueriesContext(connection) as queries:
        assert bad_keys(5) == [401] * 5

    assert sum("billing_apikey" in q["sql"] for q in queries.captured_queries) == 5


def test_a_good_key_from_another_address_still_works(contract, settings):
    settings.AUTH_FAILURE_LIMIT = 5
    bad_keys(50)
    good = client_for(api_key_create(organization=contract.vendor, role="vendor"))

    assert good.get(URL, REMOTE_ADDR=NEIGHBOUR).status_code == 200
    assert bad_keys(1, address=NEIGHBOUR) == [401]


def test_a_good_key_already_verified_in_this_process_still_works_from_a_held_address(
    contract, settings
):
    settings.AUTH_FAILURE_LIMIT = 5
    good = client_for(api_key_create(organization=contract.vendor, role="vendor"))
    assert good.get(URL, REMOTE_ADDR=ATTACKER).status_code == 200
    bad_keys(5)

    assert good.get(URL, REMOTE_ADDR=ATTACKER).status_code == 200
    verified_keys_forget()
    assert good.get(URL, REMOTE_ADDR=ATTACKER).status_code == 429


def test_successes_do_not_buy_more_guesses(contract, settings):
    settings.AUTH_FAILURE_LIMIT = 5
    good = client_for(api_key_create(organization=contract.vendor, role="vendor"))

    statuses = []
    for _ in range(10):
        statuses += bad_keys(1)
        statuses.append(good.get(URL, REMOTE_ADDR=ATTACKER).status_code)

    assert [s for s in statuses if s != 200] == [401] * 5 + [429] * 5


def test_a_forwarded_for_header_does_not_change_the_address_without_trusted_proxies(
    contract, settings
):
    settings.AUTH_FAILURE_LIMIT = 5
    statuses = [
        client_for("guess.x")
        .get(URL, REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        .status_code
        for n in range(10)
    ]

    assert statuses == [401] * 5 + [429] * 5


def test_a_failure_limit_of_zero_turns_the_throttle_off(contract, settings):
    settings.AUTH_FAILURE_LIMIT = 0

    assert bad_keys(100) == [401] * 100


def test_the_route_endpoint_is_held_by_the_same_limit(contract, settings):
    settings.AUTH_FAILURE_LIMIT = 5
    bad_keys(5)

    response = client_for("guess.route").post(
        f"{URL}/{contract.code}/routing/route",
        {"task_type": "triage", "key": "k"},
        format="json",
        REMOTE_ADDR=ATTACKER,
    )

    assert response.status_code == 429
    assert response["Retry-After"]


def test_when_the_window_ends_the_address_is_looked_up_again(contract, settings, clock):
    settings.AUTH_FAILURE_LIMIT = 3
    assert bad_keys(4) == [401, 401, 401, 429]

    clock.seconds += settings.AUTH_FAILURE_WINDOW_SECONDS

    assert bad_keys(1) == [401]


def test_the_counts_are_bounded_whatever_the_number_of_addresses(contract, settings, monkeypatch):
    settings.AUTH_FAILURE_LIMIT = 5
    monkeypatch.setattr(AuthFailures.counts, "max_entries", 10)

    for n in range(25):
        bad_keys(1, address=f"192.0.2.{n}")

    assert len(AuthFailures.counts) <= 10
