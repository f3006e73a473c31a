"""Shared fixtures. Tests run against real PostgreSQL: DATABASE_URL when set,
else the embedded server (config/embedded_db.py).

A few tests need something beyond Python and PostgreSQL: they are marked
``@pytest.mark.needs("chromium")`` or ``@pytest.mark.needs("redis")``. On a
machine without it they are skipped, with the reason and the command that
installs it; with ``REQUIRE_ALL_TESTS=1`` (CI, .ci/run) they fail instead,
so CI never passes by skipping them."""

import functools
import os
import shutil
from collections.abc import Callable

import pytest
import redis
from rest_framework.test import APIClient

from tests.factories import (
    ContractFactory,
    FeeScheduleRowFactory,
    LlmModelFactory,
    OrganizationFactory,
    PriceFactory,
    ValueScheduleRowFactory,
    api_key_create,
)

# The Celery worker test's broker (tests/billing/test_celery_worker.py).
CELERY_TEST_BROKER_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


def chromium_missing() -> str | None:
    if shutil.which("chromium"):
        return None
    return (
        "Chromium is not installed (no 'chromium' on PATH); "
        "install it with: apt-get install chromium"
    )


def redis_missing() -> str | None:
    try:
        redis.Redis.from_url(CELERY_TEST_BROKER_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        return (
            f"no Redis answers at CELERY_TEST_BROKER_URL={CELERY_TEST_BROKER_URL} ({error}); "
            "install and start it with: "
            "apt-get install redis-server && redis-server --daemonize yes"
        )
    return None


# What a test may need, and how to tell it is missing (None when present).
NEEDS: dict[str, Callable[[], str | None]] = {
    "chromium": chromium_missing,
    "redis": redis_missing,
}


@functools.cache
def missing(need: str) -> str | None:
    return NEEDS[need]()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        f"needs(name): the test needs one of {sorted(NEEDS)}; skipped without it "
        "unless REQUIRE_ALL_TESTS=1",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    for marker in item.iter_markers("needs"):
        (need,) = marker.args
        reason = missing(need)
        if reason is None:
            continue
        if os.environ.get("REQUIRE_ALL_TESTS") == "1":
            pytest.fail(f"REQUIRE_ALL_TESTS=1 and {reason}", pytrace=False)
        pytest.skip(reason)


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def light_model(db):
    model = LlmModelFactory(name="gpt-4o-mini", provider="openai", tier="light")
    PriceFactory(llm_model=model)
    return model


@pytest.fixture
def contract(db, light_model):
    contract = ContractFactory(
        code="acme-agent",
        vendor=OrganizationFactory(slug="agentco"),
        customer=OrganizationFactory(slug="acme"),
    )
    ValueScheduleRowFactory(contract=contract, kind="task_completed", unit_value="40")
    FeeScheduleRowFactory(contract=contract, kind="task_completed", fee="0.99")
    return contract


@pytest.fixture
def vendor_client(contract):
    return client_for(api_key_create(organization=contract.vendor, role="vendor"))


@pytest.fixture
def customer_client(contract):
    return client_for(api_key_create(organization=contract.customer, role="customer"))


@pytest.fixture
def admin_client(db):
    return client_for(
        api_key_create(organization=OrganizationFactory(slug="operator"), role="admin")
    )
