"""The one place that quantizes and rounds money (DESIGN.md "Money and numbers").

- Per-call amounts (cost, charge) keep 10 decimal places, ROUND_HALF_EVEN.
- Statement totals are rounded once, to the currency's minor unit,
  ROUND_HALF_EVEN.
"""

from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

AMOUNT_PLACES = 10
AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)
# Ratios (roi, efficiency) are shown to 4 places.
RATIO_QUANTUM = Decimal("0.0001")
TOKENS_PER_MILLION = Decimal(1_000_000)

# ISO 4217 minor units for the currencies whose minor unit is not 2.
_MINOR_UNITS = {
    "BHD": 3,
    "CLP": 0,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
    "UGX": 0,
    "VND": 0,
    "XAF": 0,
    "XOF": 0,
}


# Wide enough that quantizing never raises InvalidOperation; passed
# explicitly, which costs a tenth of entering a local context per call.
_ROUNDING = Context(prec=60, rounding=ROUND_HALF_EVEN)


def exact_context():
    """A decimal context wide enough that sums and products of amounts are
    exact (28 digits, Python's default, is not enough for 10^9 tokens at
    10-place prices)."""
    return localcontext(prec=60, rounding=ROUND_HALF_EVEN)


def quantize_amount(value: Decimal) -> Decimal:
    """A per-record amount, to 10 decimal places (ROUND_HALF_EVEN)."""
    return value.quantize(AMOUNT_QUANTUM, context=_ROUNDING)


def minor_unit(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def round_total(value: Decimal, currency: str) -> Decimal:
    """A statement total, to the currency's minor unit (ROUND_HALF_EVEN)."""
    return value.quantize(Decimal(1).scaleb(-minor_unit(currency)), context=_ROUNDING)


def amount_str(value: Decimal) -> str:
    """The canonical 10-place text of an amount (the digest uses it)."""
    return f"{quantize_amount(value):f}"


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """numerator / denominator to 4 places (ROUND_HALF_EVEN); None when the
    denominator is 0 (DESIGN.md: roi is null when charges = 0)."""
    if denominator == 0:
        return None
    return _ROUNDING.divide(numerator, denominator).quantize(RATIO_QUANTUM, context=_ROUNDING)
