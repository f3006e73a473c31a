"""Reads for finance people (DESIGN.md "Cost drift, repricing and the
journal, for people"): the cost drift report and the journal by period.

The drift report is aggregated in SQL from the stored calls (DESIGN.md
"Scale"); every query filters by contract_id. docs/SETTLEMENT.md "Cost drift"
and "Journal" give the rules.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Prefetch, QuerySet

from billing.models import Contract, Period, Statement
from billing.periods import period_of
from core.errors import InvalidInput
from core.localtime import local_midnight_utc
from core.money import exact_context, ratio
from ledger.models import JournalEntry, JournalPosting

DRIFT_GROUP_BYS = ("model", "provider", "period")
# The worst calls listed per group: the largest |reported - computed|.
WORST_CALLS = 5
# The statement page notes drift when |Σ reported - Σ computed| is more than
# this share of Σ computed over the period's compared calls (docs/SETTLEMENT.md).
DRIFT_NOTE_SHARE = Decimal("0.01")

_PERIOD_UNITS = {Period.MONTH: "month", Period.QUARTER: "quarter", Period.YEAR: "year"}
_KEYS = {
    "model": "m.name",
    "provider": "m.provider",
    "period": "to_char(date_trunc(%(unit)s, c.occurred_at AT TIME ZONE %(tz)s), 'YYYY-MM-DD')",
}
# A call is compared when it reports a cost and has a computed one (a call of
# a model with no price in force reports its cost and has none).
_COMPARED = "c.reported_cost_usd IS NOT NULL AND c.computed_cost_usd IS NOT NULL"

DRIFT_SQL = """
SELECT {key} AS key, count(*),
       count(c.reported_cost_usd),
       count(*) FILTER (WHERE {compared}),
       COALESCE(sum(c.reported_cost_usd) FILTER (WHERE {compared}), 0),
       COALESCE(sum(c.computed_cost_usd) FILTER (WHERE {compared}), 0)
  FROM ledger_call c JOIN routing_llmmodel m ON m.id = c.llm_model_id
 WHERE c.contract_id = %(contract_id)s {in_range}
 GROUP BY 1 ORDER BY 1
"""
WORST_SQL = """
SELECT key, external_id, occurred_at, model, provider, reported, computed
  FROM (SELECT {key} AS key, c.external_id, c.occurred_at, m.name AS model,
               m.provider, c.reported_cost_usd AS reported, c.computed_cost_usd AS computed,
               row_number() OVER (PARTITION BY {key}
                                  ORDER BY abs(c.reported_cost_usd - c.computed_cost_usd) DESC,
                                           c.external_id) AS rank
          FROM ledger_call c JOIN routing_llmmodel m ON m.id = c.llm_model_id
         WHERE c.contract_id = %(contract_id)s {in_range} AND {compared}
           AND c.reported_cost_usd <> c.computed_cost_usd) ranked
 WHERE rank <= %(worst)s
 ORDER BY key, rank
