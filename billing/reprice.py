"""Repricing (DESIGN.md "Price book": repricing history is a dry run; "Cost
drift, repricing and the journal, for people"; docs/PRICES.md "Repricing").

A dry run takes a candidate price row (not stored) and reports, per contract
and period it touches, cost, charges, value per dollar and payout before and
after. It only reads. A decided reprice stores the row and, since stored
call costs never change, one RepriceCorrection per contract period holding
the exact difference the row makes to that period's cost and usage
charges; it marks those periods for the nightly run, whose settlement adds
the corrections and so issues an adjustment for each settled period.
"""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from billing.models import Contract, RepriceCorrection, Statement
from billing.periods import ContractPeriod, period_of
from billing.settlement import Figures, corrections_sum, figures_compute
from core.errors import Conflict, ErrorCode, InvalidInput
from core.localtime import local_midnight_utc
from core.money import (
    div_half_even,
    exact_context,
    from_units,
    ratio,
    to_units,
)
from ledger.models import Call, DirtyDay
from ledger.roi_selectors import TOTAL, roi_call_sums, roi_outcome_sums
from routing.models import LlmModel, Price, ServiceTier
from routing.pricing import PriceRow, call_cost_units
from routing.services import PriceIn, price_create, price_errors

CHARGE_FACTOR_SCALE = 10**20
CALL_FIELDS = (
    "occurred_at",
    "service_tier",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reported_cost_usd",
    "cost_usd",
    "charge",
)


@dataclass(frozen=True, slots=True)
class PeriodView:
    """What the reprice report shows of a period's figures."""

    cost_usd: Decimal
    charges: Decimal
    value: Decimal
    value_per_dollar: Decimal | None
    payout: Decimal

    @classmethod
    def of(cls, figures: Figures) -> "PeriodView":
        return cls(
            figures.cost_usd,
            figures.charges,
            figures.value,
            ratio(figures.value, figures.charges),
            figures.payout,
        )


@dataclass(frozen=True, slots=True)
class PeriodReprice:
    period_start: date
    period_end: date
    settled: bool
    calls_repriced: int
    cost_usd_change: Decimal
    charge_change: Decimal
    before: PeriodView
    after: PeriodView


@dataclass(frozen=True, slots=True)
class ContractReprice:
    contract: str
    currency: str
    periods: list[PeriodReprice]


@dataclass(frozen=True, slots=True)
class RepriceReport:
    model: str
    service_tier: str
    effective_from: datetime
    contracts: list[ContractReprice]
    stored: bool = False


@dataclass(slots=True)
class _Change:
    calls: int = 0
    cost_units: int = 0
    charge_units: int = 0


@dataclass(slots=True)
class _Timeline:
    """The model's price rows per service tier, the candidate among them."""

    rows: dict[str, list[PriceRow]] = field(default_factory=dict)

    def price_at(self, service_tier: str, at) -> PriceRow | None:
        # DESIGN.md "Price book": the call's tier's row, else the standard one.
        for tier in (service_tier, ServiceTier.STANDARD):
            rows = self.rows.get(tier, [])
            position = bisect_right([row.effective_from for row in rows], at)
            if position:
                return rows[position - 1]
        return None


def _timeline(model: LlmModel, candidate: PriceRow) -> _Timeline:
    timeline = _Timeline()
    for price in Price.objects.filter(llm_model=model).order_by("effective_from", "id"):
        timeline.rows.setdefault(price.service_tier, []).append(PriceRow.from_model(price))
    rows = timeline.rows.setdefault(candidate.service_tier, [])
    if any(row.effective_from == candidate.effective_from for row in rows):
        raise Conflict(
            f"{model.name} already has a {candidate.service_tier} price from "
            f"{candidate.effective_from.isoformat()}"
        )
    rows.insert(
        bisect_right([row.effective_from for row in rows], candidate.effective_from), candidate
    )
    return timeline


def _candidate(model: LlmModel, price: PriceIn) -> PriceRow:
    errors = price_errors(price)
    if errors:
        raise InvalidInput("the price is not valid", details=[error.as_dict() for error in errors])
    return PriceRow.from_model(Price(llm_model=model, **price.columns()))


def _changes(contract: Contract, timeline: _Timeline, candidate: PriceRow) -> dict:
    """Per period, the calls the candidate would cost and the exact change
    of their cost and charge (units of 10^-10). A call that reports its own
    cost keeps it (the provider's bill is authoritative, DESIGN.md "Call")."""
    with exact_context():
        factor = to_units(contract.fx_rate * (1 + contract.markup), 20)
    changes: dict[ContractPeriod, _Change] = defaultdict(_Change)
    calls = Call.objects.filter(
        contract=contract,
        llm_model_id=candidate.model_id,
        occurred_at__gte=candidate.effective_from,
    ).values_list(*CALL_FIELDS)
    for (
        at,
        tier,
        tokens_in,
        tokens_out,
        read,
        write,
        write_1h,
        reported,
        cost,
        charge,
    ) in calls.iterator(chunk_size=2000):
        if timeline.price_at(tier, at) is not candidate:
            continue
        if reported is None:
            new_cost = call_cost_units(
                candidate,
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                cache_read_tokens=read,
                cache_write_tokens=write,
                cache_write_1h_tokens=write_1h,
            )
        else:
            new_cost = to_units(reported)
        new_charge = div_half_even(new_cost * factor, CHARGE_FACTOR_SCALE)
        change = changes[period_of(contract, at.astimezone(contract.tz).date())]
        change.calls += 1
        change.cost_units += new_cost - to_units(cost)
        change.charge_units += new_charge - to_units(charge)
    return changes


