"""POST /api/v1/models/{name}/prices with values a column or a calendar
cannot hold: a specific 400 in the error envelope, nothing stored."""

import pytest

from routing.models import Price
from tests.helpers import assert_error
from tests.routing.test_api import PRICE_BODY

PRICES = "/api/v1/models/gpt-4o-mini/prices"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"effective_from": "2026-01-01T12:99:00Z"}, "effective_from"),
        ({"effective_from": "2026-02-30T00:00:00Z"}, "effective_from"),
        ({"long_context_threshold": 2**63}, "long_context_threshold"),
    ],
)
def test_a_price_with_an_impossible_time_or_threshold_is_a_400_naming_the_field(
    admin_client, light_model, change, field
):
    before = Price.objects.count()
    response = admin_client.post(PRICES, {**PRICE_BODY, **change}, format="json")
    error = assert_error(response, 400, "invalid")
    assert list(error["details"]) == [field]
    assert Price.objects.count() == before
