"""What an accepted outcome is worth to each call of its task: the one place
the split is written (DESIGN.md "Routing feedback"). Live ROI by model or
tier (ledger/roi_selectors.py) and routing's realized figures per model and
per policy version (routing/policy_selectors.py) both read it, so they add
up to the same amounts to the last unit of 10^-10.

An outcome's value and fee are split over the calls of its ``task_ref`` in
the same range, in proportion to call cost, equally when they all cost 0.
Walking the calls in id order, each call gets the difference of two
cumulative shares (amount x weight so far / whole weight, multiplied before
dividing so that an even split stays exact), each truncated to 10 places:
the last cumulative share is the whole amount, so the parts of an outcome
add up to it exactly and groups foot with totals. Everything runs in SQL;
calls are never loaded into Python (DESIGN.md "Scale").

Calls are grouped by a key built from their own columns or from a label per
model the caller passes in (a model's name or tier, read from the catalog
by the caller), so the query reads the ledger's tables only. A call whose
key is null (no policy version, no label) weighs in the split but forms no
group.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection, transaction

# Without ?from= and ?to=: every record.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)

# A call's group: one or more of its columns, or the caller's label of its
# model ("label").
CALL_KEYS = {
    "task_type_model": ("c.task_type", "c.llm_model_id"),
    "policy_version": ("c.policy_version",),
    "label": ("l.label",),
}

# Outcomes are read through the view ledger_outcome_current (their status:
# ledger migration 0007), not through ledger_outcome_status() per outcome:
# one hash join over the contract's few events instead of a probe per
# outcome (15 s -> 9 s for 787,028 accepted outcomes).

ATTRIBUTION_SQL = """
WITH accepted AS (
    SELECT o.id, o.task_ref, o.value, o.fee
      FROM ledger_outcome_current o
     WHERE o.contract_id = %(contract_id)s AND o.occurred_at >= %(start)s
       AND o.occurred_at < %(end)s AND o.task_ref IS NOT NULL AND o.status = 'accepted'
),
calls AS (
    SELECT c.id, c.task_ref, c.cost_usd, {keys}
      FROM ledger_call c {label_join}
     WHERE c.contract_id = %(contract_id)s AND c.occurred_at >= %(start)s
       AND c.occurred_at < %(end)s
),
weighted AS (
    SELECT a.id AS outcome_id, a.task_ref, a.value, a.fee, {call_keys},
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
),
attributed AS (
    SELECT {names}, count(DISTINCT outcome_id) AS outcomes,
           count(DISTINCT task_ref) AS successes,
           sum(trunc(value * through_weight / whole_weight, 10)
               - trunc(value * before_weight / whole_weight, 10)) AS value,
           sum(trunc(fee * through_weight / whole_weight, 10)
               - trunc(fee * before_weight / whole_weight, 10)) AS fees
      FROM weighted
     GROUP BY {names}
),
tasks AS (
    SELECT {names}, count(DISTINCT task_ref) AS tasks, sum(cost_usd) AS cost
      FROM calls
     GROUP BY {names}
)
SELECT {t_names}, t.tasks, coalesce(a.successes, 0), t.cost, coalesce(a.outcomes, 0),
       coalesce(a.value, 0), coalesce(a.fees, 0)
  FROM tasks t LEFT JOIN attributed a ON {same_group}
 WHERE {t_not_null}
 ORDER BY {t_names}
"""

# Accepted outcomes that no call of the range carries: counted whole, in no
# call's group.
UNATTRIBUTED_SQL = """
SELECT count(*), coalesce(sum(o.value), 0), coalesce(sum(o.fee), 0)
  FROM ledger_outcome_current o
 WHERE o.contract_id = %(contract_id)s AND o.occurred_at >= %(start)s
   AND o.occurred_at < %(end)s AND o.status = 'accepted'
   AND NOT EXISTS (
       SELECT 1 FROM ledger_call c
        WHERE c.contract_id = o.contract_id AND c.task_ref = o.task_ref
          AND c.occurred_at >= %(start)s AND c.occurred_at < %(end)s)
"""


@dataclass(frozen=True, slots=True)
class Attributed:
    """What a group of calls did over a range. ``cost_usd`` counts every
    call of the group (with or without a task_ref); ``value`` and ``fees``
    (contract currency) are the group's shares of accepted outcomes."""

    tasks: int
    successes: int
    cost_usd: Decimal
    outcomes: int
    value: Decimal
    fees: Decimal


@dataclass(frozen=True, slots=True)
class Unattributed:
    outcomes: int
    value: Decimal
    fees: Decimal


def attributed_sums(
    *,
    contract_id: int,
    start: datetime,
    end: datetime,
    key: str,
    labels: Mapping[int, str] | None = None,
) -> dict[tuple, Attributed]:
    """Per group of calls over [start, end): tasks (distinct task_refs),
    successes (of those, with an accepted outcome in the range), cost, and
    the attributed value, fees and outcomes (an outcome split over several
    groups counts once in each). ``key``: a name of CALL_KEYS; "label"
    groups by ``labels[model id]``."""
    columns = CALL_KEYS[key]
    names = [f"k{i}" for i in range(len(columns))]
    label_join = ""
    params: dict = {"contract_id": contract_id, "start": start, "end": end}
    if key == "label":
        label_join = (
            "LEFT JOIN unnest(%(label_ids)s::bigint[], %(label_texts)s::text[])"
            " AS l(model_id, label) ON l.model_id = c.llm_model_id"
        )
        params["label_ids"] = list(labels or {})
        params["label_texts"] = list((labels or {}).values())
    query = ATTRIBUTION_SQL.format(
        keys=", ".join(f"{column} AS {name}" for column, name in zip(columns, names, strict=True)),
        label_join=label_join,
        call_keys=", ".join(f"calls.{name}" for name in names),
        names=", ".join(names),
        t_names=", ".join(f"t.{name}" for name in names),
        same_group=" AND ".join(f"a.{name} IS NOT DISTINCT FROM t.{name}" for name in names),
        t_not_null=" AND ".join(f"t.{name} IS NOT NULL" for name in names),
    )
    width = len(names)
    with transaction.atomic(), connection.cursor() as cursor:
        # Right after a bulk load the tables' statistics are stale and the
        # planner may pick a nested loop over the aggregates: quadratic. The
        # hash join is right at every size; give it memory to stay in RAM.
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(query, params)
        return {tuple(row[:width]): Attributed(*row[width:]) for row in cursor.fetchall()}


def unattributed_sums(*, contract_id: int, start: datetime, end: datetime) -> Unattributed:
    """Accepted outcomes of [start, end) whose task has no call in it."""
    with connection.cursor() as cursor:
        cursor.execute(
            UNATTRIBUTED_SQL,
            {"contract_id": contract_id, "start": start, "end": end},
        )
        return Unattributed(*cursor.fetchone())
