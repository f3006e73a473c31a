"""routing/api/catalog.py: the catalog and price book over HTTP (API.md "Catalog",
"Administration")."""

from datetime import UTC, datetime
from decimal import Decimal

from routing.models import Price
from tests.factories import LlmModelFactory, ModelAliasFactory, PriceFactory
from tests.helpers import assert_error

PRICE_BODY = {
    "effective_from": "2026-01-01T00:00:00Z",
    "service_tier": "standard",
    "input": "3",
    "output": "15",
    "cache_read": "0.30",
    "cache_write": "3.75",
    "cache_write_1h": "6",
    "per_request": "0",
    "long_context_threshold": 200000,
    "long_context": {"input": "6", "output": "22.50", "cache_read": "0.60", "cache_write": "7.50"},
}


def test_every_role_lists_the_catalog_with_aliases(customer_client):
    ModelAliasFactory(
        llm_model=LlmModelFactory(name="claude-sonnet-4", provider="anthropic", tier="frontier"),
        alias="claude-sonnet-4-20250514",
    )
    response = customer_client.get("/api/v1/models")
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "name": "claude-sonnet-4",
                "provider": "anthropic",
                "tier": "frontier",
                "aliases": ["claude-sonnet-4-20250514"],
            },
            {"name": "gpt-4o-mini", "provider": "openai", "tier": "light", "aliases": []},
        ],
        "next": None,
    }


def test_the_catalog_pages_by_name_with_a_cursor(vendor_client):
    LlmModelFactory(name="a-model")
    first = vendor_client.get("/api/v1/models?limit=1").json()
    second = vendor_client.get(first["next"]).json()
    assert [m["name"] for m in first["results"]] == ["a-model"]
    assert [m["name"] for m in second["results"]] == ["gpt-4o-mini"]
    assert second["next"] is None


