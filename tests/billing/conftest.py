"""Fixtures of the administration tests: the catalog and organizations that
API.md's example contract names."""

import copy

import pytest

from tests.factories import LlmModelFactory, ModelAliasFactory, OrganizationFactory

# API.md "Administration": POST /api/v1/contracts, verbatim.
TERMS = {
    "code": "acme-agent-2026",
    "vendor": "agentco",
    "customer": "acme",
    "currency": "USD",
    "fx_rate": "1",
    "timezone": "UTC",
    "period": "month",
    "starts_on": "2026-01-01",
    "ends_on": None,
    "markup": "0.20",
    "fixed_fee": "0",
    "hourly_rate": "150",
    "guarantee_multiple": "2",
    "payout_share": "1",
    "payout_cap": "10000000",
    "grace_days": 7,
    "min_sample": 30,
    "baseline_model": None,
    "value_schedule": [{"kind": "task_completed", "task_type": "code_review", "unit_value": "40"}],
    "fee_schedule": [{"kind": "task_completed", "task_type": None, "fee": "0.99"}],
    "spend_limits": [{"window": "week", "amount": "50000"}],
    "webhook_url": None,
    "routing_models": ["gpt-4o", "gpt-4o-mini", "claude-haiku-4-5"],
    "routing": {"window_days": 28, "min_tasks": 20, "tolerance": "0.05", "epsilon": "0.05"},
}


@pytest.fixture
def catalog(light_model):
    frontier = LlmModelFactory(name="gpt-4o", provider="openai", tier="frontier")
    ModelAliasFactory(llm_model=frontier, alias="gpt-4o-2024-08-06")
    LlmModelFactory(name="claude-haiku-4-5", provider="anthropic", tier="light")
    return frontier


@pytest.fixture
def parties(db):
    return OrganizationFactory(slug="agentco"), OrganizationFactory(slug="acme")


@pytest.fixture
def terms(catalog, parties) -> dict:
    """API.md's example terms, with everything they name in the database."""
    return copy.deepcopy(TERMS)
