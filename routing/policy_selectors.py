"""Reads of routing policies: realized figures per model or per policy
version, the current version, and route decisions (DESIGN.md "Routing
feedback"). Every query filters by contract (DESIGN.md "Scale")."""

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection

from billing.models import Contract
from core.caches import process_cache
from core.errors import NotFound
from core.money import amount_str
from ledger.attribution import attributed_sums
from routing.models import PolicyVersion


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


NOTHING = Realized(0, 0, Decimal(0), Decimal(0))


def realized_stats(
    *, contract_id: int, start: datetime, end: datetime, grouping: str
) -> dict[tuple, Realized]:
    """Realized figures over [start, end), keyed by (task_type, model id)
    (``grouping`` "task_type_model") or (policy_version,) ("policy_version"):
    tasks (distinct task_refs), successes (tasks with an accepted outcome),
    cost of the group's calls, and the value its calls were attributed
    (ledger/attribution.py, DESIGN.md "Routing feedback")."""
    groups = attributed_sums(contract_id=contract_id, start=start, end=end, key=grouping)
    return {
        key: Realized(group.tasks, group.successes, group.cost_usd, group.value)
        for key, group in groups.items()
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


# The id of each contract's version in force, as this process last read it
# (contract id -> (version id or None, when to read it again)): a route
# request asks the database (one index lookup) at most once a
# LATEST_CHECK_SECONDS, so a new version is served within that time, at once
# in the process that published it.
_latest = process_cache("latest_policy_versions")
LATEST_CHECK_SECONDS = 1.0
LATEST_SQL = (
    "SELECT id FROM routing_policyversion WHERE contract_id = %s ORDER BY as_of DESC LIMIT 1"
)


def latest_version_forget(*, contract_id: int) -> None:
    _latest.forget(contract_id)


def latest_version_id(*, contract_id: int) -> int | None:
    """The id of the contract's version in force (None: it has none yet)."""
    now = time.monotonic()
    checked = _latest.get(contract_id)
    if checked is None or checked[1] <= now:
        with connection.cursor() as cursor:
            cursor.execute(LATEST_SQL, [contract_id])
            row = cursor.fetchone()
        checked = (None if row is None else row[0], now + LATEST_CHECK_SECONDS)
        _latest.put(contract_id, checked)
    return checked[0]
