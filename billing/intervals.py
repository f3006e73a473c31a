"""The 95% interval of a period's value (DESIGN.md "Statistical honesty on
statements"; docs/SETTLEMENT.md "Value interval").

    half_width = 1.96 x s x sqrt(n)

over the period's n tasks, s the sample standard deviation of value per
task. With Σx and Σx² of the task values, s x sqrt(n) =
sqrt((n Σx² - (Σx)²) / (n - 1)), so the half width is the square root of a
rational number that is known exactly. Everything is exact (Fraction) up to
that square root, which is rounded once, to the currency's minor unit,
ROUND_HALF_EVEN, exactly: an integer square root decides the rounding, no
floating point and no truncated series anywhere.
"""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import isqrt

from core.money import exact_context, minor_unit

Z_95 = Fraction("1.96")


@dataclass(frozen=True, slots=True)
class ValueInterval:
    tasks: int
    low: Decimal | None
    high: Decimal | None
    shortfall_within_noise: bool | None


def nearest_sqrt(value: Fraction) -> int:
    """sqrt(value) rounded to an integer, ties to even, exactly.
    floor(sqrt(x)) = isqrt(floor(x)) for a rational x >= 0."""
    twice = isqrt((4 * value).numerator // (4 * value).denominator)  # floor(2 sqrt(value))
    below = twice // 2
    if twice % 2 == 0:
        return below
    if Fraction(twice * twice, 4) == value:  # exactly half-way
        return below if below % 2 == 0 else below + 1
    return below + 1


def half_width(*, tasks: int, value_sum: Decimal, value_sum_of_squares: Decimal, places: int):
    """1.96 x s x sqrt(n) in units of 10^-places, rounded half-even; None
    when there are fewer than two tasks (no sample standard deviation)."""
    if tasks < 2:
        return None
    n = Fraction(tasks)
    spread = (n * Fraction(value_sum_of_squares) - Fraction(value_sum) ** 2) / (n - 1)
    scale = Fraction(10) ** places
    return nearest_sqrt(Z_95 * Z_95 * scale * scale * spread)


def value_interval(
    *,
    tasks: int,
    value_sum: Decimal,
    value_sum_of_squares: Decimal,
    value: Decimal,
    guaranteed_value: Decimal,
    currency: str,
) -> ValueInterval:
    """Centred on the statement's ``value`` (already rounded to the minor
    unit), so low and high foot with it. shortfall_within_noise: the
    guaranteed value lies inside [low, high]."""
    places = minor_unit(currency)
    units = half_width(
        tasks=tasks,
        value_sum=value_sum,
        value_sum_of_squares=value_sum_of_squares,
        places=places,
    )
    if units is None:
        return ValueInterval(tasks, None, None, None)
    with exact_context():
        width = Decimal(units).scaleb(-places)
        low, high = value - width, value + width
    return ValueInterval(tasks, low, high, low <= guaranteed_value <= high)
