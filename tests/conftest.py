"""Shared fixtures. Tests run against real PostgreSQL: DATABASE_URL when set,
else the embedded server (config/embedded_db.py)."""

from datetime import timedelta

import pytest
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
