"""Period settlement: statements, adjustments, payouts within the cap, and
their journal entries (DESIGN.md "Period settlement", "Routing savings").

Rounding (DESIGN.md "Money and numbers"): sums are exact; each statement
total is rounded once to the currency's minor unit with ROUND_HALF_EVEN, and
the derived totals are computed from the rounded ones, so a statement foots:
charges = usage_charges + outcome_fees + fixed_fee, shortfall =
max(0, guaranteed_value - value), and so on (docs/SETTLEMENT.md).
"""

import logging
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from billing import formulas, webhooks
from billing.intervals import value_interval
from billing.models import Contract, RepriceCorrection, Statement, StatementKind
from billing.nightly import StepFailures
from billing.periods import ContractPeriod, period_label, period_of, periods_due
from core.localtime import local_midnight_utc
from core.money import exact_context, quantize_amount, round_total
from ledger.journal import journal_post
from ledger.models import Account, OutcomeStatus
from ledger.rollups import (
    accepted_outcome_days,
    call_rollup_days,
    call_rollup_lines,
    days_rollup,
    dirty_marks,
    dirty_marks_consume,
    outcome_rollup_groups,
)
from ledger.selectors import input_digest, task_moments

SETTLEMENT_LOCK = 0x5E77
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Figures:
    """A statement's totals. For a settlement, the period's; for an
    adjustment, the difference (ratios: None; cap_remaining: the balance)."""

    calls: int
    accepted_outcomes: int
    cost_usd: Decimal
    usage_charges: Decimal
    outcome_fees: Decimal
    fixed_fee: Decimal
    charges: Decimal
    value: Decimal
    roi: Decimal | None
    guaranteed_value: Decimal
    shortfall: Decimal
    payout: Decimal
    cap_remaining: Decimal
    baseline_cost_usd: Decimal
    savings_usd: Decimal
    efficiency: Decimal | None

    DIFFERENCED = (
        "calls",
        "accepted_outcomes",
        "cost_usd",
        "usage_charges",
        "outcome_fees",
        "fixed_fee",
        "charges",
        "value",
        "guaranteed_value",
        "shortfall",
        "payout",
        "baseline_cost_usd",
        "savings_usd",
    )

    def as_json(self) -> dict:
        return {
            k: (None if v is None else (v if isinstance(v, int) else str(v)))
            for k, v in asdict(self).items()
        }

    @classmethod
    def from_json(cls, data: dict) -> "Figures":
        values = {}
        for f in fields(cls):
            raw = data[f.name]
            values[f.name] = raw if raw is None or isinstance(raw, int) else Decimal(raw)
        return cls(**values)

    def same_period_as(self, earlier: "Figures") -> bool:
        """The period's own figures are unchanged. cap_remaining is left out:
        it moves with other periods' payouts, which is no reason to issue a
        statement for this one."""
        return all(
            getattr(self, name) == getattr(earlier, name)
            for name in (*self.DIFFERENCED, "roi", "efficiency")
        )

    def minus(self, earlier: "Figures") -> "Figures":
        """The differences an adjustment shows. A ratio has no difference:
        roi and efficiency are None (the re-settled ones stay in
        period_figures); cap_remaining is the balance after the statement."""
        changes = {name: getattr(self, name) - getattr(earlier, name) for name in self.DIFFERENCED}
        return Figures(**{**asdict(self), **changes, "roi": None, "efficiency": None})


@dataclass(frozen=True, slots=True)
class PeriodDetail:
    """Everything a statement shows besides its totals, exact (10 places)."""

    lines: list[dict]
    outcome_lines: list[dict]
    savings_by_task_type: list[dict]
    daily: list[dict]
    sums: dict[str, Decimal]


def _s(value: Decimal) -> str:
    return f"{quantize_amount(value):f}"


