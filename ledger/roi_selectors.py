"""Live sums behind the ROI read (API.md "Audit reads": roi; docs/ROI.md).

Everything is aggregated in SQL, from the calls and outcomes stored now;
calls are never loaded into Python (DESIGN.md "Scale"). Every query filters
by contract_id. Groups are keyed by text: a local date (the first day of
the day, week or month, in the contract's time zone, weeks starting on
Monday), a model name, a tier or a task type. Names and tiers come from the
catalog (routing.selectors.model_labels); outcomes by model or tier are
split over calls by ledger/attribution.py.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection

from billing.models import Contract
from core.money import exact_context
from ledger.attribution import (
    EARLIEST,
    LATEST,
    attributed_sums,
    unattributed_sums,
)
from ledger.selectors import models_used
from routing.selectors import model_labels

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
    "task_type": "c.task_type",
    TOTAL: f"'{TOTAL}'",
}
# By model or tier: calls grouped by model, then labelled from the catalog.
MODEL_LABELS = {"model": "name", "tier": "tier"}
# Outcomes keyed by their own time and task type; by model or tier they are
# attributed to calls instead (ledger/attribution.py).
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
    key = "c.llm_model_id" if group_by in MODEL_LABELS else CALL_KEYS[group_by]
    query = f"""
        SELECT {key}, count(*), sum(c.cost_usd), sum(c.charge), sum(c.baseline_cost_usd)
          FROM ledger_call c
         WHERE {_in_range("c", start, end)}
         GROUP BY 1
    """
    rows = _fetch(query, _params(contract, start, end))
    if group_by not in MODEL_LABELS:
        return {key: CallSums(*sums) for key, *sums in rows}
    labels = model_labels(ids=[model_id for model_id, *_ in rows], label=MODEL_LABELS[group_by])
    merged: dict[str, list] = {}
    with exact_context():
        for model_id, *sums in rows:
            group = merged.setdefault(labels[model_id], [0, Decimal(0), Decimal(0), Decimal(0)])
            for i, amount in enumerate(sums):
                group[i] += amount
    return {key: CallSums(*sums) for key, sums in merged.items()}


def roi_outcome_sums(
    *, contract: Contract, group_by: str, start: datetime | None, end: datetime | None
) -> dict[str, OutcomeSums]:
    """Accepted outcomes, value and outcome fees per group (``TOTAL``: one
    group). By model or tier, an outcome's share follows its calls in the
    same range (ledger/attribution.py); an outcome with none goes to
    ``UNATTRIBUTED``, and one split over several groups counts once in each
    of them."""
    if group_by in MODEL_LABELS:
        return _attributed_outcome_sums(contract, MODEL_LABELS[group_by], start, end)
    query = f"""
        SELECT {OUTCOME_KEYS[group_by]}, count(*), sum(o.value), sum(o.fee)
          FROM ledger_outcome_current o
         WHERE {_in_range("o", start, end)} AND o.status = 'accepted'
         GROUP BY 1
    """
    return {
        key: OutcomeSums(count, value, fees)
        for key, count, value, fees in _fetch(query, _params(contract, start, end))
    }


def _attributed_outcome_sums(
    contract: Contract, label: str, start: datetime | None, end: datetime | None
) -> dict[str, OutcomeSums]:
    start, end = start or EARLIEST, end or LATEST
    labels = model_labels(ids=models_used(contract=contract), label=label)
    sums = {
        key: OutcomeSums(group.outcomes, group.value, group.fees)
        for (key,), group in attributed_sums(
            contract_id=contract.id, start=start, end=end, key="label", labels=labels
        ).items()
        if group.outcomes
    }
    rest = unattributed_sums(contract_id=contract.id, start=start, end=end)
    if rest.outcomes:
        sums[UNATTRIBUTED] = OutcomeSums(rest.outcomes, rest.value, rest.fees)
    return sums
