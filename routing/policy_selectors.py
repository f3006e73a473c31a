"""Reads of routing policies: realized figures per model or per policy
version, the current version, and route decisions (DESIGN.md "Routing
feedback"). Every query filters by contract (DESIGN.md "Scale")."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection, transaction

from billing.auth import Principal
from billing.models import Contract
from billing.selectors import contract_list
from core.errors import NotFound
from core.money import amount_str
from ledger.models import RouteDecision
from routing.models import PolicyVersion

# DESIGN.md "Routing feedback", all in SQL (calls are never loaded into
# Python): cost and calls per (group, task_ref), with the task_ref's total
# cost and calls over all groups (window sums), joined to the task_ref's
# accepted value; each (group, task_ref) gets value x its cost / the
# task_ref's cost (its share of the calls when the task_ref cost nothing). A
# task is a distinct task_ref; a success, a task with at least one accepted
# outcome (current status: the view of ledger migration 0007). Calls without
# task_ref add cost but no task. Calls and outcomes count inside [start, end).
STATS_SQL = """
WITH per_task AS (
    SELECT {group}, task_ref, sum(cost_usd) AS cost, count(*) AS calls,
           sum(sum(cost_usd)) OVER (PARTITION BY task_ref) AS ref_cost,
           sum(count(*)) OVER (PARTITION BY task_ref) AS ref_calls
      FROM ledger_call
     WHERE contract_id = %(contract_id)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
       {only}
     GROUP BY {group}, task_ref
), accepted AS (
    SELECT task_ref, sum(value) AS value
      FROM ledger_outcome_current
     WHERE contract_id = %(contract_id)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
       AND task_ref IS NOT NULL AND status = 'accepted'
     GROUP BY task_ref
)
SELECT {group_of_t}, count(t.task_ref), count(a.task_ref), sum(t.cost),
       round(coalesce(sum(CASE WHEN t.ref_cost > 0 THEN a.value * t.cost / t.ref_cost
                               ELSE a.value * t.calls / t.ref_calls END), 0), 10)
  FROM per_task t LEFT JOIN accepted a ON a.task_ref = t.task_ref
 GROUP BY {group_of_t}
"""

GROUPINGS = {
    "task_type_model": ("task_type, llm_model_id", "t.task_type, t.llm_model_id", ""),
    "policy_version": ("policy_version", "t.policy_version", "AND policy_version IS NOT NULL"),
}


@dataclass(frozen=True, slots=True)
class Realized:
    """What a group of calls achieved (cost in USD, value in the contract
    currency)."""

    tasks: int
    successes: int
    cost_usd: Decimal
    attributed_value: Decimal

    @property
    def success_rate(self) -> Decimal | None:
        return None if self.tasks == 0 else Decimal(self.successes) / Decimal(self.tasks)

    @property
    def value_per_dollar(self) -> Decimal | None:
        return None if self.cost_usd == 0 else self.attributed_value / self.cost_usd


# Without ?from= and ?to=, every call that recorded a version counts.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
NOTHING = Realized(0, 0, Decimal(0), Decimal(0))


def realized_stats(
    *, contract_id: int, start: datetime, end: datetime, grouping: str
) -> dict[tuple, Realized]:
    """Realized figures over [start, end), keyed by (task_type, model id) or
    (policy_version,)."""
    group, group_of_t, only = GROUPINGS[grouping]
    query = STATS_SQL.format(group=group, group_of_t=group_of_t, only=only)
    width = len(group.split(","))
    with transaction.atomic(), connection.cursor() as cursor:
        # Right after a bulk load the tables' statistics are stale and the
        # planner may pick a nested loop over the aggregates: quadratic. The
        # hash join is right at every size; give it memory to stay in RAM.
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(query, {"contract_id": contract_id, "start": start, "end": end})
        return {
            tuple(row[:width]): Realized(row[width], row[width + 1], row[width + 2], row[width + 3])
            for row in cursor.fetchall()
        }


def _ratio(value: Decimal | None) -> str | None:
    return None if value is None else amount_str(value)


def policy_versions_compare(
    *, contract: Contract, policies: list[PolicyVersion], start: datetime, end: datetime
) -> list[dict]:
    """Each version with what the calls that recorded it achieved."""
    realized = realized_stats(
        contract_id=contract.id, start=start, end=end, grouping="policy_version"
    )
    rows = []
    for policy in policies:
        stats = realized.get((policy.version,), NOTHING)
        rows.append(
            {
                "version": policy.version,
                "as_of": policy.as_of,
                "created_at": policy.created_at,
                "tasks": stats.tasks,
                "successes": stats.successes,
                "success_rate": _ratio(stats.success_rate),
                "cost_usd": amount_str(stats.cost_usd),
                "attributed_value": amount_str(stats.attributed_value),
                "value_per_dollar": _ratio(stats.value_per_dollar),
                "guard": policy.guard,
            }
        )
    return rows


def policy_latest(*, contract: Contract) -> PolicyVersion | None:
    """The version in force: the one with the latest ``as_of`` (DESIGN.md
    "Learning (nightly)")."""
    return PolicyVersion.objects.filter(contract=contract).order_by("-as_of").first()


def policy_in_force(*, contract: Contract, as_of: datetime) -> PolicyVersion | None:
    """The version that was in force just before ``as_of``."""
    return (
        PolicyVersion.objects.filter(contract=contract, as_of__lt=as_of).order_by("-as_of").first()
    )


def policy_get(*, contract: Contract, version: int) -> PolicyVersion:
    policy = PolicyVersion.objects.filter(contract=contract, version=version).first()
    if policy is None:
        raise NotFound(f"contract '{contract.code}' has no routing policy version {version}")
    return policy


def policy_version_list(*, contract: Contract):
    return PolicyVersion.objects.filter(contract=contract)


# Mean tokens and calls per task (distinct task_ref) per task type, and over
# every task type (the row whose task type is NULL): what an untried model
# would cost (DESIGN.md "The decision rule").
TOKENS_SQL = """
SELECT task_type, sum(input_tokens), sum(output_tokens), count(*), count(DISTINCT task_ref)
  FROM ledger_call
 WHERE contract_id = %(contract_id)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
   AND task_ref IS NOT NULL
 GROUP BY GROUPING SETS ((task_type), ())