"""


@dataclass(frozen=True, slots=True)
class DriftCall:
    external_id: str
    occurred_at: datetime
    model: str
    provider: str
    reported_cost_usd: Decimal
    computed_cost_usd: Decimal
    drift_usd: Decimal


@dataclass(frozen=True, slots=True)
class DriftGroup:
    """Exact sums (10 places) over one group's calls. The sums and the
    difference cover the compared calls only, so they compare like with like."""

    key: str
    calls: int
    calls_with_reported_cost: int
    calls_compared: int
    reported_cost_usd: Decimal
    computed_cost_usd: Decimal
    drift_usd: Decimal
    drift_share: Decimal | None
    worst_calls: list[DriftCall]

    @classmethod
    def of(cls, key, calls, reported_calls, compared, reported, computed, worst) -> "DriftGroup":
        with exact_context():
            drift = reported - computed
        return cls(
            key,
            calls,
            reported_calls,
            compared,
            reported,
            computed,
            drift,
            ratio(drift, computed),
            worst,
        )


@dataclass(frozen=True, slots=True)
class DriftReport:
    group_by: str
    start: datetime | None
    end: datetime | None
    groups: list[DriftGroup]
    totals: DriftGroup


def _in_range(start: datetime | None, end: datetime | None) -> str:
    clauses = []
    if start is not None:
        clauses.append("AND c.occurred_at >= %(start)s")
    if end is not None:
        clauses.append("AND c.occurred_at < %(end)s")
    return " ".join(clauses)


def _fetch(query: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def drift_report(
    *, contract: Contract, group_by: str, start: datetime | None = None, end: datetime | None = None
) -> DriftReport:
    """DESIGN.md "Cost drift": per group, the calls with a reported cost,
    Σ reported, Σ computed, the difference and its share of Σ computed, and
    the worst calls. By period, a group's key is the period's first local
    day (the contract's months, quarters or years)."""
    if group_by not in DRIFT_GROUP_BYS:
        raise InvalidInput(f"group_by must be one of {', '.join(DRIFT_GROUP_BYS)}")
    params = {
        "contract_id": contract.id,
        "start": start,
        "end": end,
        "tz": contract.timezone,
        "unit": _PERIOD_UNITS[contract.period],
        "worst": WORST_CALLS,
    }
    in_range = _in_range(start, end)
    worst: dict[str, list[DriftCall]] = {}
    for key, external_id, at, model, provider, reported, computed in _fetch(
        WORST_SQL.format(key=_KEYS[group_by], in_range=in_range, compared=_COMPARED), params
    ):
        worst.setdefault(key, []).append(
            DriftCall(external_id, at, model, provider, reported, computed, reported - computed)
        )
    rows = _fetch(
        DRIFT_SQL.format(key=_KEYS[group_by], in_range=in_range, compared=_COMPARED), params
    )
    groups = [DriftGroup.of(*row, worst.get(row[0], [])) for row in rows]
    if group_by == "period":
        groups = [
            replace(g, key=period_of(contract, date.fromisoformat(g.key)).start.isoformat())
            for g in groups
        ]
    everything = sorted(
        (call for group in groups for call in group.worst_calls),
        key=lambda call: (-abs(call.drift_usd), call.external_id),
    )
    totals = DriftGroup.of(
        "total",
        sum((g.calls for g in groups), 0),
        sum((g.calls_with_reported_cost for g in groups), 0),
        sum((g.calls_compared for g in groups), 0),
        sum((g.reported_cost_usd for g in groups), Decimal(0)),
        sum((g.computed_cost_usd for g in groups), Decimal(0)),
        everything[:WORST_CALLS],
    )
    return DriftReport(group_by, start, end, groups, totals)


def statement_drift(*, statement: Statement) -> DriftGroup:
    """The drift of a statement's whole period, from the calls stored now."""
    contract = statement.contract
    report = drift_report(
        contract=contract,
        group_by="period",
        start=local_midnight_utc(statement.period_start, contract.tz),
        end=local_midnight_utc(statement.period_end, contract.tz),
    )
    return report.totals


def drift_note(*, statement: Statement) -> str | None:
    """The line the statement page shows when the period's drift share is
    more than DRIFT_NOTE_SHARE (None otherwise)."""
    drift = statement_drift(statement=statement)
    if drift.drift_share is None or abs(drift.drift_share) <= DRIFT_NOTE_SHARE:
        return None
    return (
        f"Cost drift: over the {drift.calls_compared} calls of this period that report their "
        f"own cost, the providers billed {drift.reported_cost_usd.normalize():f} USD against "
        f"{drift.computed_cost_usd.normalize():f} USD computed from the price book, a "
        f"difference of {drift.drift_usd.normalize():f} USD ({drift.drift_share * 100:.2f}%), "
        f"more than the {DRIFT_NOTE_SHARE * 100:.0f}% this page notes. The statement uses the "
        "reported costs (the provider's bill is authoritative); the drift report lists the "
        "worst calls."
    )


# --- the journal ------------------------------------------------------------


def journal_statements(
    *, contract: Contract, start: datetime | None = None, end: datetime | None = None
) -> dict[int, Statement]:
    """The contract's statements whose period starts (local midnight) in
    [start, end), by number: the journal's entries are read per period."""
    statements = {}
    for statement in Statement.objects.filter(contract=contract).order_by("number"):
        begins = local_midnight_utc(statement.period_start, contract.tz)
        if (start is None or begins >= start) and (end is None or begins < end):
            statements[statement.number] = statement
    return statements


def journal_entries(*, contract: Contract, numbers: list[int]) -> QuerySet[JournalEntry]:
    """The entries of those statements, with their postings in one query."""
    postings = JournalPosting.objects.order_by("id")
    return JournalEntry.objects.filter(
        contract=contract, statement_number__in=numbers
    ).prefetch_related(Prefetch("postings", queryset=postings))


def settled_periods_as_of(*, statement: Statement) -> list[dict]:
    """Every period of the contract settled by this statement's issue (its
    number or earlier), up to its own period, each as its latest statement
    then had it: value, charges and roi as (re-)settled. The chart of an
    issued statement therefore never changes."""
    latest: dict = {}
    for earlier in Statement.objects.filter(
        contract_id=statement.contract_id,
        number__lte=statement.number,
        period_start__lte=statement.period_start,
    ).order_by("number"):
        latest[earlier.period_start] = earlier.period_figures
    return [
        {
            "period_start": start,
            "value": Decimal(figures["value"]),
            "charges": Decimal(figures["charges"]),
            "roi": None if figures["roi"] is None else Decimal(figures["roi"]),
        }
        for start, figures in sorted(latest.items())
    ]
