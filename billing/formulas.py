"""The figures DESIGN.md defines from a period's (or a group's) sums, each
written once: settlement (billing/settlement.py), the live ROI read
(billing/roi.py) and a statement's own flags (billing/models.py) all call
these.

Pure functions of Decimals. The arithmetic is exact (core.money's exact
context: 28 digits, Python's default, would round sums of NUMERIC(60, 10));
amounts come in as the caller shows them, so a statement's derived totals
follow from its rounded parts and it foots (DESIGN.md "Money and numbers").
Ratios have 4 places, ROUND_HALF_EVEN, and are None when the divisor is 0
(core.money.ratio).
"""

from decimal import ROUND_FLOOR, Decimal

from core.money import exact_context, ratio, round_total


def charges(*, usage_charges: Decimal, outcome_fees: Decimal, fixed_fee: Decimal) -> Decimal:
    """DESIGN.md "Charges": charges = usage + outcome fees + fixed fee."""
    with exact_context():
        return usage_charges + outcome_fees + fixed_fee


def roi(*, value: Decimal, charges: Decimal) -> Decimal | None:
    """DESIGN.md "Period settlement": roi = (value - charges) / charges, null
    when charges = 0."""
    with exact_context():
        return ratio(value - charges, charges)


def guaranteed_value(*, guarantee_multiple: Decimal, charges: Decimal, currency: str) -> Decimal:
    """DESIGN.md "Period settlement": guarantee_multiple x charges, a
    statement total, so rounded to the currency's minor unit."""
    with exact_context():
        return round_total(guarantee_multiple * charges, currency)


def shortfall(*, guaranteed_value: Decimal, value: Decimal) -> Decimal:
    """DESIGN.md "Period settlement": max(0, guaranteed_value - value)."""
    with exact_context():
        return max(Decimal(0), guaranteed_value - value)


def payout_before_cap(*, shortfall: Decimal, payout_share: Decimal, currency: str) -> Decimal:
    """DESIGN.md "Period settlement": shortfall x payout_share, to the
    currency's minor unit; what the payout is unless the cap limits it."""
    with exact_context():
        return round_total(shortfall * payout_share, currency)


def cap_available(*, payout_cap: Decimal, payouts_elsewhere: Decimal, currency: str) -> Decimal:
    """DESIGN.md "Period settlement": cap_remaining = payout_cap - Σ payouts
    issued for the contract's other periods, never below 0. Rounded down to
    the minor unit: a cap written with more places than the currency has is
    never exceeded by a payout rounded to it."""
    with exact_context():
        return round_total(
            max(Decimal(0), payout_cap - payouts_elsewhere), currency, rounding=ROUND_FLOOR
        )


def payout(
    *, shortfall: Decimal, payout_share: Decimal, cap_available: Decimal, currency: str
) -> Decimal:
    """DESIGN.md "Period settlement": min(shortfall x payout_share,
    cap_remaining)."""
    due = payout_before_cap(shortfall=shortfall, payout_share=payout_share, currency=currency)
    return min(due, cap_available)


def savings(*, baseline_cost_usd: Decimal, cost_usd: Decimal) -> Decimal:
    """DESIGN.md "Routing savings": savings = baseline_cost - cost (USD; it
    is negative when the calls cost more than the baseline would have)."""
    with exact_context():
        return baseline_cost_usd - cost_usd


def efficiency(*, baseline_cost_usd: Decimal, cost_usd: Decimal) -> Decimal | None:
    """DESIGN.md "Routing savings": efficiency = baseline_cost / cost, null
    when cost = 0."""
    return ratio(baseline_cost_usd, cost_usd)