def period_detail(*, contract: Contract, period: ContractPeriod) -> PeriodDetail:
    """Lines from the rollups: O(models x task types x days), never calls."""
    days = {"contract": contract, "start": period.start, "end": period.end}
    call_rows = call_rollup_lines(**days)
    lines = [
        {
            "model": row["llm_model__name"],
            "tier": row["llm_model__tier"],
            "task_type": row["task_type"],
            "calls": row["calls"],
            "input_tokens": int(row["input_tokens"]),
            "output_tokens": int(row["output_tokens"]),
            "cache_read_tokens": int(row["cache_read_tokens"]),
            "cache_write_tokens": int(row["cache_write_tokens"]),
            "cache_write_1h_tokens": int(row["cache_write_1h_tokens"]),
            "reasoning_tokens": int(row["reasoning_tokens"]),
            "cost_usd": _s(row["cost_usd"]),
            "charges": _s(row["charges"]),
            "baseline_cost_usd": _s(row["baseline_cost_usd"]),
        }
        for row in call_rows
    ]
    by_task: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in call_rows:
        by_task[row["task_type"]][0] += row["cost_usd"]
        by_task[row["task_type"]][1] += row["baseline_cost_usd"]
    savings = [
        {
            "task_type": task,
            "cost_usd": _s(cost),
            "baseline_cost_usd": _s(base),
            "savings_usd": _s(formulas.savings(baseline_cost_usd=base, cost_usd=cost)),
            "efficiency": _str_or_none(formulas.efficiency(baseline_cost_usd=base, cost_usd=cost)),
        }
        for task, (cost, base) in sorted(by_task.items())
    ]
    outcome_rows = outcome_rollup_groups(**days)
    by_kind: dict[str, dict] = {}
    for row in outcome_rows:
        line = by_kind.setdefault(
            row["kind"],
            {
                "kind": row["kind"],
                "accepted": 0,
                "disputed": 0,
                "rejected": 0,
                "quantity": Decimal(0),
                "value": Decimal(0),
                "fees": Decimal(0),
            },
        )
        line[row["status"]] += row["outcomes"]
        if row["status"] == OutcomeStatus.ACCEPTED:
            # Only accepted outcomes count (DESIGN.md "Outcome", "Charges").
            line["quantity"] += row["quantity"]
            line["value"] += row["value"]
            line["fees"] += row["fee"]
    outcome_lines = [
        {
            **line,
            "quantity": _s(line["quantity"]),
            "value": _s(line["value"]),
            "fees": _s(line["fees"]),
        }
        for _, line in sorted(by_kind.items())
    ]
    daily = _daily(days)
    # A decided reprice's corrections (billing.reprice): stored call costs
    # never change, the period's cost and usage charges do.
    corrections = corrections_sum(contract=contract, period_start=period.start)
    if corrections["corrections"]:
        lines.append(
            {
                "model": "repricing",
                "tier": "repricing",
                "task_type": "correction",
                "calls": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
                "reasoning_tokens": 0,
                "cost_usd": _s(corrections["cost_usd"]),
                "charges": _s(corrections["charge"]),
                "baseline_cost_usd": _s(Decimal(0)),
            }
        )
    sums = {
        "calls": sum((row["calls"] for row in call_rows), 0),
        "cost_usd": sum((row["cost_usd"] for row in call_rows), corrections["cost_usd"]),
        "usage_charges": sum((row["charges"] for row in call_rows), corrections["charge"]),
        "baseline_cost_usd": sum((row["baseline_cost_usd"] for row in call_rows), Decimal(0)),
        "accepted_outcomes": sum((line["accepted"] for line in by_kind.values()), 0),
        "value": sum((line["value"] for line in by_kind.values()), Decimal(0)),
        "outcome_fees": sum((line["fees"] for line in by_kind.values()), Decimal(0)),
    }
    return PeriodDetail(lines, outcome_lines, savings, daily, sums)


def corrections_sum(*, contract: Contract, period_start) -> dict:
    """Σ of a period's reprice corrections: cost_usd and charge (zero when
    none) and how many there are (``corrections``)."""
    rows = RepriceCorrection.objects.filter(contract=contract, period_start=period_start)
    sums = rows.aggregate(cost_usd=Sum("cost_usd"), charge=Sum("charge"))
    return {name: value or Decimal(0) for name, value in sums.items()} | {
        "corrections": rows.count()
    }


def _str_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _daily(days_of_period: dict) -> list[dict]:
    days: dict = defaultdict(
        lambda: {"cost_usd": Decimal(0), "charges": Decimal(0), "value": Decimal(0)}
    )
    for row in call_rollup_days(**days_of_period):
        days[row["day"]]["cost_usd"] += row["cost"]
        days[row["day"]]["charges"] += row["charge"]
    for row in accepted_outcome_days(**days_of_period):
        days[row["day"]]["value"] += row["value"]
        days[row["day"]]["charges"] += row["fee"]
    return [
        {"day": day.isoformat(), **{k: _s(v) for k, v in sums.items()}}
        for day, sums in sorted(days.items())
    ]


