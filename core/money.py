"""The one place that quantizes and rounds money (DESIGN.md "Money and numbers").

- Per-call amounts (cost, charge) keep 10 decimal places, ROUND_HALF_EVEN.
  The ingestion hot path computes them as integers of 10^-10 USD ("units"),
  which is the same exact arithmetic, several times faster than Decimal.
- Statement totals are rounded once, to the currency's minor unit,
  ROUND_HALF_EVEN.
"""

from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

AMOUNT_PLACES = 10
AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)
# Ratios (roi, efficiency) are shown to 4 places.
RATIO_QUANTUM = Decimal("0.0001")

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


# Digits every intermediate of a statement fits in exactly: a sum stays
# below 10^40, a guaranteed value (a multiple below 10^10 with 10 places
# times charges) has at most 62 digits (docs/SETTLEMENT.md "Bounds").
EXACT_PRECISION = 100

# Wide enough that quantizing never raises InvalidOperation; passed
# explicitly, which costs a tenth of entering a local context per call.
_ROUNDING = Context(prec=EXACT_PRECISION, rounding=ROUND_HALF_EVEN)


def exact_context():
    """A decimal context wide enough that sums and products of amounts are
    exact (28 digits, Python's default, is not enough for 10^9 tokens at
    10-place prices)."""
    return localcontext(prec=EXACT_PRECISION, rounding=ROUND_HALF_EVEN)


def quantize_amount(value: Decimal) -> Decimal:
    """A per-record amount, to 10 decimal places (ROUND_HALF_EVEN)."""
    return value.quantize(AMOUNT_QUANTUM, context=_ROUNDING)


def minor_unit(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def round_total(value: Decimal, currency: str, *, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """A statement total, to the currency's minor unit (ROUND_HALF_EVEN
    unless told otherwise)."""
    return value.quantize(
        Decimal(1).scaleb(-minor_unit(currency)), rounding=rounding, context=_ROUNDING
    )


# Stored amounts are NUMERIC(30, 10): below 10^20.
AMOUNT_LIMIT = Decimal(10) ** 20
AMOUNT_LIMIT_UNITS = 10**30
# Sums of amounts and the ratios of a statement (rollups, statements, journal
# postings, spend counters) are NUMERIC(60, 10): below 10^50. A contract holds
# fewer than 2^63 records (bigint ids), each amount below 10^20, so a sum
# stays below 10^39 and a ratio or a guaranteed value below 10^50
# (docs/SETTLEMENT.md "Bounds").
SUM_FIELD = {"max_digits": 60, "decimal_places": 10}
# Token sums: fewer than 2^63 calls of at most 10^15 tokens each, below 10^34.
TOKEN_SUM_FIELD = {"max_digits": 38, "decimal_places": 0}


def to_units(value: Decimal, places: int = AMOUNT_PLACES) -> int:
    """``value`` x 10^places as an integer; ValueError when ``value`` has
    more decimal places (nothing is ever rounded on the way in)."""
    scaled = value.scaleb(places, context=_ROUNDING)
    units = int(scaled)
    if units != scaled:
        raise ValueError(f"{value} has more than {places} decimal places")
    return units


def units_text(units: int) -> str:
    """An amount in units of 10^-10, as text PostgreSQL's NUMERIC and
    Decimal both read exactly ("2850000E-10" is 0.0002850000)."""
    return f"{units}E-{AMOUNT_PLACES}"


def from_units(units: int) -> Decimal:
    return Decimal(units_text(units))


def div_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to an integer, ROUND_HALF_EVEN, in
    integer arithmetic (exact at any size). A negative denominator moves its
    sign to the numerator, so the remainder is never negative."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def amount_str(value: Decimal) -> str:
    """The canonical 10-place text of an amount (the digest uses it)."""
    return f"{quantize_amount(value):f}"


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """numerator / denominator to 4 places (ROUND_HALF_EVEN); None when the
    denominator is 0 (DESIGN.md: roi is null when charges = 0)."""
    if denominator == 0:
        return None
    return _ROUNDING.divide(numerator, denominator).quantize(RATIO_QUANTUM, context=_ROUNDING)