def _period_sums(contract: Contract, period: ContractPeriod) -> dict:
    """The period's exact sums from the records stored now (as settlement
    would find them), its earlier reprice corrections included."""
    start = local_midnight_utc(period.start, contract.tz)
    end = local_midnight_utc(period.end, contract.tz)
    calls = roi_call_sums(contract=contract, group_by=TOTAL, start=start, end=end).get(TOTAL)
    outcomes = roi_outcome_sums(contract=contract, group_by=TOTAL, start=start, end=end).get(TOTAL)
    corrections = corrections_sum(contract=contract, period_start=period.start)
    zero = Decimal(0)
    return {
        "calls": calls.calls if calls else 0,
        "cost_usd": (calls.cost_usd if calls else zero) + corrections["cost_usd"],
        "usage_charges": (calls.charges if calls else zero) + corrections["charge"],
        "baseline_cost_usd": calls.baseline_cost_usd if calls else zero,
        "accepted_outcomes": outcomes.accepted_outcomes if outcomes else 0,
        "value": (outcomes.value if outcomes else zero) or zero,
        "outcome_fees": (outcomes.fees if outcomes else zero) or zero,
    }


def _contract_reprice(
    contract: Contract, timeline: _Timeline, candidate: PriceRow
) -> tuple[ContractReprice, dict]:
    changes = _changes(contract, timeline, candidate)
    settled = set(
        Statement.objects.filter(contract=contract).values_list("period_start", flat=True)
    )
    periods = []
    for period, change in sorted(changes.items()):
        sums = _period_sums(contract, period)
        elsewhere = Statement.objects.filter(contract=contract).exclude(
            period_start=period.start
        ).aggregate(total=Sum("payout"))["total"] or Decimal(0)
        cost_change, charge_change = from_units(change.cost_units), from_units(change.charge_units)
        with exact_context():
            after_sums = {
                **sums,
                "cost_usd": sums["cost_usd"] + cost_change,
                "usage_charges": sums["usage_charges"] + charge_change,
            }
        before = figures_compute(contract=contract, sums=sums, payouts_elsewhere=elsewhere)
        after = figures_compute(contract=contract, sums=after_sums, payouts_elsewhere=elsewhere)
        periods.append(
            PeriodReprice(
                period_start=period.start,
                period_end=period.end,
                settled=period.start in settled,
                calls_repriced=change.calls,
                cost_usd_change=cost_change,
                charge_change=charge_change,
                before=PeriodView.of(before),
                after=PeriodView.of(after),
            )
        )
    return ContractReprice(contract.code, contract.currency, periods), changes


def reprice_dry_run(
    *, model: LlmModel, price: PriceIn, contracts: list[Contract] | None = None
) -> RepriceReport:
    """What ``price`` would change, per contract (all, or those given) and
    period; nothing is written. Periods are the contracts' own; a period
    shows the figures settlement would compute from what is stored now
    (before) and with the candidate row (after). The payout is within the
    cap as settlement applies it: other periods' issued payouts count."""
    candidate = _candidate(model, price)
    timeline = _timeline(model, candidate)
    chosen = contracts if contracts is not None else list(Contract.objects.order_by("code"))
    shown = [_contract_reprice(contract, timeline, candidate)[0] for contract in chosen]
    return RepriceReport(
        model=model.name,
        service_tier=price.service_tier,
        effective_from=price.effective_from,
        contracts=[c for c in shown if c.periods],
    )


@transaction.atomic
def reprice_apply(*, model: LlmModel, price: PriceIn, reason: str, source: str) -> RepriceReport:
    """A decided reprice (docs/PRICES.md "Repricing"): the price row (past
    the back-dating guard), a correction per contract period it changes,
    and a mark per period so the next nightly run re-settles it: an
    adjustment statement for each settled period, never an edit of a call."""
    if not reason.strip():
        raise InvalidInput("a reason is required", code=ErrorCode.REASON_REQUIRED)
    stored = price_create(
        model=model,
        effective_from=price.effective_from,
        input=price.input,
        output=price.output,
        service_tier=price.service_tier,
        cache_read=price.cache_read,
        cache_write=price.cache_write,
        cache_write_1h=price.cache_write_1h,
        per_request_usd=price.per_request_usd,
        long_context_threshold=price.long_context_threshold,
        long_context=price.long_context,
        source=source,
        reprice=True,
    )
    candidate = PriceRow.from_model(stored)
    timeline = _Timeline()
    for row in Price.objects.filter(llm_model=model).order_by("effective_from", "id"):
        timeline.rows.setdefault(row.service_tier, []).append(
            candidate if row.id == stored.id else PriceRow.from_model(row)
        )
    shown = []
    for contract in Contract.objects.order_by("code"):
        report, changes = _contract_reprice(contract, timeline, candidate)
        for period, change in changes.items():
            if change.cost_units == 0 and change.charge_units == 0:
                continue
            RepriceCorrection.objects.create(
                contract=contract,
                period_start=period.start,
                price=stored,
                llm_model=model,
                calls=change.calls,
                cost_usd=from_units(change.cost_units),
                charge=from_units(change.charge_units),
                reason=reason,
            )
            DirtyDay.objects.create(contract=contract, day=period.start)
        if report.periods:
            shown.append(report)
    return RepriceReport(model.name, price.service_tier, price.effective_from, shown, stored=True)
