"""The figures of DESIGN.md "Period settlement", "Charges" and "Routing
savings" (billing/formulas.py), on exact Decimals."""

from decimal import Decimal

from billing import formulas

D = Decimal


def test_charges_are_usage_plus_outcome_fees_plus_the_fixed_fee():
    total = formulas.charges(usage_charges=D("12.34"), outcome_fees=D("0.99"), fixed_fee=D("100"))
    assert total == D("113.33")


def test_charges_of_sums_beyond_28_digits_are_exact():
    usage = D("999999999999999999999999999999.0000000001")
    total = formulas.charges(usage_charges=usage, outcome_fees=D("0.0000000001"), fixed_fee=D(0))
    assert total == D("999999999999999999999999999999.0000000002")


def test_roi_is_value_less_charges_over_charges_to_4_places_half_even():
    assert formulas.roi(value=D("400"), charges=D("100")) == D("3.0000")
    assert formulas.roi(value=D("50"), charges=D("100")) == D("-0.5000")
    # 1/3 - 1 = -0.66666...: -0.6667.
    assert formulas.roi(value=D("1"), charges=D("3")) == D("-0.6667")
    # 1.00005 lies halfway: half even keeps 1.0000.
    assert formulas.roi(value=D("2.00005"), charges=D("1")) == D("1.0000")


def test_roi_is_none_without_charges():
    assert formulas.roi(value=D("500"), charges=D("0")) is None


def test_roi_of_the_largest_value_over_a_cent_of_charges_is_exact():
    """docs/SETTLEMENT.md "Bounds": 990000000000000000000.00 of value on
    charges of 1.00."""
    roi = formulas.roi(value=D("990000000000000000000.00"), charges=D("1.00"))
    assert roi == D("989999999999999999999.0000")


def test_guaranteed_value_is_the_multiple_of_charges_rounded_once_half_even():
    assert formulas.guaranteed_value(
        guarantee_multiple=D("2"), charges=D("113.33"), currency="USD"
    ) == D("226.66")
    # 1.5 x 0.25 = 0.375: half even to 0.38; 1.5 x 0.35 = 0.525: to 0.52.
    assert formulas.guaranteed_value(
        guarantee_multiple=D("1.5"), charges=D("0.25"), currency="USD"
    ) == D("0.38")
    assert formulas.guaranteed_value(
        guarantee_multiple=D("1.5"), charges=D("0.35"), currency="USD"
    ) == D("0.52")


def test_guaranteed_value_is_rounded_to_the_currency_minor_unit():
    assert formulas.guaranteed_value(
        guarantee_multiple=D("1.5"), charges=D("1001"), currency="JPY"
    ) == D("1502")
    assert formulas.guaranteed_value(
        guarantee_multiple=D("1.0005"), charges=D("1.000"), currency="KWD"
    ) == D("1.000")


def test_shortfall_is_what_the_value_misses_of_the_guarantee_never_negative():
    assert formulas.shortfall(guaranteed_value=D("226.66"), value=D("100.01")) == D("126.65")
    assert formulas.shortfall(guaranteed_value=D("226.66"), value=D("300")) == D("0")


def test_payout_is_the_share_of_the_shortfall_rounded_once():
    payout = formulas.payout(
        shortfall=D("126.65"), payout_share=D("0.5"), cap_available=D("1000"), currency="USD"
    )
    # 63.325: half even to 63.32.
    assert payout == D("63.32")
    assert formulas.payout_before_cap(
        shortfall=D("126.65"), payout_share=D("0.5"), currency="USD"
    ) == D("63.32")


def test_payout_stops_at_the_cap_available():
    payout = formulas.payout(
        shortfall=D("126.65"), payout_share=D("1"), cap_available=D("40.00"), currency="USD"
    )
    assert payout == D("40.00")


def test_cap_available_is_the_cap_less_payouts_elsewhere_rounded_down():
    assert formulas.cap_available(
        payout_cap=D("100.009"), payouts_elsewhere=D("60"), currency="USD"
    ) == D("40.00")
    assert formulas.cap_available(
        payout_cap=D("100"), payouts_elsewhere=D("60.01"), currency="USD"
    ) == D("39.99")


def test_cap_available_is_never_below_zero():
    assert formulas.cap_available(
        payout_cap=D("100"), payouts_elsewhere=D("150"), currency="USD"
    ) == D("0.00")


def test_savings_is_baseline_cost_less_cost_and_may_be_negative():
    assert formulas.savings(baseline_cost_usd=D("0.0070000000"), cost_usd=D("0.0030000000")) == D(
        "0.0040000000"
    )
    assert formulas.savings(baseline_cost_usd=D("0.001"), cost_usd=D("0.003")) == D("-0.002")


def test_efficiency_is_baseline_cost_over_cost_to_4_places():
    # docs/ROI.md's example: 0.007 / 0.003 = 2.3333...
    assert formulas.efficiency(
        baseline_cost_usd=D("0.0070000000"), cost_usd=D("0.0030000000")
    ) == D("2.3333")
    # docs/SETTLEMENT.md "Bounds": 5 USD at the baseline for 10^-10 USD.
    assert formulas.efficiency(baseline_cost_usd=D("5"), cost_usd=D("0.0000000001")) == D(
        "50000000000.0000"
    )


def test_efficiency_is_none_without_cost():
    assert formulas.efficiency(baseline_cost_usd=D("0.5"), cost_usd=D("0")) is None