def test_admin_creates_a_model_with_aliases(admin_client):
    body = {
        "name": "gpt-4.1",
        "provider": "openai",
        "tier": "frontier",
        "aliases": ["gpt-4.1-2025-04-14"],
    }
    response = admin_client.post("/api/v1/models", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == body


def test_an_alias_taken_by_another_model_is_a_conflict(admin_client, light_model):
    body = {
        "name": "gpt-4o-mini-2",
        "provider": "openai",
        "tier": "light",
        "aliases": ["gpt-4o-mini"],
    }
    response = admin_client.post("/api/v1/models", body, format="json")
    error = assert_error(response, 409, "conflict")
    assert error["details"] == {"taken": ["gpt-4o-mini"]}


def test_a_vendor_creating_a_model_gets_404(vendor_client):
    body = {"name": "x", "provider": "openai", "tier": "light", "aliases": []}
    response = vendor_client.post("/api/v1/models", body, format="json")
    assert_error(response, 404, "not_found")


def test_a_model_with_an_unknown_tier_is_a_400_with_the_error_envelope(admin_client):
    body = {"name": "x", "provider": "openai", "tier": "huge"}
    response = admin_client.post("/api/v1/models", body, format="json")
    error = assert_error(response, 400, "invalid")
    assert error["message"] == "the request is not valid"
    assert list(error["details"]) == ["tier"]


def test_prices_are_listed_by_alias_with_strings_and_long_context(customer_client):
    model = LlmModelFactory(name="claude-sonnet-4", provider="anthropic", tier="frontier")
    ModelAliasFactory(llm_model=model, alias="claude-sonnet-4-20250514")
    PriceFactory(
        llm_model=model,
        input=Decimal(3),
        output=Decimal(15),
        cache_read=Decimal("0.3"),
        long_context_threshold=200000,
        long_context_input=Decimal(6),
        long_context_output=Decimal("22.5"),
    )
    response = customer_client.get("/api/v1/models/claude-sonnet-4-20250514/prices")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["model"] == "claude-sonnet-4"
    assert row["effective_from"] == "2020-01-01T00:00:00Z"
    assert (row["input"], row["output"], row["cache_read"], row["cache_write"]) == (
        "3.0000000000",
        "15.0000000000",
        "0.3000000000",
        None,
    )
    assert row["per_request"] == "0.0000000000"
    assert row["long_context"] == {
        "input": "6.0000000000",
        "output": "22.5000000000",
        "cache_read": None,
        "cache_write": None,
        "cache_write_1h": None,
    }


def test_a_price_without_long_context_shows_it_as_null(customer_client, light_model):
    [row] = customer_client.get("/api/v1/models/gpt-4o-mini/prices").json()["results"]
    assert row["long_context_threshold"] is None
    assert row["long_context"] is None


def test_prices_of_an_unknown_model_are_404(customer_client):
    response = customer_client.get("/api/v1/models/gpt-9/prices")
    error = assert_error(response, 404, "not_found")
    assert error["message"] == "no model or alias 'gpt-9' in the catalog"


def test_admin_adds_a_price_row_in_usd_per_million(admin_client, light_model):
    response = admin_client.post("/api/v1/models/gpt-4o-mini/prices", PRICE_BODY, format="json")
    assert response.status_code == 201, response.content
    stored = Price.objects.get(
        llm_model=light_model, effective_from=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert (stored.input, stored.output, stored.cache_write_1h) == (
        Decimal("3.0000000000"),
        Decimal("15.0000000000"),
        Decimal("6.0000000000"),
    )
    assert (stored.long_context_threshold, stored.long_context_output) == (
        200000,
        Decimal("22.5000000000"),
    )
    assert stored.long_context_cache_write == Decimal("7.5000000000")
    assert stored.source.startswith("api:operator/admin/")
    assert response.json()["long_context"]["cache_write"] == "7.5000000000"


def test_a_second_price_at_the_same_instant_is_a_conflict(admin_client, light_model):
    body = {**PRICE_BODY, "effective_from": "2020-01-01T00:00:00Z"}
    response = admin_client.post("/api/v1/models/gpt-4o-mini/prices", body, format="json")
    assert_error(response, 409, "conflict")
    assert Price.objects.get(llm_model=light_model).input == Decimal("0.1500000000")


def test_a_vendor_adding_a_price_gets_404_and_nothing_is_stored(vendor_client, light_model):
    response = vendor_client.post("/api/v1/models/gpt-4o-mini/prices", PRICE_BODY, format="json")
    assert_error(response, 404, "not_found")
    assert Price.objects.filter(llm_model=light_model).count() == 1


def test_a_negative_price_is_a_400_naming_the_field(admin_client, light_model):
    body = {**PRICE_BODY, "cache_read": "-0.1"}
    response = admin_client.post("/api/v1/models/gpt-4o-mini/prices", body, format="json")
    assert assert_error(response, 400, "invalid")["details"] == [
        {
            "field": "cache_read",
            "code": "out_of_range",
            "message": "cache_read must not be negative",
        }
    ]


def test_a_time_without_an_offset_is_a_400(admin_client, light_model):
    body = {**PRICE_BODY, "effective_from": "2026-01-01T00:00:00"}
    response = admin_client.post("/api/v1/models/gpt-4o-mini/prices", body, format="json")
    assert list(assert_error(response, 400, "invalid")["details"]) == ["effective_from"]


def test_a_threshold_without_long_context_prices_is_a_400(admin_client, light_model):
    body = {**PRICE_BODY, "long_context": None}
    response = admin_client.post("/api/v1/models/gpt-4o-mini/prices", body, format="json")
    assert assert_error(response, 400, "invalid")["details"][0]["field"] == "long_context"


def test_the_schema_documents_the_catalog_operations(admin_client):
    schema = admin_client.get("/api/schema/?format=json").json()
    operations = {
        op["operationId"]
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/models")
        for op in item.values()
    }
    assert operations == {
        "models_list",
        "models_create",
        "model_prices_list",
        "model_prices_create",
    }


def test_a_price_with_only_the_required_fields_takes_the_defaults(admin_client, light_model):
    body = {"effective_from": "2026-01-01T00:00:00+05:30", "input": "0.10", "output": "0.40"}
    response = admin_client.post("/api/v1/models/gpt-4o-mini/prices", body, format="json")
    assert response.status_code == 201, response.content
    row = response.json()
    assert (row["service_tier"], row["per_request"], row["cache_read"]) == (
        "standard",
        "0.0000000000",
        None,
    )
    assert row["effective_from"] == "2025-12-31T18:30:00Z"