"""


def task_tokens(
    *, contract_id: int, start: datetime, end: datetime
) -> dict[str | None, tuple[int, int, Decimal]]:
    """{task type or None: (mean input tokens, mean output tokens, calls per
    task)} over [start, end), for task types with at least one task."""
    with connection.cursor() as cursor:
        cursor.execute(TOKENS_SQL, {"contract_id": contract_id, "start": start, "end": end})
        return {
            task_type: (input_tokens // tasks, output_tokens // tasks, Decimal(calls) / tasks)
            for task_type, input_tokens, output_tokens, calls, tasks in cursor.fetchall()
            if tasks
        }


def decision_list(*, contract: Contract, task_type: str | None = None):
    """The contract's logged route decisions (DESIGN.md "Decisions are
    records"), as rows of DECISION_FIELDS."""
    decisions = RouteDecision.objects.filter(contract_id=contract.id)
    if task_type:
        decisions = decisions.filter(task_type=task_type)
    return decisions.select_related("llm_model")


# Who reaches a contract never changes (its vendor and customer are fixed
# terms, billing/admin.py), so (organization, role, code) -> contract id is
# kept for the life of the process; the key itself is checked every request.
_reach: dict[tuple[int, str, str], int] = {}


def contract_id_reachable(*, principal: Principal, code: str) -> int:
    """The id of the contract ``code`` within the caller's reach (404 else)."""
    key = (principal.organization_id, principal.role, code)
    contract_id = _reach.get(key)
    if contract_id is None:
        contract_id = (
            contract_list(principal=principal)
            .filter(code=code)
            .values_list("id", flat=True)
            .first()
        )
        if contract_id is None:
            raise NotFound(f"no contract '{code}'")
        _reach[key] = contract_id
    return contract_id


# The id of each contract's version in force, as this process last read it:
# a route request asks the database (one index lookup) at most once a
# LATEST_CHECK_SECONDS, so a new version is served within that time, at once
# in the process that published it.
_latest: dict[int, tuple[int | None, float]] = {}
LATEST_CHECK_SECONDS = 1.0
LATEST_SQL = (
    "SELECT id FROM routing_policyversion WHERE contract_id = %s ORDER BY as_of DESC LIMIT 1"
)


def latest_version_forget(*, contract_id: int) -> None:
    _latest.pop(contract_id, None)


def latest_version_id(*, contract_id: int) -> int | None:
    """The id of the contract's version in force (None: it has none yet)."""
    now = time.monotonic()
    checked = _latest.get(contract_id)
    if checked is None or checked[1] <= now:
        with connection.cursor() as cursor:
            cursor.execute(LATEST_SQL, [contract_id])
            row = cursor.fetchone()
        checked = (None if row is None else row[0], now + LATEST_CHECK_SECONDS)
        _latest[contract_id] = checked
    return checked[0]
