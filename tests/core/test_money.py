"""core/money.py, the one place that quantizes and rounds money (DESIGN.md
"Money and numbers"): exact examples, half-even ties and negatives included,
and properties checked against arithmetic done another way (Python's
Fraction, or Decimal at a precision no rounding can reach)."""

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import (
    amount_str,
    div_half_even,
    from_units,
    minor_unit,
    quantize_amount,
    ratio,
    round_total,
    to_units,
    units_text,
)

D = Decimal


# div_half_even: integer division rounded half to even -----------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "quotient"),
    [
        (0, 7, 0),
        (1, 3, 0),  # 0.33
        (2, 3, 1),  # 0.67
        (5, 2, 2),  # 2.5: a tie goes to the even neighbour
        (7, 2, 4),  # 3.5
        (5, -3, -2),  # -1.67
        (-5, -2, 2),  # 2.5
        (25, 10, 2),
        (35, 10, 4),
        (26, 10, 3),  # above the tie
        (-1, 3, 0),  # -0.33
        (-2, 3, -1),  # -0.67
        (-5, 2, -2),  # -2.5
        (-7, 2, -4),  # -3.5
        (-26, 10, -3),
        # Token units of a call: 5 tokens at 0.00005 USD per million are
        # 2.5 units of 10^-10 USD; 7 tokens are 3.5.
        (5 * 500_000, 1_000_000, 2),
        (7 * 500_000, 1_000_000, 4),
        # Exact far beyond a float's 53 bits: 10^34 + 0.5, 10^34 + 1.5.
        (10**40 + 500_000, 1_000_000, 10**34),
        (10**40 + 1_500_000, 1_000_000, 10**34 + 2),
    ],
)
def test_div_half_even_rounds_to_the_nearest_integer_and_ties_to_even(
    numerator, denominator, quotient
):
    assert div_half_even(numerator, denominator) == quotient


@given(
    numerator=st.integers(-(10**60), 10**60),
    denominator=st.integers(1, 10**30) | st.integers(-(10**30), -1),
)
def test_div_half_even_equals_the_decimal_quotient_quantized_half_even(numerator, denominator):
    """At 200 digits the Decimal quotient (below 10^61) is correct to more
    than 100 places past the point, and a quotient of integers below 10^60
    and 10^30 that is not a tie lies at least 1 / (2 x 10^30) from one: the
    quotient is on the tie's side it really is, and quantizing rounds once."""
    with localcontext(prec=200):
        expected = (D(numerator) / D(denominator)).quantize(D(1), rounding=ROUND_HALF_EVEN)

    assert div_half_even(numerator, denominator) == int(expected)


@given(
    quotient=st.integers(-(10**30), 10**30), denominator=st.integers(1, 10**12).map(lambda n: 2 * n)
)
def test_an_exact_tie_goes_to_the_even_neighbour(quotient, denominator):
    """numerator / denominator = quotient + 1/2 exactly."""
    numerator = quotient * denominator + denominator // 2

    assert div_half_even(numerator, denominator) % 2 == 0
    assert abs(div_half_even(numerator, denominator) - Fraction(numerator, denominator)) == (
        Fraction(1, 2)
    )


# Units of 10^-10 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "units"),
    [
        (D("0"), 0),
        (D("1E-10"), 1),
        (D("0.0012340000"), 12_340_000),
        (D("0.00123400000000000"), 12_340_000),  # zeros past the 10th place are no digits
        (D("-2.5"), -25_000_000_000),
        (D("1E+3"), 10_000_000_000_000),
        (D("99999999999999999999.9999999999"), 10**30 - 1),
    ],
)
def test_an_amount_becomes_a_whole_number_of_units_of_ten_to_the_minus_ten(amount, units):
    assert to_units(amount) == units
    assert from_units(units) == amount


def test_to_units_scales_by_the_places_asked_for():
    assert to_units(D("1.104"), 20) == 110_400_000_000_000_000_000
    assert to_units(D("12.3"), 2) == 1230


@pytest.mark.parametrize("amount", [D("1E-11"), D("0.00000000015"), D("-3.12345678901")])
def test_an_amount_with_more_than_ten_places_is_refused_never_rounded(amount):
    with pytest.raises(ValueError, match="more than 10 decimal places"):
        to_units(amount)


def test_units_text_is_read_exactly_by_decimal():
    assert units_text(2_850_000) == "2850000E-10"
    assert units_text(-15) == "-15E-10"
    assert from_units(2_850_000) == D("0.000285")
    assert from_units(-15) == D("-0.0000000015")


@given(st.integers(-(10**40), 10**40))
def test_units_round_trip_through_an_amount(units):
    assert to_units(from_units(units)) == units


@given(
    st.decimals(
        min_value=-(10**20), max_value=10**20, places=10, allow_nan=False, allow_infinity=False
    )
)
def test_an_amount_of_at_most_ten_places_round_trips_through_units(amount):
    assert from_units(to_units(amount)) == amount
    assert Fraction(to_units(amount)) == Fraction(amount) * 10**10


