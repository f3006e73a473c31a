"""Live sums behind the ROI read (API.md "Audit reads": roi; docs/ROI.md).

Everything is aggregated in SQL, from the calls and outcomes stored now;
calls are never loaded into Python (DESIGN.md "Scale"). Every query filters
by contract_id. Groups are keyed by text: a local date (the first day of
the day, week or month, in the contract's time zone, weeks starting on
Monday), a model name, a tier or a task type.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection

from billing.models import Contract

GROUP_BYS = ("day", "week", "month", "model", "task_type", "tier")
# Outcomes that no call of the range can carry (group_by model or tier).
UNATTRIBUTED = "unattributed"
TOTAL = "total"


def _local_start(column: str, unit: str) -> str:
    """The first local day of the day, week (ISO: Monday) or month holding
    ``column``, as 'YYYY-MM-DD'."""
    return f"to_char(date_trunc('{unit}', {column} AT TIME ZONE %(tz)s), 'YYYY-MM-DD')"


_TIME_KEYS = {unit: unit for unit in ("day", "week", "month")}
CALL_KEYS = {
    **{g: _local_start("c.occurred_at", unit) for g, unit in _TIME_KEYS.items()},
    "model": "m.name",
    "tier": "m.tier",
    "task_type": "c.task_type",
    TOTAL: f"'{TOTAL}'",
}
# Outcomes keyed by their own time and task type; by model or tier they are
# attributed to calls instead (ATTRIBUTED_OUTCOMES_SQL).
OUTCOME_KEYS = {
    **{g: _local_start("o.occurred_at", unit) for g, unit in _TIME_KEYS.items()},
    "task_type": "o.task_type",
    TOTAL: f"'{TOTAL}'",
}


@dataclass(frozen=True, slots=True)
class CallSums:
    calls: int
    cost_usd: Decimal
    charges: Decimal
    baseline_cost_usd: Decimal


@dataclass(frozen=True, slots=True)
class OutcomeSums:
    """Accepted outcomes only (DESIGN.md "Outcome": only accepted count)."""

    accepted_outcomes: int
    value: Decimal
    fees: Decimal


def _in_range(alias: str, start: datetime | None, end: datetime | None) -> str:
    """The half-open range from <= occurred_at < to (API.md "Conventions")."""
    conditions = [f"{alias}.contract_id = %(contract_id)s"]
    if start is not None:
        conditions.append(f"{alias}.occurred_at >= %(start)s")
    if end is not None:
        conditions.append(f"{alias}.occurred_at < %(end)s")
    return " AND ".join(conditions)


def _params(contract: Contract, start: datetime | None, end: datetime | None) -> dict:
    return {"contract_id": contract.id, "tz": contract.timezone, "start": start, "end": end}


def _fetch(query: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def roi_call_sums(
    *, contract: Contract, group_by: str, start: datetime | None, end: datetime | None
) -> dict[str, CallSums]:
    """Calls, cost, charges and baseline cost per group (``TOTAL``: one group)."""
    query = f"""
        SELECT {CALL_KEYS[group_by]}, count(*), sum(c.cost_usd), sum(c.charge),
               sum(c.baseline_cost_usd)
          FROM ledger_call c JOIN routing_llmmodel m ON m.id = c.llm_model_id
         WHERE {_in_range("c", start, end)}
         GROUP BY 1
    """
    return {
        key: CallSums(calls, cost, charges, baseline)
        for key, calls, cost, charges, baseline in _fetch(query, _params(contract, start, end))
    }


ACCEPTED = "ledger_outcome_status(o.contract_id, o.id) = 'accepted'"

# DESIGN.md "Routing feedback": an outcome's value (and here its fee) is split
# over the calls of its task_ref in proportion to call cost, equally when all
# cost 0. Walking the calls in id order, each call gets the difference of two
# cumulative shares (amount x weight so far / whole weight, multiplied before
# dividing so that an even split stays exact), each truncated to 10 places:
# the last cumulative share is the whole amount, so the parts of an outcome
# add up to it exactly and the groups foot with the totals.
ATTRIBUTED_OUTCOMES_SQL = """
WITH accepted AS (
    SELECT o.id, o.task_ref, o.value, o.fee
      FROM ledger_outcome o
     WHERE {outcomes_in_range} AND {accepted}
),
calls AS (
    SELECT c.id, c.task_ref, c.cost_usd, {key} AS key
      FROM ledger_call c JOIN routing_llmmodel m ON m.id = c.llm_model_id
     WHERE {calls_in_range} AND c.task_ref IS NOT NULL
),
weighted AS (
    SELECT a.id AS outcome_id, a.value, a.fee, calls.key,
           CASE WHEN sum(calls.cost_usd) OVER whole = 0
                THEN count(*) OVER upto ELSE sum(calls.cost_usd) OVER upto
           END AS through_weight,
           CASE WHEN sum(calls.cost_usd) OVER whole = 0
                THEN count(*) OVER upto - 1
                ELSE sum(calls.cost_usd) OVER upto - calls.cost_usd
           END AS before_weight,
           CASE WHEN sum(calls.cost_usd) OVER whole = 0
                THEN count(*) OVER whole ELSE sum(calls.cost_usd) OVER whole
           END AS whole_weight
      FROM accepted a JOIN calls ON calls.task_ref = a.task_ref
    WINDOW whole AS (PARTITION BY a.id),
           upto AS (PARTITION BY a.id ORDER BY calls.id
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT key, count(DISTINCT outcome_id),
       sum(trunc(value * through_weight / whole_weight, 10)
           - trunc(value * before_weight / whole_weight, 10)),
       sum(trunc(fee * through_weight / whole_weight, 10)
           - trunc(fee * before_weight / whole_weight, 10))
  FROM weighted
 GROUP BY key
UNION ALL
SELECT %(unattributed)s, count(*), sum(a.value), sum(a.fee)
  FROM accepted a
 WHERE NOT EXISTS (SELECT 1 FROM calls WHERE calls.task_ref = a.task_ref)
HAVING count(*) > 0
"""


def roi_outcome_sums(
    *, contract: Contract, group_by: str, start: datetime | None, end: datetime | None
) -> dict[str, OutcomeSums]:
    """Accepted outcomes, value and outcome fees per group (``TOTAL``: one
    group). By model or tier, an outcome's share follows its calls in the
    same range; an outcome with none goes to ``UNATTRIBUTED``, and one split
    over several groups counts once in each of them."""
    params = _params(contract, start, end)
    if group_by in CALL_KEYS and group_by not in OUTCOME_KEYS:
        query = ATTRIBUTED_OUTCOMES_SQL.format(
            outcomes_in_range=_in_range("o", start, end),
            accepted=ACCEPTED,
            key=CALL_KEYS[group_by],
            calls_in_range=_in_range("c", start, end),
        )
        params["unattributed"] = UNATTRIBUTED
    else:
        query = f"""
            SELECT {OUTCOME_KEYS[group_by]}, count(*), sum(o.value), sum(o.fee)
              FROM ledger_outcome o
             WHERE {_in_range("o", start, end)} AND {ACCEPTED}
             GROUP BY 1
        """
    return {
        key: OutcomeSums(count, value, fees) for key, count, value, fees in _fetch(query, params)
    }
