"""Live ROI per group, computed on the fly from what is stored now (API.md
"Audit reads": roi; the rules are in docs/ROI.md).

Figures follow DESIGN.md "Period settlement" and "Routing savings", with two
differences from a statement: amounts are exact (10 places, not rounded to
the currency's minor unit), and the per-period fixed fee is not spread over
groups (the report says so)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing import formulas
from billing.models import Contract
from core.errors import InvalidInput
from ledger.roi_selectors import (
    GROUP_BYS,
    TOTAL,
    UNATTRIBUTED,
    CallSums,
    OutcomeSums,
    roi_call_sums,
    roi_outcome_sums,
)

NO_CALLS = CallSums(0, Decimal(0), Decimal(0), Decimal(0))
NO_OUTCOMES = OutcomeSums(0, Decimal(0), Decimal(0))


@dataclass(frozen=True, slots=True)
class RoiFigures:
    """cost, baseline and savings in USD; charges and value in the contract
    currency."""

    key: str
    calls: int
    cost_usd: Decimal
    usage_charges: Decimal
    outcome_fees: Decimal
    charges: Decimal
    value: Decimal
    accepted_outcomes: int
    roi: Decimal | None
    baseline_cost_usd: Decimal
    savings_usd: Decimal
    efficiency: Decimal | None

    @classmethod
    def of(cls, key: str, calls: CallSums, outcomes: OutcomeSums) -> "RoiFigures":
        # The fixed fee is per period, not spread over groups (docs/ROI.md).
        charges = formulas.charges(
            usage_charges=calls.charges, outcome_fees=outcomes.fees, fixed_fee=Decimal(0)
        )
        return cls(
            key=key,
            calls=calls.calls,
            cost_usd=calls.cost_usd,
            usage_charges=calls.charges,
            outcome_fees=outcomes.fees,
            charges=charges,
            value=outcomes.value,
            accepted_outcomes=outcomes.accepted_outcomes,
            roi=formulas.roi(value=outcomes.value, charges=charges),
            baseline_cost_usd=calls.baseline_cost_usd,
            savings_usd=formulas.savings(
                baseline_cost_usd=calls.baseline_cost_usd, cost_usd=calls.cost_usd
            ),
            efficiency=formulas.efficiency(
                baseline_cost_usd=calls.baseline_cost_usd, cost_usd=calls.cost_usd
            ),
        )


@dataclass(frozen=True, slots=True)
class RoiReport:
    currency: str
    group_by: str
    start: datetime | None
    end: datetime | None
    groups: list[RoiFigures]
    totals: RoiFigures
    fixed_fee_excluded: bool = True


def _figures(contract: Contract, group_by: str, start, end) -> list[RoiFigures]:
    calls = roi_call_sums(contract=contract, group_by=group_by, start=start, end=end)
    outcomes = roi_outcome_sums(contract=contract, group_by=group_by, start=start, end=end)
    # Groups in key order; outcomes no call carries come last.
    keys = sorted(calls.keys() | outcomes.keys(), key=lambda k: (k == UNATTRIBUTED, k))
    return [
        RoiFigures.of(key, calls.get(key, NO_CALLS), outcomes.get(key, NO_OUTCOMES)) for key in keys
    ]


def roi_live(
    *, contract: Contract, group_by: str, start: datetime | None, end: datetime | None
) -> RoiReport:
    """Figures per group over [start, end) (either end open when None), and
    the totals of the whole range, each computed from the stored records."""
    if group_by not in GROUP_BYS:
        raise InvalidInput(
            f"'group_by' must be one of {', '.join(GROUP_BYS)}, not {group_by!r}",
            details={"group_by": list(GROUP_BYS)},
        )
    totals = _figures(contract, TOTAL, start, end)
    return RoiReport(
        currency=contract.currency,
        group_by=group_by,
        start=start,
        end=end,
        groups=_figures(contract, group_by, start, end),
        totals=totals[0] if totals else RoiFigures.of(TOTAL, NO_CALLS, NO_OUTCOMES),
    )
