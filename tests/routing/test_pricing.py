"""routing/pricing.py: exact call costs (DESIGN.md "Price book", "Call"),
through ingestion so that the price lookup (routing/selectors.py) is covered
with the formula:

    computed_cost = ((input - cache_read - cache_write) x p_input
                     + cache_read x p_cache_read
                     + (cache_write - cache_write_1h) x p_cache_write
                     + cache_write_1h x p_cache_write_1h
                     + output x p_output) / 1,000,000 + per_request

Prices are USD per million tokens; costs keep 10 places (ROUND_HALF_EVEN).
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from routing.models import Price
from tests.factories import (
    CallRecordFactory,
    ContractFactory,
    LlmModelFactory,
    ModelAliasFactory,
    PriceFactory,
    sonnet_priced,
)

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def sonnet(db):
    """tests.factories.sonnet_priced, in force from JAN_1."""
    return sonnet_priced(effective_from=JAN_1)


@pytest.fixture
def usd_contract(db):
    return ContractFactory(currency="USD", fx_rate=Decimal(1), markup=Decimal(0))


def call(**fields) -> dict:
    return CallRecordFactory(model="claude-sonnet-4-5", **fields)


def test_plain_call_costs_input_and_output_tokens(sonnet, usd_contract, ingest_one_call):
    """(1000 x 3 + 500 x 15) / 1e6 = (3000 + 7500) / 1e6 = 0.0105"""
    stored = ingest_one_call(usd_contract, call(input_tokens=1000, output_tokens=500))
    assert stored.computed_cost_usd == Decimal("0.0105000000")
    assert stored.cost_usd == Decimal("0.0105000000")
    assert stored.charge == Decimal("0.0105000000")
    assert stored.reported_cost_usd is None


def test_cached_reads_are_part_of_input_and_priced_at_the_cache_read_rate(
    sonnet, usd_contract, ingest_one_call
):
    """input 10000 of which 8000 cached reads, output 200:
    (2000 x 3 + 8000 x 0.30 + 200 x 15) / 1e6 = (6000 + 2400 + 3000) / 1e6 = 0.0114"""
    stored = ingest_one_call(
        usd_contract, call(input_tokens=10_000, cache_read_tokens=8000, output_tokens=200)
    )
    assert stored.computed_cost_usd == Decimal("0.0114000000")


def test_missing_cache_prices_equal_the_input_price(usd_contract, ingest_one_call):
    """No cache_read or cache_write price: both are the input price 2.
    input 1000 = 100 uncached + 300 read + 600 written, output 0:
    (100 x 2 + 300 x 2 + 600 x 2) / 1e6 = 2000 / 1e6 = 0.002"""
    model = LlmModelFactory(name="plain-model")
    PriceFactory(llm_model=model, input=Decimal("2"), output=Decimal("8"), cache_read=None)
    stored = ingest_one_call(
        usd_contract,
        CallRecordFactory(
            model="plain-model",
            input_tokens=1000,
            cache_read_tokens=300,
            cache_write_tokens=600,
            output_tokens=0,
        ),
    )
    assert stored.computed_cost_usd == Decimal("0.0020000000")


def test_one_hour_cache_writes_use_the_cache_write_1h_price(sonnet, usd_contract, ingest_one_call):
    """input 10000 = 6000 uncached + 4000 written, of which 1000 one-hour:
    (6000 x 3 + 3000 x 3.75 + 1000 x 6) / 1e6 = (18000 + 11250 + 6000) / 1e6
    = 0.03525"""
    stored = ingest_one_call(
        usd_contract,
        call(
            input_tokens=10_000,
            cache_write_tokens=4000,
            cache_write_1h_tokens=1000,
            output_tokens=0,
        ),
    )
    assert stored.computed_cost_usd == Decimal("0.0352500000")


def test_one_hour_cache_writes_without_a_1h_price_use_the_cache_write_price(
    usd_contract, ingest_one_call
):
    """Same call as above, the row has no cache_write_1h price (so 3.75):
    (6000 x 3 + 3000 x 3.75 + 1000 x 3.75) / 1e6 = (18000 + 11250 + 3750) / 1e6
    = 0.033"""
    sonnet_priced(name="no-1h-price", cache_write_1h=None)
    stored = ingest_one_call(
        usd_contract,
        CallRecordFactory(
            model="no-1h-price",
            input_tokens=10_000,
            cache_write_tokens=4000,
            cache_write_1h_tokens=1000,
            output_tokens=0,
        ),
    )
    assert stored.computed_cost_usd == Decimal("0.0330000000")


@pytest.fixture
def repriced(db):
    """Old row from 2026-01-01 (input 1, output 2); new row from exactly
    2026-06-01T00:00:00Z (input 2, output 4)."""
    model = LlmModelFactory(name="repriced")
    old = PriceFactory(llm_model=model, effective_from=JAN_1, input=Decimal(1), output=Decimal(2))
    new = PriceFactory(
        llm_model=model,
        effective_from=datetime(2026, 6, 1, tzinfo=UTC),
        input=Decimal(2),
        output=Decimal(4),
    )
    return old, new


def test_a_call_one_microsecond_before_a_price_change_uses_the_old_row(
    repriced, usd_contract, ingest_one_call
):
    """1,000,000 input and 1,000,000 output at the old row:
    (1e6 x 1 + 1e6 x 2) / 1e6 = 3"""
    old, _ = repriced
    stored = ingest_one_call(
        usd_contract,
        CallRecordFactory(
            model="repriced",
            occurred_at="2026-05-31T23:59:59.999999Z",
            input_tokens=1_000_000,
            output_tokens=1_000_000,
        ),
    )
    assert stored.price_id == old.id
    assert stored.computed_cost_usd == Decimal("3.0000000000")


def test_a_call_exactly_at_a_price_change_uses_the_new_row(repriced, usd_contract, ingest_one_call):
    """The new row is in force from its effective_from (<= occurred_at):
    (1e6 x 2 + 1e6 x 4) / 1e6 = 6. The instant is given in another offset."""
    _, new = repriced
    stored = ingest_one_call(
        usd_contract,
        CallRecordFactory(
            model="repriced",
            occurred_at="2026-06-01T02:00:00+02:00",
            input_tokens=1_000_000,
            output_tokens=1_000_000,
        ),
    )
    assert stored.price_id == new.id
    assert stored.computed_cost_usd == Decimal("6.0000000000")


@pytest.fixture
def tiered(db):
    """A standard row (input 3, output 15) and, for a second model, the same
    standard row plus a batch row at half price (input 1.5, output 7.5)."""
    standard_only = LlmModelFactory(name="standard-only")
    PriceFactory(llm_model=standard_only, input=Decimal(3), output=Decimal(15))
    with_batch = LlmModelFactory(name="with-batch")
    PriceFactory(llm_model=with_batch, input=Decimal(3), output=Decimal(15))
    batch_row = PriceFactory(
        llm_model=with_batch, service_tier="batch", input=Decimal("1.5"), output=Decimal("7.5")
    )
    return batch_row


def test_a_batch_call_uses_the_batch_row(tiered, usd_contract, ingest_one_call):
    """(1000 x 1.5 + 1000 x 7.5) / 1e6 = (1500 + 7500) / 1e6 = 0.009"""
    stored = ingest_one_call(
        usd_contract,
        CallRecordFactory(
            model="with-batch", service_tier="batch", input_tokens=1000, output_tokens=1000
        ),
    )
    assert stored.price_id == tiered.id
    assert stored.computed_cost_usd == Decimal("0.0090000000")
    assert stored.service_tier == "batch"


def test_a_batch_call_without_a_batch_row_uses_the_standard_row(
    tiered, usd_contract, ingest_one_call
):
    """(1000 x 3 + 1000 x 15) / 1e6 = (3000 + 15000) / 1e6 = 0.018"""
    stored = ingest_one_call(
        usd_contract,
        CallRecordFactory(
            model="standard-only", service_tier="batch", input_tokens=1000, output_tokens=1000
        ),
    )
    assert stored.computed_cost_usd == Decimal("0.0180000000")
    assert stored.service_tier == "batch"


@pytest.fixture
def long_context_model(db):
    """Standard input 3, output 15; above 200,000 input tokens the whole
    call costs input 6, output 22.5 (cache prices fall back to input 6)."""
    model = LlmModelFactory(name="long-context")
    PriceFactory(
        llm_model=model,
        input=Decimal(3),
        output=Decimal(15),
        cache_read=None,
        long_context_threshold=200_000,
        long_context_input=Decimal(6),
        long_context_output=Decimal("22.5"),
    )
    return model


def test_input_tokens_equal_to_the_long_context_threshold_use_standard_prices(
    long_context_model, usd_contract, ingest_one_call
):
    """(200000 x 3 + 1000 x 15) / 1e6 = (600000 + 15000) / 1e6 = 0.615"""
    stored = ingest_one_call(
        usd_contract,
        CallRecordFactory(model="long-context", input_tokens=200_000, output_tokens=1000),
    )
    assert stored.computed_cost_usd == Decimal("0.6150000000")


def test_one_token_above_the_threshold_prices_the_whole_call_at_long_context(
    long_context_model, usd_contract, ingest_one_call
):
    """(200001 x 6 + 1000 x 22.5) / 1e6 = (1200006 + 22500) / 1e6 = 1.222506"""
    stored = ingest_one_call(
        usd_contract,
        CallRecordFactory(model="long-context", input_tokens=200_001, output_tokens=1000),
    )
    assert stored.computed_cost_usd == Decimal("1.2225060000")


def test_the_per_request_fee_is_added_once_per_call(usd_contract, ingest_one_call):
    """per_request 0.01: 1000 x 3 / 1e6 + 0.01 = 0.003 + 0.01 = 0.013"""
    model = LlmModelFactory(name="per-request")
    PriceFactory(
        llm_model=model, input=Decimal(3), output=Decimal(15), per_request_usd=Decimal("0.01")
    )
    stored = ingest_one_call(
        usd_contract,
        CallRecordFactory(model="per-request", input_tokens=1000, output_tokens=0),
    )
    assert stored.computed_cost_usd == Decimal("0.0130000000")


def test_cost_is_kept_to_ten_places_rounding_half_to_even(usd_contract, ingest_one_call):
    """input price 0.00005 per million: 5 tokens cost 5 x 0.00005 / 1e6
    = 0.00000000025, exactly half of the 10th place: half-even gives
    0.0000000002 (half-up would give 0.0000000003). 7 tokens: 0.00000000035
    -> 0.0000000004."""
    model = LlmModelFactory(name="tiny-price")
    PriceFactory(llm_model=model, input=Decimal("0.00005"), output=Decimal(0))
    five = ingest_one_call(
        usd_contract, CallRecordFactory(model="tiny-price", input_tokens=5, output_tokens=0)
    )
    seven = ingest_one_call(
        usd_contract, CallRecordFactory(model="tiny-price", input_tokens=7, output_tokens=0)
    )
    assert five.computed_cost_usd == Decimal("0.0000000002")
    assert seven.computed_cost_usd == Decimal("0.0000000004")


def test_a_model_addressed_by_alias_is_stored_as_the_canonical_model(
    sonnet, usd_contract, ingest_one_call
):
    """By alias, priced as the model: (1000 x 3 + 500 x 15) / 1e6 = 0.0105"""
    ModelAliasFactory(llm_model=sonnet, alias="claude-sonnet-4-5-20250929")
    stored = ingest_one_call(
        usd_contract,
        CallRecordFactory(model="claude-sonnet-4-5-20250929", input_tokens=1000, output_tokens=500),
    )
    assert stored.llm_model.name == "claude-sonnet-4-5"
    assert stored.price_id == Price.objects.get(llm_model=sonnet).id
    assert stored.computed_cost_usd == Decimal("0.0105000000")
