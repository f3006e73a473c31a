"""Shared fixtures. Tests run against real PostgreSQL: DATABASE_URL when set,
else the embedded server (config/embedded_db.py).

The test database is created and migrated as the owner role, and the tests
run as the application's role, which owns nothing (core/db_roles.py,
docs/DATABASE.md): DATABASE_URL's role when it differs from the owner's
(MIGRATION_DATABASE_URL), else the role ``ledger_app``, made by the
migration step."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connections
from rest_framework.test import APIClient

from billing.auth import AuthFailures
from core.db_roles import OWNER_ALIAS
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
def auth_failures_forget():
    """Every test starts with no failed key checks counted against the test
    client's address (billing/auth.py AuthFailures)."""
    AuthFailures.forget()
    yield
    AuthFailures.forget()


@pytest.fixture(autouse=True)
def fixed_calendar(settings):
    """The suite's records live on fixed dates (2026 to 2030) while the wall
    clock moves on: the future-time rule is off here, except in the tests of
    that rule (tests/ledger/test_hostile_input.py), which set it back."""
    settings.MAX_CLOCK_SKEW = timedelta(days=365 * 100)


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