@given(units=st.integers(-(10**15), 10**15), eleventh=st.integers(1, 9))
def test_any_amount_with_an_eleventh_place_is_refused(units, eleventh):
    amount = D(units).scaleb(-10) + D(eleventh).scaleb(-11)

    with pytest.raises(ValueError):
        to_units(amount)


# Per-record amounts: 10 places, half even --------------------------------------


@pytest.mark.parametrize(
    ("exact", "amount"),
    [
        (D("0.00000000025"), D("0.0000000002")),
        (D("0.00000000035"), D("0.0000000004")),
        (D("0.000000000251"), D("0.0000000003")),
        (D("-0.00000000025"), D("-0.0000000002")),
        (D("-0.00000000035"), D("-0.0000000004")),
        (D("1.5"), D("1.5000000000")),
        # 40 digits: more than Python's default 28-digit context holds.
        (
            D("123456789012345678901234567890.12345678905"),
            D("123456789012345678901234567890.1234567890"),
        ),
    ],
)
def test_quantize_amount_keeps_ten_places_rounding_half_to_even(exact, amount):
    assert quantize_amount(exact) == amount
    assert quantize_amount(exact).as_tuple().exponent == -10


def test_amount_str_writes_exactly_ten_places_and_no_exponent():
    assert amount_str(D("1.5")) == "1.5000000000"
    assert amount_str(D("1E+3")) == "1000.0000000000"
    assert amount_str(D("-0.00000000025")) == "-0.0000000002"
    assert amount_str(D("0")) == "0.0000000000"


# Statement totals: the currency's minor unit -----------------------------------


@pytest.mark.parametrize(
    ("currency", "places"),
    [("USD", 2), ("EUR", 2), ("eur", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)],
)
def test_the_minor_unit_is_iso_4217s(currency, places):
    assert minor_unit(currency) == places


@pytest.mark.parametrize(
    ("exact", "currency", "total"),
    [
        (D("0.125"), "USD", D("0.12")),  # docs/SETTLEMENT.md "Rounding"
        (D("0.135"), "USD", D("0.14")),
        (D("0.1251"), "USD", D("0.13")),
        (D("-0.125"), "USD", D("-0.12")),
        (D("-0.135"), "EUR", D("-0.14")),
        (D("5"), "USD", D("5.00")),
        (D("2.5"), "JPY", D("2")),
        (D("3.5"), "JPY", D("4")),
        (D("-2.5"), "JPY", D("-2")),
        (D("1.0005"), "KWD", D("1.000")),
        (D("1.0015"), "KWD", D("1.002")),
        # 50 digits before rounding (docs/SETTLEMENT.md "Bounds").
        (D("98999999999999999999999999999999999999999999999.995"), "USD", D("99E+45")),
    ],
)
def test_round_total_rounds_once_to_the_minor_unit_half_to_even(exact, currency, total):
    assert round_total(exact, currency) == total
    assert round_total(exact, currency).as_tuple().exponent == -minor_unit(currency)


def test_round_total_rounds_down_when_told():
    assert round_total(D("9.999"), "USD", rounding=ROUND_FLOOR) == D("9.99")
    assert round_total(D("-0.001"), "USD", rounding=ROUND_FLOOR) == D("-0.01")


@given(
    exact=st.decimals(
        min_value=-(10**40), max_value=10**40, places=12, allow_nan=False, allow_infinity=False
    ),
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_round_total_is_the_nearest_minor_unit_with_ties_to_even(exact, currency):
    """Against Python's round() of an exact fraction, which ties to even."""
    places = minor_unit(currency)
    nearest = round(Fraction(exact) * 10**places)

    assert Fraction(round_total(exact, currency)) == Fraction(nearest, 10**places)


# Ratios: 4 places, null on a zero denominator ----------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "shown"),
    [
        (D(1), D(3), D("0.3333")),
        (D(2), D(3), D("0.6667")),
        (D("0.00005"), D(1), D("0.0000")),  # a tie goes to the even 0
        (D("0.00015"), D(1), D("0.0002")),
        (D(-1), D(8), D("-0.1250")),
        (D("-0.00015"), D(1), D("-0.0002")),
        (D("345") - D("411.96"), D("205.98"), D("-0.3251")),
        (D("1E+39"), D("0.001"), D("1E+42")),
    ],
)
def test_a_ratio_has_four_places_rounded_half_to_even(numerator, denominator, shown):
    assert ratio(numerator, denominator) == shown
    assert ratio(numerator, denominator).as_tuple().exponent == -4


@pytest.mark.parametrize("numerator", [D(0), D(1), D(-5)])
def test_a_ratio_over_zero_is_null(numerator):
    assert ratio(numerator, D(0)) is None
