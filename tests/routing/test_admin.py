"""routing/admin/catalog.py: the catalog and price book pages of the Django admin."""

import pytest
from django.contrib.auth.models import User

from routing.models import ModelAlias, Price
from tests.factories import LlmModelFactory, PriceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_the_model_list_searches_by_alias(staff):
    model = LlmModelFactory(name="claude-sonnet-4")
    ModelAlias.objects.create(llm_model=model, alias="claude-sonnet-4-20250514")
    LlmModelFactory(name="gpt-4o")
    page = staff.get("/admin/routing/llmmodel/?q=20250514").content.decode()
    assert "claude-sonnet-4-20250514" in page
    assert "gpt-4o" not in page


def test_an_alias_equal_to_a_model_name_is_refused(staff):
    LlmModelFactory(name="gpt-4o")
    response = staff.post(
        "/admin/routing/llmmodel/add/",
        {
            "name": "gpt-4o-new",
            "provider": "openai",
            "tier": "frontier",
            "aliases-TOTAL_FORMS": "1",
            "aliases-INITIAL_FORMS": "0",
            "aliases-0-alias": "gpt-4o",
        },
    )
    assert response.status_code == 200
    assert "is a model&#x27;s name" in response.content.decode()
    assert not ModelAlias.objects.filter(alias="gpt-4o").exists()


def test_a_stored_price_row_is_shown_read_only(staff):
    price = PriceFactory()
    page = staff.get(f"/admin/routing/price/{price.pk}/change/").content.decode()
    assert 'name="input"' not in page
    assert staff.post(f"/admin/routing/price/{price.pk}/delete/").status_code == 403


def test_a_negative_cache_price_is_refused_when_adding_a_row(staff):
    model = LlmModelFactory()
    response = staff.post(
        "/admin/routing/price/add/",
        {
            "llm_model": model.pk,
            "service_tier": "standard",
            "effective_from_0": "2025-01-01",
            "effective_from_1": "00:00:00",
            "input": "1",
            "output": "2",
            "cache_read": "-1",
            "per_request_usd": "0",
        },
    )
    assert "cache_read must not be negative" in response.content.decode()
    assert not Price.objects.filter(llm_model=model).exists()


def test_a_posted_change_to_a_stored_price_row_is_refused_and_a_new_row_is_added(staff):
    """As the application's role (which may not UPDATE price rows): a change
    is refused by the admin, a new row goes in (docs/DATABASE.md)."""
    price = PriceFactory(input="1.0000000000")
    row = {
        "llm_model": price.llm_model.pk,
        "service_tier": "standard",
        "effective_from_0": "2026-01-01",
        "effective_from_1": "00:00:00",
        "input": "9",
        "output": "2",
        "per_request_usd": "0",
    }

    changed = staff.post(f"/admin/routing/price/{price.pk}/change/", row)
    added = staff.post("/admin/routing/price/add/", row)

    assert changed.status_code == 403
    assert added.status_code == 302
    assert [
        (str(p.input), p.source)
        for p in Price.objects.filter(llm_model=price.llm_model).order_by("effective_from")
    ] == [("1.0000000000", price.source), ("9.0000000000", "admin:root")]