def figures_compute(
    *, contract: Contract, sums: dict[str, Decimal], payouts_elsewhere: Decimal
) -> Figures:
    """DESIGN.md "Period settlement" from a period's exact sums.
    ``payouts_elsewhere``: Σ payouts of this contract's statements for other
    periods, so the cap holds contract-wide."""
    currency = contract.currency
    with exact_context():
        usage = round_total(sums["usage_charges"], currency)
        fees = round_total(sums["outcome_fees"], currency)
        fixed = round_total(contract.fixed_fee, currency)
        charges = formulas.charges(usage_charges=usage, outcome_fees=fees, fixed_fee=fixed)
        value = round_total(sums["value"], currency)
        guaranteed = formulas.guaranteed_value(
            guarantee_multiple=contract.guarantee_multiple, charges=charges, currency=currency
        )
        shortfall = formulas.shortfall(guaranteed_value=guaranteed, value=value)
        cap_available = formulas.cap_available(
            payout_cap=contract.payout_cap, payouts_elsewhere=payouts_elsewhere, currency=currency
        )
        payout = formulas.payout(
            shortfall=shortfall,
            payout_share=contract.payout_share,
            cap_available=cap_available,
            currency=currency,
        )
        cost = round_total(sums["cost_usd"], "USD")
        baseline = round_total(sums["baseline_cost_usd"], "USD")
        return Figures(
            calls=sums["calls"],
            accepted_outcomes=sums["accepted_outcomes"],
            cost_usd=cost,
            usage_charges=usage,
            outcome_fees=fees,
            fixed_fee=fixed,
            charges=charges,
            value=value,
            roi=formulas.roi(value=value, charges=charges),
            guaranteed_value=guaranteed,
            shortfall=shortfall,
            payout=payout,
            cap_remaining=cap_available - payout,
            baseline_cost_usd=baseline,
            savings_usd=formulas.savings(baseline_cost_usd=baseline, cost_usd=cost),
            # From the exact sums (docs/SETTLEMENT.md "Rounding"), as the
            # per-task-type lines are.
            efficiency=formulas.efficiency(
                baseline_cost_usd=sums["baseline_cost_usd"], cost_usd=sums["cost_usd"]
            ),
        )


@dataclass(frozen=True, slots=True)
class SettlementReport:
    settled: list[Statement]
    adjusted: list[Statement]
    failures: StepFailures = field(default_factory=StepFailures)

    def lines(self) -> list[str]:
        """One line per statement issued, as a person reads it (what the
        nightly step returns): ``acme-agent-2026: 2026-10 settled as #1``,
        ``acme-agent-2026: 2026-10 adjusted as #2 (adjusts #1)``."""
        issued = sorted(
            self.settled + self.adjusted, key=lambda s: (s.contract.code, s.period_start, s.number)
        )
        return [
            f"{s.contract.code}: {period_label(s.contract, s.period_start)} "
            + (
                f"adjusted as #{s.number} (adjusts #{s.adjusts.number})"
                if s.kind == StatementKind.ADJUSTMENT
                else f"settled as #{s.number}"
            )
            for s in issued
        ]


