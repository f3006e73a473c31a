"""Reads of organizations and contracts, always scoped to the caller.

Anything outside the caller's reach is NotFound, exactly as if it did not
exist (API.md "Conventions").
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from billing.auth import Principal
from billing.models import Contract, Role, Statement
from core.caches import process_cache
from core.errors import NotFound


def contract_list(*, principal: Principal) -> QuerySet[Contract]:
    contracts = Contract.objects.select_related("vendor", "customer", "baseline_model")
    if principal.role == Role.VENDOR:
        return contracts.filter(vendor_id=principal.organization_id)
    if principal.role == Role.CUSTOMER:
        return contracts.filter(customer_id=principal.organization_id)
    return contracts


def _not_found(code: str) -> NotFound:
    return NotFound(f"no contract '{code}'")


def _check_role(principal: Principal, code: str, roles: tuple[str, ...] | None) -> None:
    """A role that may not act on the contract this way gets the same 404 as
    a stranger: a customer's own contract has no write reach."""
    if roles is not None and principal.role not in roles:
        raise _not_found(code)


def contract_get(
    *, principal: Principal, code: str, roles: tuple[str, ...] | None = None
) -> Contract:
    """The contract ``code`` within the caller's reach. ``roles``: the roles
    that may act on it (None: every role)."""
    _check_role(principal, code, roles)
    contract = contract_list(principal=principal).filter(code=code).first()
    if contract is None:
        raise _not_found(code)
    return contract


# Who reaches a contract never changes (its vendor and customer are fixed
# terms, billing/admin/contracts.py), so (organization, role, code) -> id
# is kept for the life of the process; the key itself is checked every
# request.
_reach = process_cache("contract_reach")


def contract_id_get(
    *, principal: Principal, code: str, roles: tuple[str, ...] | None = None
) -> int:
    """contract_get's id alone, remembered: the route path (docs/ROUTING.md
    "Benchmark") reads no contract row once a process has seen the caller."""
    _check_role(principal, code, roles)
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
            raise _not_found(code)
        _reach.put(key, contract_id)
    return contract_id


def contract_detail(*, contract: Contract) -> Contract:
    """The contract with its schedules, spend limits and routing models."""
    prefetch_related_objects(
        [contract], "value_schedule", "fee_schedule", "spend_limits", "routing_models"
    )
    return contract


@dataclass(frozen=True, slots=True)
class Schedules:
    """A contract's value and fee schedules, keyed (kind, task_type or None)."""

    values: dict[tuple[str, str | None], Decimal]
    fees: dict[tuple[str, str | None], Decimal]
    hourly_rate: Decimal | None

    def unit_value(self, kind: str, task_type: str | None) -> Decimal | None:
        """DESIGN.md "Outcome": (kind, task_type), else (kind, any), else the
        hourly rate for hours_saved; None means the kind has no value."""
        value = self.values.get((kind, task_type), self.values.get((kind, None)))
        if value is None and kind == "hours_saved":
            return self.hourly_rate
        return value

    def unit_fee(self, kind: str, task_type: str) -> Decimal:
        """DESIGN.md "Charges": (kind, task_type), else (kind, any), else no fee."""
        return self.fees.get((kind, task_type), self.fees.get((kind, None), Decimal(0)))


def contract_schedules(*, contract: Contract) -> Schedules:
    return Schedules(
        values={(r.kind, r.task_type): r.unit_value for r in contract.value_schedule.all()},
        fees={(r.kind, r.task_type): r.fee for r in contract.fee_schedule.all()},
        hourly_rate=contract.hourly_rate,
    )


def statement_list(*, contract: Contract) -> QuerySet[Statement]:
    # The adjusted statement by a second query of the same contract, not a
    # self-join on adjusts_id alone, which Citus could not keep on the
    # contract's shard (docs/SCALE.md); the contract: a statement's cap_bound
    # reads its payout_share.
    return (
        Statement.objects.filter(contract=contract)
        .select_related("contract")
        .prefetch_related(Prefetch("adjusts", queryset=Statement.objects.filter(contract=contract)))
    )


def statement_get(*, contract: Contract, number: int) -> Statement:
    statement = statement_list(contract=contract).filter(number=number).first()
    if statement is None:
        raise NotFound(f"no statement #{number} in contract '{contract.code}'")
    return statement


def statement_superseded_by(*, statement: Statement) -> Statement | None:
    """The latest later statement of the same period, if any."""
    return (
        Statement.objects.filter(
            contract_id=statement.contract_id,
            period_start=statement.period_start,
            number__gt=statement.number,
        )
        .order_by("-number")
        .first()
    )
