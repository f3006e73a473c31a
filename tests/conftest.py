"""Shared fixtures. Tests run against real PostgreSQL: DATABASE_URL when set,
else the embedded server (config/embedded_db.py).

The test database is created and migrated as the owner role, and the tests
run as the application's role, which owns nothing (core/db_roles.py,
docs/DATABASE.md): DATABASE_URL's role when it differs from the owner's
(MIGRATION_DATABASE_URL), else the role ``ledger_app``, made by the
migration step.

A few tests need something beyond Python and PostgreSQL: they are marked
``@pytest.mark.needs("chromium")`` or ``@pytest.mark.needs("redis")``. On a
machine without it they are skipped, with the reason and the command that
installs it; with ``REQUIRE_ALL_TESTS=1`` (CI, .ci/run) they fail instead,
so CI never passes by skipping them."""

import functools
import os
import shutil
from collections.abc import Callable
from datetime import timedelta

import msgspec
import pytest
import redis
from django.conf import settings
from django.db import connections
from rest_framework.test import APIClient

from core.batch import decode_batch
from core.caches import forget_all
from core.db_roles import OWNER_ALIAS
from ledger import ingestion, services
from ledger.models import Call
from ledger.records import CallIn, OutcomeIn
from tests.factories import (
    ContractFactory,
    FeeScheduleRowFactory,
    LlmModelFactory,
    OrganizationFactory,
    PriceFactory,
    ValueScheduleRowFactory,
    api_key_create,
)

TEST_APP_USER = "ledger_app"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Before the test database is made: remember the application's login,
    and log the default connection in as the owner to create and migrate."""
    default = settings.DATABASES["default"]
    owner = settings.DATABASES[OWNER_ALIAS]
    if default["USER"] == owner["USER"]:
        settings.DATABASE_APP_USER, settings.DATABASE_APP_PASSWORD = TEST_APP_USER, ""
    default["USER"], default["PASSWORD"] = owner["USER"], owner.get("PASSWORD", "")


def _login(user: str, password: str) -> None:
    connections["default"].close()
    settings.DATABASES["default"].update({"USER": user, "PASSWORD": password})


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The tests run as the application's role; the owner drops the
    database afterwards (when it is not kept)."""
    with django_db_blocker.unblock():
        _login(settings.DATABASE_APP_USER, settings.DATABASE_APP_PASSWORD)
    yield
    owner = settings.DATABASES[OWNER_ALIAS]
    with django_db_blocker.unblock():
        _login(owner["USER"], owner.get("PASSWORD", ""))


@pytest.fixture(autouse=True)
def process_caches_forget():
    """Every test starts as a fresh process would (core/caches.py): no key
    verified, no failed key check counted against the test client's
    address, no contract or policy remembered."""
    forget_all()
    yield
    forget_all()


@pytest.fixture(autouse=True)
def fixed_calendar(settings):
    """The suite's records live on fixed dates (2026 to 2030) while the wall
    clock moves on: the future-time rule is off here, except in the tests of
    that rule (tests/ledger/test_hostile_input.py), which set it back."""
    settings.MAX_CLOCK_SKEW = timedelta(days=365 * 100)


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


# Ingestion without HTTP: records (dicts, as a client sends them) go through
# the real decoder (core.batch) and the real services, against real
# PostgreSQL.


def _encoded(records: list[dict]) -> bytes:
    return msgspec.json.encode({"records": records})


def _ingester(record_type, record):
    """Records of ``record_type`` decoded as the API decodes a batch, then
    ``record``-ed; returns the report."""

    def ingest(contract, records: list[dict]) -> services.IngestReport:
        batch = decode_batch(_encoded(records), record_type=record_type)
        return record(contract=contract, batch=batch)

    return ingest


@pytest.fixture
def ingest_calls(db):
    """Ingest call records; returns the report."""
    return _ingester(CallIn, ingestion.calls_record)


@pytest.fixture
def ingest_outcomes(db):
    """Ingest outcome records; returns the report."""
    return _ingester(OutcomeIn, ingestion.outcomes_record)


@pytest.fixture
def ingest_one_call(ingest_calls):
    """Ingest one call that must be accepted; returns the stored row."""

    def ingest(contract, record: dict) -> Call:
        report = ingest_calls(contract, [record])
        assert report.as_dict() == {"accepted": 1, "duplicates": 0, "rejected": []}
        return Call.objects.select_related("llm_model").get(
            contract=contract, external_id=record["external_id"]
        )

    return ingest
