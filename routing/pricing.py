"""The cost of one call from its price row (DESIGN.md "Price book", "Call").

Pure functions over plain values so that ingestion, repricing dry runs and
baseline costs all use one formula.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.money import div_half_even, from_units, to_units

TOKENS_PER_MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class TokenPrices:
    """USD per million tokens, with DESIGN.md's fallbacks already applied,
    and the same prices in units of 10^-10 USD (exact: a price row keeps
    at most 10 decimal places), so that costing a call is integer arithmetic."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal
    units: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)

    @classmethod
    def with_fallbacks(cls, *, input, output, cache_read, cache_write, cache_write_1h):
        # A missing cache price equals the input price; a missing one-hour
        # write price equals the (five-minute) cache write price.
        cache_write = input if cache_write is None else cache_write
        cache_read = input if cache_read is None else cache_read
        cache_write_1h = cache_write if cache_write_1h is None else cache_write_1h
        return cls(
            input=input,
            output=output,
            cache_read=cache_read,
            cache_write=cache_write,
            cache_write_1h=cache_write_1h,
            units=tuple(
                to_units(p) for p in (input, output, cache_read, cache_write, cache_write_1h)
            ),
        )


@dataclass(frozen=True, slots=True)
class PriceRow:
    id: int
    model_id: int
    service_tier: str
    effective_from: datetime
    standard: TokenPrices
    per_request_usd: Decimal
    per_request_units: int
    long_context_threshold: int | None
    long_context: TokenPrices | None

    @classmethod
    def from_model(cls, price) -> "PriceRow":
        long_context = None
        if price.long_context_threshold is not None:
            long_context = TokenPrices.with_fallbacks(
                input=price.long_context_input,
                output=price.long_context_output,
                cache_read=price.long_context_cache_read,
                cache_write=price.long_context_cache_write,
                cache_write_1h=price.long_context_cache_write_1h,
            )
        return cls(
            id=price.id,
            model_id=price.llm_model_id,
            service_tier=price.service_tier,
            effective_from=price.effective_from,
            standard=TokenPrices.with_fallbacks(
                input=price.input,
                output=price.output,
                cache_read=price.cache_read,
                cache_write=price.cache_write,
                cache_write_1h=price.cache_write_1h,
            ),
            per_request_usd=price.per_request_usd,
            per_request_units=to_units(price.per_request_usd),
            long_context_threshold=price.long_context_threshold,
            long_context=long_context,
        )

    def prices_for(self, input_tokens: int) -> TokenPrices:
        # Above the threshold the whole call is priced at the long-context set.
        if self.long_context is not None and input_tokens > self.long_context_threshold:
            return self.long_context
        return self.standard


def call_cost_units(
    price: PriceRow,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
) -> int:
    """DESIGN.md "Call": computed_cost in units of 10^-10 USD, i.e. to 10
    places, ROUND_HALF_EVEN:

        ((input - cache_read - cache_write) x p_input + cache_read x p_cache_read
         + (cache_write - cache_write_1h) x p_cache_write
         + cache_write_1h x p_cache_write_1h + output x p_output) / 1,000,000
        + per_request
    """
    p_input, p_output, p_cache_read, p_cache_write, p_cache_write_1h = price.prices_for(
        input_tokens
    ).units
    token_units = (
        (input_tokens - cache_read_tokens - cache_write_tokens) * p_input
        + cache_read_tokens * p_cache_read
        + (cache_write_tokens - cache_write_1h_tokens) * p_cache_write
        + cache_write_1h_tokens * p_cache_write_1h
        + output_tokens * p_output
    )
    # per_request already has at most 10 places: adding it before or after
    # rounding the token part is the same.
    return div_half_even(token_units, TOKENS_PER_MILLION) + price.per_request_units


def call_cost_usd(price: PriceRow, **tokens: int) -> Decimal:
    """computed_cost as a Decimal with 10 places."""
    return from_units(call_cost_units(price, **tokens))
