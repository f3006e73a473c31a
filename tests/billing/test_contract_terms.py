"""A contract term's rule is declared once: its time zone check is the same
for the model's validator (the Django admin) and the services (the API)."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing.models import validate_timezone
from billing.services import contract_terms_check
from core.batch import FieldError


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
