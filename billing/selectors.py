"""Reads of organizations and contracts, always scoped to the caller.

Anything outside the caller's reach is NotFound, exactly as if it did not
exist (API.md "Conventions").
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from billing.auth import Principal
from billing.models import Contract, Role, Statement
from core.errors import NotFound


def contract_list(*, principal: Principal) -> QuerySet[Contract]:
    contracts = Contract.objects.select_related("vendor", "customer", "baseline_model")
    if principal.role == Role.VENDOR:
        return contracts.filter(vendor_id=principal.organization_id)
    if principal.role == Role.CUSTOMER:
        return contracts.filter(customer_id=principal.organization_id)
    return contracts


def _one(contracts: QuerySet[Contract], code: str) -> Contract:
    contract = contracts.filter(code=code).first()
    if contract is None:
        raise NotFound(f"no contract '{code}'")
    return contract


def contract_get(*, principal: Principal, code: str) -> Contract:
    return _one(contract_list(principal=principal), code)


def contract_get_for_ingest(*, principal: Principal, code: str) -> Contract:
    """Writes of calls and outcomes: the contract's vendor, or an admin.
    A customer's own contract is answered 404 too: it has no write reach."""
    contract = contract_get(principal=principal, code=code)
    if principal.role not in (Role.VENDOR, Role.ADMIN):
        raise NotFound(f"no contract '{code}'")
    return contract


def contract_detail(*, principal: Principal, code: str) -> Contract:
    contracts = contract_list(principal=principal).prefetch_related(
        "value_schedule", "fee_schedule", "spend_limits", "routing_models"
    )
    return _one(contracts, code)


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
