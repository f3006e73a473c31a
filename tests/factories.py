"""factory_boy factories for every model the tests need, hitting the real
database. Money defaults are exact Decimals."""

from datetime import UTC, date, datetime
from decimal import Decimal

import factory

from billing.models import (
    ApiKey,
    Contract,
    FeeScheduleRow,
    Organization,
    SpendLimit,
    ValueScheduleRow,
)
from routing.models import LlmModel, ModelAlias, Price


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class LlmModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LlmModel
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"model-{n}")
    provider = "openai"
    tier = "light"


class ModelAliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelAlias

    llm_model = factory.SubFactory(LlmModelFactory)
    alias = factory.Sequence(lambda n: f"alias-{n}")


class PriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Price

    llm_model = factory.SubFactory(LlmModelFactory)
    service_tier = "standard"
    effective_from = datetime(2020, 1, 1, tzinfo=UTC)
    input = Decimal("0.15")
    output = Decimal("0.60")
    cache_read = Decimal("0.075")
    cache_write = None
    cache_write_1h = None
    per_request_usd = Decimal(0)


def sonnet_priced(name: str = "claude-sonnet-4-5", **price) -> LlmModel:
    """A model priced like Anthropic's Sonnet: input 3, output 15, cache read
    0.30, five-minute cache write 3.75, one-hour cache write 6 (``price``:
    other terms of its row, such as effective_from, or one of those)."""
    model = LlmModelFactory(name=name, provider="anthropic", tier="mid")
    terms = {
        "input": Decimal("3"),
        "output": Decimal("15"),
        "cache_read": Decimal("0.30"),
        "cache_write": Decimal("3.75"),
        "cache_write_1h": Decimal("6"),
    }
    PriceFactory(llm_model=model, **(terms | price))
    return model


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    code = factory.Sequence(lambda n: f"contract-{n}")
    vendor = factory.SubFactory(OrganizationFactory)
    customer = factory.SubFactory(OrganizationFactory)
    starts_on = date(2026, 1, 1)
    currency = "USD"
    fx_rate = Decimal(1)
    markup = Decimal(0)
    hourly_rate = Decimal("150")


class ValueScheduleRowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValueScheduleRow

    contract = factory.SubFactory(ContractFactory)
    kind = "task_completed"
    task_type = None
    unit_value = Decimal("40")


class FeeScheduleRowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeeScheduleRow

    contract = factory.SubFactory(ContractFactory)
    kind = "task_completed"
    task_type = None
    fee = Decimal("0.99")


class SpendLimitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SpendLimit

    contract = factory.SubFactory(ContractFactory)
    window = "day"
    amount = Decimal("100")


def api_key_create(*, organization: Organization, role: str) -> str:
    """A new key for ``organization`` in ``role``; returns the secret."""
    _, secret = ApiKey.objects.create_key(
        name=f"{organization.slug}-{role}", organization=organization, role=role
    )
    return secret


class CallRecordFactory(factory.DictFactory):
    """A call as a client sends it (API.md "Ingestion": call record)."""

    external_id = factory.Sequence(lambda n: f"call-{n}")
    occurred_at = "2026-11-03T09:15:00Z"
    model = "gpt-4o-mini"
    task_type = "code_review"
    task_ref = "PR-812"
    input_tokens = 1200
    output_tokens = 300


class OutcomeRecordFactory(factory.DictFactory):
    """An outcome as a client sends it (API.md "Ingestion": outcome record)."""

    external_id = factory.Sequence(lambda n: f"outcome-{n}")
    occurred_at = "2026-11-03T17:00:00Z"
    kind = "task_completed"
    task_type = "code_review"
    task_ref = "PR-812"
    quantity = "1"
