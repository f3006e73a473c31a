"""Daily rollups, in SQL, incremental (DESIGN.md "Scale"): only the
(contract, local day) pairs marked dirty since the last run are rebuilt, and
calls are never loaded into Python."""

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Sum

from billing.models import Contract
from billing.nightly import StepFailures
from core.localtime import local_midnight_utc
from ledger.models import CallRollup, DirtyDay, OutcomeRollup, OutcomeStatus

logger = logging.getLogger(__name__)

# Aggregates are read with a plain SELECT (which PostgreSQL runs in
# parallel; INSERT ... SELECT never does) and the few resulting rows are
# inserted after. Each run of consecutive dirty days is one time range, so
# the scan uses the (contract_id, occurred_at) index and needs no per-row
# day filter.
CALL_AGGREGATE = """
SELECT (occurred_at AT TIME ZONE %(tz)s)::date, llm_model_id, task_type, service_tier,
       count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),
       sum(cache_write_tokens), sum(cache_write_1h_tokens), sum(reasoning_tokens),
       sum(cost_usd), sum(charge), sum(baseline_cost_usd)
  FROM ledger_call
 WHERE contract_id = %(contract_id)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
 GROUP BY 1, 2, 3, 4
"""
CALL_ROLLUP_COLUMNS = (
    "day",
    "llm_model_id",
    "task_type",
    "service_tier",
    "calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "cost_usd",
    "charge",
    "baseline_cost_usd",
)

OUTCOME_AGGREGATE = """
SELECT (occurred_at AT TIME ZONE %(tz)s)::date, kind, task_type, status, count(*),
       sum(quantity), sum(value), sum(fee)
  FROM ledger_outcome_current
 WHERE contract_id = %(contract_id)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
 GROUP BY 1, 2, 3, 4
"""
OUTCOME_ROLLUP_COLUMNS = (
    "day",
    "kind",
    "task_type",
    "status",
    "outcomes",
    "quantity",
    "value",
    "fee",
)


@dataclass(frozen=True, slots=True)
class RollupReport:
    contracts: int
    days: int
    failures: StepFailures = field(default_factory=StepFailures)


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) pairs; ``days`` sorted."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def days_rollup(*, contract: Contract, days: list[date]) -> None:
    """Rebuild the call and outcome rollups of ``days`` (local to the contract)."""
    days = sorted(set(days))
    tz = contract.tz
    targets = (
        (CallRollup, CALL_AGGREGATE, CALL_ROLLUP_COLUMNS),
        (OutcomeRollup, OUTCOME_AGGREGATE, OUTCOME_ROLLUP_COLUMNS),
    )
    with connection.cursor() as cursor:
        for model, aggregate, columns in targets:
            model.objects.filter(contract=contract, day__in=days).delete()
            rows = []
            for first, last in _runs(days):
                cursor.execute(
                    aggregate,
                    {
                        "tz": contract.timezone,
                        "contract_id": contract.id,
                        "start": local_midnight_utc(first, tz),
                        "end": local_midnight_utc(last + timedelta(days=1), tz),
                    },
                )
                rows += cursor.fetchall()
            model.objects.bulk_create(
                model(contract=contract, **dict(zip(columns, row, strict=True))) for row in rows
            )


def _contract_rollup(contract: Contract) -> int:
    """Rebuild one contract's marked days in one transaction; how many."""
    with transaction.atomic():
        marks = list(
            DirtyDay.objects.select_for_update(skip_locked=True)
            .filter(contract=contract, rolled_up=False)
            .values_list("id", "day")
        )
        if not marks:
            return 0
        days = sorted({day for _, day in marks})
        days_rollup(contract=contract, days=days)
        DirtyDay.objects.filter(contract=contract, id__in=[mark_id for mark_id, _ in marks]).update(
            rolled_up=True
        )
    return len(days)


def rollups_refresh() -> RollupReport:
    """Rebuild every day marked dirty and not yet rolled up, one transaction
    per contract. Marks locked by a concurrent run are skipped, not waited on.
    A contract that fails keeps its marks and does not hold back the others
    (DESIGN.md "Trust between the parties"); the report names it."""
    contract_ids = (
        DirtyDay.objects.filter(rolled_up=False).values_list("contract_id", flat=True).distinct()
    )
    total_days = 0
    contracts = 0
    failures = StepFailures()
    for contract in Contract.objects.filter(id__in=list(contract_ids)).order_by("id"):
        try:
            days = _contract_rollup(contract)
        except Exception as exc:  # one contract's failure must not stop the rest
            logger.exception("the rollups of %s failed", contract.code)
            failures.add(contract.code, exc)
            continue
        if days:
            contracts += 1
            total_days += days
    return RollupReport(contracts=contracts, days=total_days, failures=failures)


def dirty_marks(*, contract: Contract) -> list[DirtyDay]:
    """A contract's marks, for settlement to consume in its own transaction."""
    return list(DirtyDay.objects.filter(contract=contract).only("id", "day", "rolled_up"))


def dirty_marks_consume(*, contract: Contract, ids: list[int]) -> None:
    """Drop the marks settlement handled, in settlement's transaction: a
    mark made since it read them stays for the next run."""
    DirtyDay.objects.filter(contract=contract, id__in=ids).delete()


# Reads of the rollups over a contract's local days [start, end), for
# settlement (billing/settlement.py): O(models x task types x days), never
# calls.


def _days(contract: Contract, start: date, end: date) -> dict:
    return {"contract": contract, "day__gte": start, "day__lt": end}


def call_rollup_lines(*, contract: Contract, start: date, end: date):
    """Per (model name, tier, task type), in that order: calls, tokens of
    each kind, cost_usd, charges, baseline_cost_usd."""
    return (
        CallRollup.objects.filter(**_days(contract, start, end))
        .values("llm_model__name", "llm_model__tier", "task_type")
        .annotate(
            calls=Sum("calls"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cache_read_tokens=Sum("cache_read_tokens"),
            cache_write_tokens=Sum("cache_write_tokens"),
            cache_write_1h_tokens=Sum("cache_write_1h_tokens"),
            reasoning_tokens=Sum("reasoning_tokens"),
            cost_usd=Sum("cost_usd"),
            charges=Sum("charge"),
            baseline_cost_usd=Sum("baseline_cost_usd"),
        )
        .order_by("llm_model__name", "task_type")
    )


def outcome_rollup_groups(*, contract: Contract, start: date, end: date):
    """Per (kind, status): outcomes, quantity, value, fee."""
    return (
        OutcomeRollup.objects.filter(**_days(contract, start, end))
        .values("kind", "status")
        .annotate(
            outcomes=Sum("outcomes"), quantity=Sum("quantity"), value=Sum("value"), fee=Sum("fee")
        )
    )


def call_rollup_days(*, contract: Contract, start: date, end: date):
    """Per local day: cost (USD) and charge."""
    return (
        CallRollup.objects.filter(**_days(contract, start, end))
        .values("day")
        .annotate(cost=Sum("cost_usd"), charge=Sum("charge"))
    )


def accepted_outcome_days(*, contract: Contract, start: date, end: date):
    """Per local day: the value and fees of accepted outcomes."""
    return (
        OutcomeRollup.objects.filter(**_days(contract, start, end), status=OutcomeStatus.ACCEPTED)
        .values("day")
        .annotate(value=Sum("value"), fee=Sum("fee"))
    )
