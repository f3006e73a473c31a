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
from routing.decisions import RouteTable, route
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
            }
        )
    return rows


def policy_current(*, contract: Contract) -> PolicyVersion:
    policy = PolicyVersion.objects.filter(contract=contract).order_by("-version").first()
    if policy is None:
        raise NotFound(
            f"contract '{contract.code}' has no routing policy yet; the nightly run publishes one",
            code="no_policy",
        )
    return policy


def policy_version_list(*, contract: Contract):
    return PolicyVersion.objects.filter(contract=contract)


@dataclass(frozen=True, slots=True)
class _Compiled:
    policy_id: int
    version: int
    tables: dict[str, RouteTable]
    default: RouteTable | None


def _compile(policy: PolicyVersion) -> _Compiled:
    def table(entry: dict) -> RouteTable | None:
        weights = {model: Decimal(w) for model, w in entry.get("weights", {}).items()}
        return RouteTable.of(weights) if weights else None

    tables = {tt: table(entry) for tt, entry in policy.task_types.items()}
    return _Compiled(policy.id, policy.version, tables, table(policy.default))


# The current version of each contract, compiled, in this process. A route
# request asks the database for the contract's latest version id (one index
# lookup) at most once a LATEST_CHECK_SECONDS, so a new version is served
# within that time; only a changed id reloads and recompiles the weights.
# Threads of one worker may race to fill an entry; both store the same thing.
_compiled: dict[int, _Compiled] = {}
_latest: dict[int, tuple[int, float]] = {}
LATEST_CHECK_SECONDS = 1.0


def latest_version_forget(*, contract_id: int) -> None:
    _latest.pop(contract_id, None)


# Who reaches a contract never changes (its vendor and customer are fixed
# terms, billing/admin.py), so (organization, role, code) -> contract id is
# kept for the life of the process; the key itself is checked every request.
_reach: dict[tuple[int, str, str], int] = {}
LATEST_SQL = (
    "SELECT id FROM routing_policyversion WHERE contract_id = %s ORDER BY version DESC LIMIT 1"
)


def _contract_id(principal: Principal, code: str) -> int:
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


def route_decide(*, principal: Principal, code: str, task_type: str, key: str) -> tuple[str, int]:
    """(model, policy version) for a request; a task type the version has no
    weights for gets the version's cold-start weights (docs/ROUTING.md)."""
    contract_id = _contract_id(principal, code)
    now = time.monotonic()
    checked = _latest.get(contract_id)
    if checked is None or checked[1] <= now:
        with connection.cursor() as cursor:
            cursor.execute(LATEST_SQL, [contract_id])
            row = cursor.fetchone()
        if row is None:
            raise NotFound(
                f"contract '{code}' has no routing policy yet; the nightly run publishes one",
                code="no_policy",
            )
        checked = (row[0], now + LATEST_CHECK_SECONDS)
        _latest[contract_id] = checked
    compiled = _compiled.get(contract_id)
    if compiled is None or compiled.policy_id != checked[0]:
        compiled = _compile(PolicyVersion.objects.get(id=checked[0]))
        _compiled[contract_id] = compiled
    table = compiled.tables.get(task_type) or compiled.default
    if table is None:
        raise NotFound(
            f"policy version {compiled.version} has no model to route to (no priced candidate "
            "and no baseline model)",
            code="no_route",
        )
    return route(table, key), compiled.version
