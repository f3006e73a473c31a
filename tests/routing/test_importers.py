"""routing/importers.py: LiteLLM's JSON and the CSV, read into price rows
exactly (DESIGN.md "Price book": Importers)."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidInput
from routing.importers import (
    CSV_COLUMNS,
    Tiers,
    csv_rows,
    litellm_rows,
    per_million,
    tiers_read,
)
from routing.services import LongContextIn

FROM = datetime(2025, 1, 1, tzinfo=UTC)


def _rows(entries: dict) -> dict:
    parsed = litellm_rows(json.dumps(entries), effective_from=FROM)
    return {row.price.service_tier: row for row in parsed.rows}


def test_a_per_token_price_becomes_the_exact_per_million_price():
    [row] = litellm_rows(
        '{"m": {"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07,'
        ' "cache_read_input_token_cost": 7.5e-08, "litellm_provider": "openai", "mode": "chat"}}',
        effective_from=FROM,
    ).rows
    assert (row.price.input, row.price.output, row.price.cache_read) == (
        Decimal("0.15"),
        Decimal("0.60"),
        Decimal("0.075"),
    )
    assert row.price.effective_from == FROM
    assert (row.model.name, row.model.provider, row.model.tier) == ("m", "openai", "unknown")


def test_a_binary_float_artifact_is_rounded_to_the_price_books_ten_places():
    assert per_million(Decimal("3.0000000000000004e-07")) == Decimal("0.3000000000")


def test_an_integer_per_token_price_is_read_as_a_decimal():
    assert per_million(0) == Decimal(0)


def test_a_whole_per_million_price_is_written_plainly():
    assert str(per_million(Decimal("1e-05"))) == "10"


@given(
    st.decimals(min_value=0, max_value=100_000, places=10, allow_nan=False, allow_infinity=False)
)
def test_per_token_text_round_trips_to_the_same_per_million_price(price):
    # The per-token figure as JSON number text, in exponent form like LiteLLM's.
    text = f"{price.scaleb(-6):E}"
    per_token = json.loads('{"p": ' + text + "}", parse_float=Decimal)["p"]
    assert per_million(per_token) == price


def test_above_200k_prices_become_the_long_context_set_with_threshold_200000():
    rows = _rows(
        {
            "claude": {
                "input_cost_per_token": 3e-06,
                "output_cost_per_token": 1.5e-05,
                "cache_read_input_token_cost": 3e-07,
                "cache_creation_input_token_cost": 3.75e-06,
                "input_cost_per_token_above_200k_tokens": 6e-06,
                "output_cost_per_token_above_200k_tokens": 2.25e-05,
                "cache_read_input_token_cost_above_200k_tokens": 6e-07,
                "cache_creation_input_token_cost_above_200k_tokens": 7.5e-06,
                "litellm_provider": "anthropic",
                "mode": "chat",
            }
        }
    )
    price = rows["standard"].price
    assert price.long_context_threshold == 200000
    assert price.long_context == LongContextIn(
        input=Decimal("6"),
        output=Decimal("22.5"),
        cache_read=Decimal("0.6"),
        cache_write=Decimal("7.5"),
    )


def test_another_above_nk_threshold_is_kept_as_its_token_count():
    rows = _rows(
        {
            "gemini-1.5": {
                "input_cost_per_token": 1.25e-06,
                "output_cost_per_token": 5e-06,
                "input_cost_per_token_above_128k_tokens": 2.5e-06,
                "output_cost_per_token_above_128k_tokens": 1e-05,
                "litellm_provider": "gemini",
                "mode": "chat",
            }
        }
    )
    assert rows["standard"].price.long_context_threshold == 128000
    assert rows["standard"].price.long_context.output == Decimal("10")


def test_the_one_hour_cache_write_price_is_read():
    rows = _rows(
        {
            "claude": {
                "input_cost_per_token": 3e-06,
                "output_cost_per_token": 1.5e-05,
                "cache_creation_input_token_cost": 3.75e-06,
                "cache_creation_input_token_cost_above_1hr": 6e-06,
                "litellm_provider": "anthropic",
                "mode": "chat",
            }
        }
    )
    assert rows["standard"].price.cache_write == Decimal("3.75")
    assert rows["standard"].price.cache_write_1h == Decimal("6")


def test_batch_flex_and_priority_prices_become_rows_of_their_service_tier():
    rows = _rows(
        {
            "o3": {
                "input_cost_per_token": 2e-06,
                "output_cost_per_token": 8e-06,
                "input_cost_per_token_batches": 1e-06,
                "output_cost_per_token_batches": 4e-06,
                "input_cost_per_token_flex": 1e-06,
                "output_cost_per_token_flex": 4e-06,
                "cache_read_input_token_cost_flex": 2.5e-07,
                "input_cost_per_token_priority": 3.5e-06,
                "output_cost_per_token_priority": 1.4e-05,
                "litellm_provider": "openai",
                "mode": "responses",
            }
        }
    )
    assert sorted(rows) == ["batch", "flex", "priority", "standard"]
    assert (rows["batch"].price.input, rows["batch"].price.output) == (Decimal(1), Decimal(4))
    assert rows["flex"].price.cache_read == Decimal("0.25")
    assert rows["priority"].price.output == Decimal("14")


def test_a_tier_with_input_but_no_output_price_is_a_row_with_an_error():
    standard, batch = litellm_rows(
        '{"m": {"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06,'
        ' "input_cost_per_token_batches": 1e-06, "litellm_provider": "openai", "mode": "chat"}}',
        effective_from=FROM,
    ).rows
    assert (standard.errors, standard.price.input) == ((), Decimal(2))
    assert (batch.errors, batch.price) == (("no output price for the batch tier",), None)


def test_non_chat_entries_and_the_sample_spec_are_skipped():
    parsed = litellm_rows(
        json.dumps(
            {
                "sample_spec": {"mode": "chat", "input_cost_per_token": 0},
                "text-embedding-3-small": {
                    "input_cost_per_token": 2e-08,
                    "litellm_provider": "openai",
                    "mode": "embedding",
                },
                "no-mode": {"input_cost_per_token": 2e-08, "litellm_provider": "openai"},
            }
        ),
        effective_from=FROM,
    )
    assert parsed.rows == []
    assert parsed.skipped == ["sample_spec", "text-embedding-3-small", "no-mode"]


def test_the_tier_and_aliases_keys_of_an_entry_override_the_derived_tier():
    [row] = litellm_rows(
        '{"gpt-4.1": {"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06,'
        ' "litellm_provider": "openai", "mode": "chat", "tier": "frontier",'
        ' "aliases": ["gpt-4.1-2025-04-14"]}}',
        effective_from=FROM,
    ).rows
    assert (row.model.tier, row.model.aliases) == ("frontier", ("gpt-4.1-2025-04-14",))


ENTRY = (
    '"input_cost_per_token": 1e-05, "output_cost_per_token": 3e-05,'
    ' "litellm_provider": "openai", "mode": "chat"'
)


def test_a_model_without_a_stated_tier_is_left_unknown_whatever_its_price():
    """No tier is guessed from a price (docs/PRICES.md "Tiers"): 10 USD per
    million input tokens used to make a model frontier."""
    [row] = litellm_rows('{"pricey": {' + ENTRY + "}}", effective_from=FROM).rows

    assert row.model.tier == "unknown"


def test_the_operators_mapping_beats_the_files_tier_which_beats_the_default():
    text = '{"a": {' + ENTRY + '}, "b": {' + ENTRY + ', "tier": "mid"}, "c": {' + ENTRY + "}}"
    tiers = Tiers(names={"a": "frontier", "b": "light"}, default="mid")

    rows = litellm_rows(text, effective_from=FROM, tiers=tiers).rows
    no_default = litellm_rows(text, effective_from=FROM, tiers=Tiers(names={})).rows

    assert [(r.model.name, r.model.tier) for r in rows] == [
        ("a", "frontier"),
        ("b", "light"),
        ("c", "mid"),
    ]
    assert [r.model.tier for r in no_default] == ["unknown", "mid", "unknown"]


def test_a_tier_mapping_is_read_from_json_or_csv_and_refuses_an_unknown_tier():
    assert tiers_read('{"a": "frontier"}') == {"a": "frontier"}
    assert tiers_read("model,tier\na,light\n") == {"a": "light"}
    with pytest.raises(InvalidInput, match="no valid tier"):
        tiers_read('{"a": "huge"}')


def test_a_file_that_is_not_json_is_invalid_input():
    with pytest.raises(InvalidInput, match="not JSON"):
        litellm_rows("{", effective_from=FROM)


CSV = "\n".join(
    [
        ",".join(CSV_COLUMNS[:-1]),
        "claude-sonnet-4,anthropic,frontier,claude-sonnet-4-20250514|claude-sonnet-4-0,"
        "2025-05-22T00:00:00Z,,3,15,0.30,3.75,6,0.001,200000,6,22.50,0.60,7.50",
        "cheap,acme,,,2025-05-22T00:00:00+02:00,batch,0.10,0.40,,,,,,,,,",
    ]
)


def test_a_csv_line_becomes_a_row_with_aliases_and_long_context():
    first, second = csv_rows(CSV).rows
    assert first.origin == "line 2"
    assert first.model.aliases == ("claude-sonnet-4-20250514", "claude-sonnet-4-0")
    assert first.price.service_tier == "standard"
    assert first.price.per_request_usd == Decimal("0.001")
    assert first.price.cache_write_1h == Decimal("6")
    assert first.price.long_context == LongContextIn(
        input=Decimal("6"),
        output=Decimal("22.50"),
        cache_read=Decimal("0.60"),
        cache_write=Decimal("7.50"),
    )
    assert (second.model.tier, second.price.service_tier) == ("unknown", "batch")
    assert second.price.long_context is None
    assert second.price.effective_from == datetime(2025, 5, 21, 22, tzinfo=UTC)


def test_a_csv_line_with_bad_cells_carries_every_reason():
    [row] = csv_rows("model,effective_from,input,output\nm,2025-01-01T00:00:00,x,\n").rows
    assert row.price is None
    assert row.errors == (
        "output is required",
        "input: 'x' is not a number",
        "effective_from: '2025-01-01T00:00:00' needs an offset (Z or +hh:mm)",
    )


def test_a_csv_without_the_required_columns_is_invalid_input():
    with pytest.raises(InvalidInput) as raised:
        csv_rows("model,price\nm,1\n")
    assert raised.value.details == {
        "missing": ["effective_from", "input", "output"],
        "unknown": ["price"],
    }
