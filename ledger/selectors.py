"""Reads of the ledger. Every query filters by contract (DESIGN.md "Scale")."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from billing.models import Contract
from core.errors import NotFound
from ledger.models import Call, Outcome, OutcomeEvent, OutcomeStatus
from routing.selectors import models_named


@dataclass(frozen=True, slots=True)
class CallFilters:
    start: datetime | None = None
    end: datetime | None = None
    model: str | None = None
    task_type: str | None = None
    task_ref: str | None = None


@dataclass(frozen=True, slots=True)
class OutcomeFilters:
    start: datetime | None = None
    end: datetime | None = None
    kind: str | None = None
    status: str | None = None
    task_ref: str | None = None


def _in_range(queryset: QuerySet, start: datetime | None, end: datetime | None) -> QuerySet:
    if start is not None:
        queryset = queryset.filter(occurred_at__gte=start)
    if end is not None:
        queryset = queryset.filter(occurred_at__lt=end)
    return queryset


def call_list(*, contract: Contract, filters: CallFilters = CallFilters()) -> QuerySet[Call]:
    calls = Call.objects.filter(contract=contract).select_related("llm_model")
    calls = _in_range(calls, filters.start, filters.end)
    if filters.model:
        # By canonical name or alias, as at ingestion.
        calls = calls.filter(llm_model__in=models_named(name=filters.model))
    if filters.task_type:
        calls = calls.filter(task_type=filters.task_type)
    if filters.task_ref:
        calls = calls.filter(task_ref=filters.task_ref)
    return calls


def status_expression():
    """An outcome is accepted until an event says otherwise; its status is
    the to_status of its latest event (DESIGN.md "Outcome")."""
    latest = OutcomeEvent.objects.filter(
        contract_id=OuterRef("contract_id"), outcome_id=OuterRef("pk")
    ).order_by("-seq")
    return Coalesce(Subquery(latest.values("to_status")[:1]), Value(OutcomeStatus.ACCEPTED))


def outcome_list(
    *, contract: Contract, filters: OutcomeFilters = OutcomeFilters()
) -> QuerySet[Outcome]:
    outcomes = (
        Outcome.objects.filter(contract=contract)
        .annotate(status=status_expression())
        .prefetch_related("events")
    )
    outcomes = _in_range(outcomes, filters.start, filters.end)
    if filters.kind:
        outcomes = outcomes.filter(kind=filters.kind)
    if filters.status:
        outcomes = outcomes.filter(status=filters.status)
    if filters.task_ref:
        outcomes = outcomes.filter(task_ref=filters.task_ref)
    return outcomes


def outcome_get(*, contract: Contract, external_id: str) -> Outcome:
    outcome = outcome_list(contract=contract).filter(external_id=external_id).first()
    if outcome is None:
        raise NotFound(f"no outcome '{external_id}' in contract '{contract.code}'")
    return outcome
