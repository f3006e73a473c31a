"""Daily rollups, in SQL, incremental (DESIGN.md "Scale"): only the
(contract, local day) pairs marked dirty since the last run are rebuilt, and
calls are never loaded into Python."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection, transaction

from billing.models import Contract
from core.localtime import local_midnight_utc
from ledger.models import DirtyDay

CALL_ROLLUP_SQL = """
INSERT INTO ledger_callrollup (
    contract_id, day, llm_model_id, task_type, service_tier, calls, input_tokens,
    output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, charge,
    baseline_cost_usd)
SELECT contract_id, (occurred_at AT TIME ZONE %(tz)s)::date, llm_model_id, task_type,
       service_tier, count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),
       sum(cache_write_tokens), sum(reasoning_tokens), sum(cost_usd), sum(charge),
       sum(baseline_cost_usd)
  FROM ledger_call
 WHERE contract_id = %(contract_id)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
   AND (occurred_at AT TIME ZONE %(tz)s)::date = ANY(%(days)s)
 GROUP BY 1, 2, 3, 4, 5
"""

OUTCOME_ROLLUP_SQL = """
INSERT INTO ledger_outcomerollup (
    contract_id, day, kind, task_type, status, outcomes, quantity, value, fee)
SELECT contract_id, (occurred_at AT TIME ZONE %(tz)s)::date, kind, task_type,
       ledger_outcome_status(contract_id, id), count(*), sum(quantity), sum(value), sum(fee)
  FROM ledger_outcome
 WHERE contract_id = %(contract_id)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
   AND (occurred_at AT TIME ZONE %(tz)s)::date = ANY(%(days)s)
 GROUP BY 1, 2, 3, 4, 5
"""


@dataclass(frozen=True, slots=True)
class RollupReport:
    contracts: int
    days: int


def days_rollup(*, contract: Contract, days: list[date]) -> None:
    """Rebuild the call and outcome rollups of ``days`` (local to the contract)."""
    tz = contract.tz
    params = {
        "tz": contract.timezone,
        "contract_id": contract.id,
        "start": local_midnight_utc(min(days), tz),
        "end": local_midnight_utc(max(days) + timedelta(days=1), tz),
        "days": days,
    }
    with connection.cursor() as cursor:
        for table, sql in (
            ("ledger_callrollup", CALL_ROLLUP_SQL),
            ("ledger_outcomerollup", OUTCOME_ROLLUP_SQL),
        ):
            cursor.execute(
                f"DELETE FROM {table} WHERE contract_id = %s AND day = ANY(%s)",
                [contract.id, days],
            )
            cursor.execute(sql, params)


def rollups_refresh() -> RollupReport:
    """Rebuild every day marked dirty and not yet rolled up, one transaction
    per contract. Marks locked by a concurrent run are skipped, not waited on."""
    contract_ids = (
        DirtyDay.objects.filter(rolled_up=False).values_list("contract_id", flat=True).distinct()
    )
    total_days = 0
    contracts = 0
    for contract in Contract.objects.filter(id__in=list(contract_ids)):
        with transaction.atomic():
            marks = list(
                DirtyDay.objects.select_for_update(skip_locked=True)
                .filter(contract=contract, rolled_up=False)
                .values_list("id", "day")
            )
            if not marks:
                continue
            days = sorted({day for _, day in marks})
            days_rollup(contract=contract, days=days)
            DirtyDay.objects.filter(id__in=[mark_id for mark_id, _ in marks]).update(rolled_up=True)
        contracts += 1
        total_days += len(days)
    return RollupReport(contracts=contracts, days=total_days)


def dirty_marks(*, contract: Contract) -> list[DirtyDay]:
    """A contract's marks, for settlement to consume in its own transaction."""
    return list(DirtyDay.objects.filter(contract=contract).only("id", "day", "rolled_up"))