@contextmanager
def _contract_lock(contract_id: int):
    """A session-level advisory lock per contract, taken before the
    settlement transaction starts, so that transaction's snapshot already
    sees everything an earlier settler committed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [SETTLEMENT_LOCK, contract_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [SETTLEMENT_LOCK, contract_id])


def contract_settle(*, contract_id: int, as_of: datetime) -> SettlementReport:
    """Issue every statement due for one contract by ``as_of``: settlements of
    due periods without one, and adjustments of settled periods whose records
    changed. Safe to run twice and concurrently (one settler per contract at
    a time), and a run with nothing new issues nothing.

    One REPEATABLE READ transaction: the marks, the rollups it rebuilds for
    days marked since the rollup step, the figures and the digest all see the
    same records, so a record committed mid-run is in none of them and its
    mark waits for the next run."""
    settled, adjusted = [], []
    # Inside a caller's transaction (a test's) the caller's isolation stands.
    outermost = not connection.in_atomic_block
    with _contract_lock(contract_id), transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        contract = Contract.objects.get(pk=contract_id)
        marks = dirty_marks(contract=contract)
        unrolled = sorted({mark.day for mark in marks if not mark.rolled_up})
        if unrolled:
            days_rollup(contract=contract, days=unrolled)
        touched = {period_of(contract, mark.day) for mark in marks}
        latest = _latest_by_period(contract)
        due = periods_due(contract, as_of)
        for period in due:
            previous = latest.get(period.start)
            if previous is None:
                settled.append(_issue(contract, period, as_of, previous=None))
            elif period in touched:
                statement = _issue(contract, period, as_of, previous=previous)
                if statement is not None:
                    adjusted.append(statement)
        # Marks of periods not due yet stay: an as_of earlier than a previous
        # run's must not lose a settled period's pending re-settlement.
        handled = [m.id for m in marks if any(p.contains(m.day) for p in due)]
        dirty_marks_consume(contract=contract, ids=handled)
    return SettlementReport(settled=settled, adjusted=adjusted)


def _latest_by_period(contract: Contract) -> dict:
    latest = {}
    for statement in Statement.objects.filter(contract=contract).order_by("number"):
        latest[statement.period_start] = statement
    return latest


def _issue(
    contract: Contract, period: ContractPeriod, as_of: datetime, *, previous: Statement | None
) -> Statement | None:
    tz = contract.tz
    start, end = local_midnight_utc(period.start, tz), local_midnight_utc(period.end, tz)
    digest = input_digest(contract=contract, start=start, end=end)
    detail = period_detail(contract=contract, period=period)
    payouts = Statement.objects.filter(contract=contract).exclude(period_start=period.start)
    elsewhere = payouts.aggregate(total=Sum("payout"))["total"] or Decimal(0)
    figures = figures_compute(contract=contract, sums=detail.sums, payouts_elsewhere=elsewhere)
    if previous is not None:
        earlier = Figures.from_json(previous.period_figures)
        if digest == previous.input_digest and figures.same_period_as(earlier):
            return None
        shown = figures.minus(earlier)
    else:
        shown = figures
    moments = task_moments(contract=contract, start=start, end=end)
    interval = value_interval(
        tasks=moments.tasks,
        value_sum=moments.value_sum,
        value_sum_of_squares=moments.value_sum_of_squares,
        value=figures.value,
        guaranteed_value=figures.guaranteed_value,
        currency=contract.currency,
    )
    period_interval = {
        "tasks": interval.tasks,
        "value_ci_low": _str_or_none(interval.low),
        "value_ci_high": _str_or_none(interval.high),
        "shortfall_within_noise": interval.shortfall_within_noise,
    }
    if previous is None:
        shown_interval = {
            "tasks": interval.tasks,
            "value_ci_low": interval.low,
            "value_ci_high": interval.high,
            "shortfall_within_noise": interval.shortfall_within_noise,
        }
    else:
        # An adjustment shows differences: the number of tasks has one, an
        # interval has none (the re-settled one is in period_figures).
        earlier_tasks = previous.period_figures.get("tasks")
        shown_interval = {
            "tasks": None if earlier_tasks is None else interval.tasks - earlier_tasks,
            "value_ci_low": None,
            "value_ci_high": None,
            "shortfall_within_noise": None,
        }
    number = _next_number(contract)
    statement = Statement.objects.create(
        contract=contract,
        number=number,
        kind=StatementKind.ADJUSTMENT if previous else StatementKind.SETTLEMENT,
        adjusts=(previous.adjusts or previous) if previous else None,
        period_start=period.start,
        period_end=period.end,
        currency=contract.currency,
        **{f.name: getattr(shown, f.name) for f in fields(Figures)},
        **shown_interval,
        min_sample=contract.min_sample,
        lines=detail.lines,
        outcome_lines=detail.outcome_lines,
        savings_by_task_type=detail.savings_by_task_type,
        daily=detail.daily,
        period_figures=figures.as_json() | period_interval,
        input_digest=digest,
        as_of=as_of,
        issued_at=timezone.now(),
    )
    journal_post(
        contract=contract,
        statement_number=number,
        currency=contract.currency,
        memo=f"{statement.kind} {period.start}..{period.end}",
        postings=[
            (Account.RECEIVABLE, shown.charges),
            (Account.REVENUE, -shown.charges),
            (Account.GUARANTEE_EXPENSE, shown.payout),
            (Account.CUSTOMER_CREDIT, -shown.payout),
        ],
    )
    # Delivered to the contract's webhook once the settlement commits.
    webhooks.statement_issued_record(statement=statement)
    return statement


def _next_number(contract: Contract) -> int:
    """Gapless per contract: taken under the settlement lock, in the
    transaction that creates the statement."""
    last = Statement.objects.filter(contract=contract).order_by("-number").first()
    return (last.number + 1) if last else 1


def settlements_run(*, as_of: datetime) -> SettlementReport:
    """Settle every contract (the nightly chain's second step). A contract
    that fails does not hold back the others (DESIGN.md "Trust between the
    parties"): each settles in its own transaction, and the report names the
    ones that failed, for the task to retry and then report
    (billing/nightly.py); a retry issues nothing twice."""
    settled, adjusted, failures = [], [], StepFailures()
    for contract_id, code in Contract.objects.order_by("id").values_list("id", "code"):
        try:
            report = contract_settle(contract_id=contract_id, as_of=as_of)
        except Exception as exc:  # one contract's failure must not stop the rest
            logger.exception("settling contract %s failed", code)
            failures.add(code, exc)
            continue
        settled += report.settled
        adjusted += report.adjusted
    return SettlementReport(settled=settled, adjusted=adjusted, failures=failures)
