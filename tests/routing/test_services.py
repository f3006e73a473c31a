"""routing/services.py: the catalog and price book writes (DESIGN.md "Price book")."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from core.errors import Conflict, InvalidInput
from core.money import exact_context
from routing.importers import bundled_rows, csv_rows
from routing.models import LlmModel, Price
from routing.pricing import call_cost_usd
from routing.selectors import price_book_load
from routing.services import (
    LongContextIn,
    ModelIn,
    PriceIn,
    PriceRowIn,
    model_create,
    price_create,
    prices_import,
)
from tests.factories import LlmModelFactory, ModelAliasFactory, PriceFactory

JAN = datetime(2025, 1, 1, tzinfo=UTC)
JUN = datetime(2025, 6, 1, tzinfo=UTC)
MINI = ModelIn("gpt-4o-mini", "openai", "light", ("gpt-4o-mini-2024-07-18",))


def _row(effective_from=JAN, **prices) -> PriceRowIn:
    values = {"input": Decimal("0.15"), "output": Decimal("0.60"), **prices}
    return PriceRowIn("test", MINI, PriceIn(effective_from=effective_from, **values))


def _stored(model_name: str) -> list[tuple]:
    return list(
        Price.objects.filter(llm_model__name=model_name)
        .order_by("service_tier", "effective_from")
        .values_list("service_tier", "effective_from", "input", "output")
    )


@pytest.mark.django_db
class TestModelCreate:
    def test_a_model_is_created_with_its_aliases(self):
        model = model_create(
            name="gpt-4.1", provider="openai", tier="frontier", aliases=["gpt-4.1-2025-04-14"]
        )
        assert list(model.aliases.values_list("alias", flat=True)) == ["gpt-4.1-2025-04-14"]

    def test_an_alias_equal_to_another_models_name_is_a_conflict(self):
        LlmModelFactory(name="gpt-4o")
        with pytest.raises(Conflict, match="gpt-4o"):
            model_create(name="gpt-4o-new", provider="openai", tier="frontier", aliases=["gpt-4o"])
        assert not LlmModel.objects.filter(name="gpt-4o-new").exists()

    def test_a_name_equal_to_another_models_alias_is_a_conflict(self):
        ModelAliasFactory(alias="gpt-4o-2024-08-06")
        with pytest.raises(Conflict) as raised:
            model_create(name="gpt-4o-2024-08-06", provider="openai", tier="frontier")
        assert raised.value.details == {"taken": ["gpt-4o-2024-08-06"]}

    def test_an_alias_equal_to_its_own_name_and_an_unknown_tier_are_invalid(self):
        with pytest.raises(InvalidInput) as raised:
            model_create(name="m", provider="openai", tier="huge", aliases=["m"])
        assert [d["field"] for d in raised.value.details] == ["tier", "aliases"]


@pytest.mark.django_db
class TestPriceCreate:
    def test_a_price_row_is_stored_with_its_long_context_prices(self):
        price = price_create(
            model=LlmModelFactory(name="claude-sonnet-4"),
            effective_from=JAN,
            input=Decimal(3),
            output=Decimal(15),
            cache_write_1h=Decimal(6),
            long_context_threshold=200_000,
            long_context=LongContextIn(input=Decimal(6), output=Decimal("22.5")),
        )
        price.refresh_from_db()
        assert (price.cache_write_1h, price.long_context_output) == (
            Decimal("6.0000000000"),
            Decimal("22.5000000000"),
        )

    def test_a_row_at_the_same_model_tier_and_instant_is_a_conflict(self):
        existing = PriceFactory(effective_from=JAN)
        with pytest.raises(Conflict):
            price_create(
                model=existing.llm_model, effective_from=JAN, input=Decimal(1), output=Decimal(1)
            )
        existing.refresh_from_db()
        assert existing.input == Decimal("0.1500000000")

    def test_a_naive_time_a_negative_price_and_a_lone_threshold_are_all_reported(self):
        with pytest.raises(InvalidInput) as raised:
            price_create(
                model=LlmModelFactory(),
                effective_from=datetime(2025, 1, 1),
                input=Decimal("-1"),
                output=Decimal(1),
                long_context_threshold=200_000,
            )
        assert [(d["field"], d["code"]) for d in raised.value.details] == [
            ("effective_from", "naive_datetime"),
            ("input", "out_of_range"),
            ("long_context", "required"),
        ]

    def test_a_price_finer_than_ten_places_is_invalid(self):
        with pytest.raises(InvalidInput, match="the price is not valid"):
            price_create(
                model=LlmModelFactory(),
                effective_from=JAN,
                input=Decimal("0.00000000001"),
                output=Decimal(1),
            )


@pytest.mark.django_db
class TestPricesImport:
    def test_importing_twice_reports_everything_unchanged_the_second_time(self):
        first = prices_import(rows=bundled_rows().rows, source="test")
        count = Price.objects.count()
        second = prices_import(rows=bundled_rows().rows, source="test")
        assert (len(second.added), len(second.unchanged), second.rejected) == (0, count, [])
        assert (len(first.added), Price.objects.count()) == (count, count)
        assert second.models_created == []

    def test_a_changed_row_is_rejected_and_the_stored_row_is_unchanged(self):
        prices_import(rows=[_row()], source="test")
        report = prices_import(rows=[_row(input=Decimal("0.20"))], source="test")
        assert report.added == report.unchanged == []
        [rejected] = report.rejected
        assert rejected.reasons == [
            "differs from the stored row at the same (model, service_tier, effective_from): "
            "input 0.20 (stored 0.1500000000)"
        ]
        assert _stored("gpt-4o-mini") == [
            ("standard", JAN, Decimal("0.1500000000"), Decimal("0.6000000000"))
        ]

    def test_the_same_prices_at_a_later_instant_change_nothing_and_add_no_row(self):
        prices_import(rows=[_row()], source="test")
        report = prices_import(rows=[_row(effective_from=JUN)], source="test")
        assert (len(report.unchanged), report.added) == (1, [])
        assert len(_stored("gpt-4o-mini")) == 1

    def test_new_prices_at_a_later_instant_are_a_new_row(self):
        prices_import(rows=[_row()], source="test")
        report = prices_import(rows=[_row(effective_from=JUN, input=Decimal("0.10"))], source="t")
        assert len(report.added) == 1
        assert _stored("gpt-4o-mini") == [
            ("standard", JAN, Decimal("0.1500000000"), Decimal("0.6000000000")),
            ("standard", JUN, Decimal("0.1000000000"), Decimal("0.6000000000")),
        ]

    def test_two_rows_of_one_file_at_the_same_instant_with_other_prices_keep_the_first(self):
        report = prices_import(rows=[_row(), _row(output=Decimal(1))], source="test")
        assert (len(report.added), len(report.rejected)) == (1, 1)
        assert _stored("gpt-4o-mini")[0][3] == Decimal("0.6000000000")

    def test_a_row_naming_a_model_by_alias_prices_that_model(self):
        ModelAliasFactory(llm_model=LlmModelFactory(name="gpt-4o"), alias="gpt-4o-2024-08-06")
        row = PriceRowIn(
            "x",
            ModelIn("gpt-4o-2024-08-06", "openai", "frontier"),
            PriceIn(effective_from=JAN, input=Decimal("2.5"), output=Decimal(10)),
        )
        report = prices_import(rows=[row], source="test")
        assert (len(report.added), report.models_created) == (1, [])
        assert _stored("gpt-4o") == [
            ("standard", JAN, Decimal("2.5000000000"), Decimal("10.0000000000"))
        ]

    def test_a_row_whose_new_model_cannot_be_created_is_rejected_with_the_reason(self):
        LlmModelFactory(name="gpt-4o-mini-2024-07-18")
        report = prices_import(rows=[_row()], source="test")
        [rejected] = report.rejected
        assert rejected.reasons == [
            "already in the catalog as a model name or alias: gpt-4o-mini-2024-07-18"
        ]
        assert not LlmModel.objects.filter(name="gpt-4o-mini").exists()

    def test_a_row_the_importer_could_not_read_is_rejected_with_its_reasons(self):
        report = prices_import(
            rows=[PriceRowIn("line 3", MINI, None, ("input: 'x' is not a number",))],
            source="test",
        )
        assert [(r.row.origin, r.reasons) for r in report.rejected] == [
            ("line 3", ["input: 'x' is not a number"])
        ]

    def test_the_bundled_snapshot_imports_20_models_of_5_providers_without_rejection(self):
        report = prices_import(rows=bundled_rows().rows, source="test")
        models = LlmModel.objects.filter(name__in=report.models_created)
        assert report.rejected == []
        assert models.count() >= 20
        assert models.values("provider").distinct().count() >= 5
        assert Price.objects.filter(effective_from=JAN).count() == len(report.added)

    def test_the_bundled_snapshot_costs_a_long_context_call_at_the_long_context_rate(self):
        prices_import(rows=bundled_rows().rows, source="test")
        book = price_book_load(names=["claude-sonnet-4-20250514"])
        model = book.resolve("claude-sonnet-4-20250514")
        price = book.price_at(model.id, "standard", datetime(2025, 7, 1, tzinfo=UTC))
        with exact_context():
            cost = call_cost_usd(
                price,
                input_tokens=250_000,
                output_tokens=1_000,
                cache_read_tokens=100_000,
                cache_write_tokens=10_000,
                cache_write_1h_tokens=4_000,
            )
        # (140k * 6 + 100k * 0.60 + 6k * 7.50 + 4k * 12 + 1k * 22.50) / 1M: all long-context.
        assert cost == Decimal("1.0155000000")

    def test_a_csv_import_creates_its_models_with_their_aliases(self):
        text = (
            "model,provider,tier,aliases,effective_from,input,output\n"
            "mistral-large,mistral,frontier,mistral-large-latest|mistral-large-2411,"
            "2025-01-01T00:00:00Z,2,6\n"
        )
        report = prices_import(rows=csv_rows(text).rows, source="test")
        model = LlmModel.objects.get(name="mistral-large")
        assert report.models_created == ["mistral-large"]
        assert sorted(model.aliases.values_list("alias", flat=True)) == [
            "mistral-large-2411",
            "mistral-large-latest",
        ]
        assert _stored("mistral-large") == [
            ("standard", JAN, Decimal("2.0000000000"), Decimal("6.0000000000"))
        ]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_imports_of_one_file_store_each_row_once():
    reports = []

    def run():
        try:
            reports.append(prices_import(rows=bundled_rows().rows, source="test"))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = len(bundled_rows().rows)
    assert sorted((len(r.added), len(r.unchanged), len(r.rejected)) for r in reports) == [
        (0, rows, 0),
        (rows, 0, 0),
    ]
    assert Price.objects.count() == rows
