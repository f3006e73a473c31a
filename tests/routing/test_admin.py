"""routing/admin/catalog.py: the catalog and price book pages of the Django admin."""

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from routing.models import LlmModel, ModelAlias, Price
from routing.services import CATALOG_LOCK_KEY
from tests.factories import CallRecordFactory, LlmModelFactory, ModelAliasFactory, PriceFactory
from tests.helpers import wait_until

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


def model_page(model: LlmModel, **fields) -> dict:
    """The POST of a model's page: its fields as stored, ``fields`` on top."""
    aliases = "\n".join(alias.alias for alias in model.aliases.all())
    return {
        "name": model.name,
        "provider": model.provider,
        "tier": model.tier,
        "aliases": aliases,
        **fields,
    }


def test_an_alias_equal_to_a_model_name_is_refused(staff):
    LlmModelFactory(name="gpt-4o")

    response = staff.post(
        "/admin/routing/llmmodel/add/",
        {"name": "gpt-4o-new", "provider": "openai", "tier": "frontier", "aliases": "gpt-4o"},
    )

    assert response.status_code == 200
    assert "already in the catalog as a model name or alias: gpt-4o" in response.content.decode()
    assert not LlmModel.objects.filter(name="gpt-4o-new").exists()


def test_a_model_is_added_with_its_aliases(staff):
    response = staff.post(
        "/admin/routing/llmmodel/add/",
        {
            "name": "gpt-4.1",
            "provider": "openai",
            "tier": "frontier",
            "aliases": "gpt-4.1-2025-04-14\r\n\r\n  openai/gpt-4.1  ",
        },
    )

    assert response.status_code == 302
    model = LlmModel.objects.get(name="gpt-4.1")
    assert list(model.aliases.values_list("alias", flat=True)) == [
        "gpt-4.1-2025-04-14",
        "openai/gpt-4.1",
    ]


def test_renaming_a_model_to_another_models_alias_is_refused_and_changes_nothing(staff):
    claude = LlmModelFactory(name="claude-sonnet-4")
    ModelAliasFactory(llm_model=claude, alias="claude-sonnet-4-20250514")
    gpt = LlmModelFactory(name="gpt-4o")
    ModelAliasFactory(llm_model=gpt, alias="gpt-4o-2024-08-06")

    response = staff.post(
        f"/admin/routing/llmmodel/{gpt.pk}/change/",
        model_page(
            gpt, name="claude-sonnet-4-20250514", aliases="gpt-4o-2024-08-06\ngpt-4o-latest"
        ),
    )

    assert response.status_code == 200
    assert (
        "already in the catalog as a model name or alias: claude-sonnet-4-20250514"
        in response.content.decode()
    )
    gpt.refresh_from_db()
    assert (gpt.name, list(gpt.aliases.values_list("alias", flat=True))) == (
        "gpt-4o",
        ["gpt-4o-2024-08-06"],
    )


def test_a_model_may_swap_its_name_with_its_own_alias(staff):
    """Its own names stay free to it: the edit is checked whole, not field by field."""
    gpt = LlmModelFactory(name="gpt-4o")
    ModelAliasFactory(llm_model=gpt, alias="gpt-4o-2024-08-06")

    response = staff.post(
        f"/admin/routing/llmmodel/{gpt.pk}/change/",
        model_page(gpt, name="gpt-4o-2024-08-06", aliases="gpt-4o"),
    )

    assert response.status_code == 302
    gpt.refresh_from_db()
    assert (gpt.name, list(gpt.aliases.values_list("alias", flat=True))) == (
        "gpt-4o-2024-08-06",
        ["gpt-4o"],
    )


def test_an_alias_listed_twice_is_refused(staff):
    gpt = LlmModelFactory(name="gpt-4o")

    response = staff.post(
        f"/admin/routing/llmmodel/{gpt.pk}/change/",
        model_page(gpt, aliases="gpt-4o-latest\ngpt-4o-latest"),
    )

    assert "an alias is listed twice" in response.content.decode()
    assert not ModelAlias.objects.exists()


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


def test_a_back_dated_price_the_api_refuses_is_refused_in_the_admin(
    staff, vendor_client, admin_client, light_model
):
    """DESIGN.md "Cost drift, repricing": a call of November 2026 was costed
    with the 2020 row; a row from January 2026 would fall over it."""
    ingested = vendor_client.post(
        "/api/v1/contracts/acme-agent/calls", {"records": [CallRecordFactory()]}, format="json"
    )
    assert ingested.json()["accepted"] == 1

    api = admin_client.post(
        "/api/v1/models/gpt-4o-mini/prices",
        {"effective_from": "2026-01-01T00:00:00Z", "input": "0.30", "output": "1.20"},
        format="json",
    )
    page = staff.post(
        "/admin/routing/price/add/",
        {
            "llm_model": light_model.pk,
            "service_tier": "standard",
            "effective_from_0": "2026-01-01",
            "effective_from_1": "00:00:00",
            "input": "0.30",
            "output": "1.20",
            "per_request_usd": "0",
        },
    )

    refusal = api.json()["error"]
    assert (api.status_code, refusal["code"]) == (409, "backdated_price")
    assert page.status_code == 200
    assert refusal["message"] in page.content.decode()
    assert light_model.prices.count() == 1


def edit_aliases(model: LlmModel) -> tuple[str, dict]:
    return f"/admin/routing/llmmodel/{model.pk}/change/", model_page(model, aliases="latest")


def delete_model(model: LlmModel) -> tuple[str, dict]:
    return f"/admin/routing/llmmodel/{model.pk}/delete/", {"post": "yes"}


def add_price(model: LlmModel) -> tuple[str, dict]:
    row = {"input": "1", "output": "2", "per_request_usd": "0", "service_tier": "standard"}
    return "/admin/routing/price/add/", {
        "llm_model": model.pk,
        "effective_from_0": "2026-01-01",
        "effective_from_1": "00:00:00",
        **row,
    }


def catalog() -> tuple:
    return (
        list(LlmModel.objects.values_list("name", flat=True)),
        list(ModelAlias.objects.values_list("alias", flat=True)),
        Price.objects.count(),
    )


def someone_waits_for_the_catalog_lock() -> bool:
    # A one-number advisory key below 2**32 shows as objid, objsubid 1.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND objid = %s AND objsubid = 1",
            [CATALOG_LOCK_KEY],
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("page", [edit_aliases, delete_model, add_price])
def test_an_admin_write_to_the_catalog_waits_for_the_catalog_lock(page):
    """The admin writes through the services, which serialize every writer
    of the catalog and the price book (docs/PRICES.md)."""
    browser = Client()
    browser.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    url, form = page(LlmModelFactory(name="gpt-4o"))
    before = catalog()
    responses = []

    def post():
        try:
            responses.append(browser.post(url, form).status_code)
        finally:
            connection.close()

    writer = threading.Thread(target=post)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [CATALOG_LOCK_KEY])
        try:
            writer.start()
            wait_until(someone_waits_for_the_catalog_lock, within_s=10)
            waiting = catalog()
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [CATALOG_LOCK_KEY])
    writer.join()

    assert waiting == before
    assert responses == [302]
    assert catalog() != before
