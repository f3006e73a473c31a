"""A contract term's rule is declared once: its default is the model
field's, whichever way the contract is created, and its time zone check is
the same for the model's validator (the Django admin) and the services (the
API)."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing.models import Contract, validate_timezone
from billing.services import contract_create, contract_terms_check, routing_terms_resolve
from core.batch import FieldError

# Every term whose field declares a default; the webhook secret's is a new
# secret each time.
DEFAULTED = [
    field.name
    for field in Contract._meta.concrete_fields
    if field.has_default() and field.name != "webhook_secret"
]


def model_defaults() -> dict:
    return {name: Contract._meta.get_field(name).default for name in DEFAULTED}


def terms_of(contract: Contract) -> dict:
    return {name: getattr(contract, name) for name in DEFAULTED}


def test_a_contract_posted_without_terms_has_the_model_defaults(admin_client, parties):
    body = {"code": "minimal", "vendor": "agentco", "customer": "acme", "starts_on": "2026-01-01"}

    response = admin_client.post("/api/v1/contracts", body, format="json")

    assert response.status_code == 201, response.content
    assert terms_of(Contract.objects.get(code="minimal")) == model_defaults()


def test_a_contract_created_without_terms_has_the_model_defaults(parties):
    contract = contract_create(
        code="minimal", vendor="agentco", customer="acme", starts_on=date(2026, 1, 1)
    )

    assert terms_of(Contract.objects.get(pk=contract.pk)) == model_defaults()


def test_omitted_routing_terms_resolve_to_the_model_defaults():
    assert routing_terms_resolve({}) == {
        name.removeprefix("routing_"): default
        for name, default in model_defaults().items()
        if name.startswith("routing_")
    }


def terms_problems(*, timezone: str) -> list[FieldError]:
    return contract_terms_check(
        vendor_id=None,
        customer_id=None,
        currency="USD",
        fx_rate=Decimal(1),
        timezone=timezone,
        starts_on=date(2026, 1, 1),
        ends_on=None,
        amounts={},
        payout_share=Decimal(1),
        baseline_model=None,
    )


def test_an_unknown_zone_is_refused_with_one_message_by_the_model_and_the_services():
    with pytest.raises(ValidationError) as refused:
        validate_timezone("Mars/Olympus")

    assert refused.value.messages == ["'Mars/Olympus' is not an IANA time zone"]
    assert terms_problems(timezone="Mars/Olympus") == [
        FieldError("timezone", "unknown_timezone", "'Mars/Olympus' is not an IANA time zone")
    ]


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_an_iana_zone_is_accepted_by_the_model_and_the_services(zone):
    validate_timezone(zone)
    assert terms_problems(timezone=zone) == []
