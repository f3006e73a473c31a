"""Reads of the ledger. Every query filters by contract (DESIGN.md "Scale")."""

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import CharField, F, Func, Prefetch, QuerySet
from psycopg import sql

from billing.models import Contract
from core.errors import NotFound
from ledger.models import Call, ContractModelUsed, Outcome, OutcomeEvent, RouteDecision
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


def status_expression() -> Func:
    """An outcome's current status: the SQL function ledger_outcome_status
    (ledger migration 0005) holds the rule."""
    return Func(
        F("contract_id"), F("id"), function="ledger_outcome_status", output_field=CharField()
    )


def outcome_list(
    *, contract: Contract, filters: OutcomeFilters = OutcomeFilters()
) -> QuerySet[Outcome]:
    outcomes = (
        Outcome.objects.filter(contract=contract)
        .annotate(status=status_expression())
        # By contract too, not by outcome ids alone (docs/SCALE.md).
        .prefetch_related(
            Prefetch("events", queryset=OutcomeEvent.objects.filter(contract=contract))
        )
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
    # Stored ids are NFC (DESIGN.md "Trust between the parties"): an NFD
    # spelling in a URL names the same outcome.
    external_id = unicodedata.normalize("NFC", external_id)
    outcome = outcome_list(contract=contract).filter(external_id=external_id).first()
    if outcome is None:
        raise NotFound(f"no outcome '{external_id}' in contract '{contract.code}'")
    return outcome


# The digest (API.md "Digest"): lines sorted bytewise. Every call line starts
# "call\t" and every outcome line "outcome\t", so calls come first; within a
# kind, lines sort as their external ids do, because ids hold no control
# character (ledger.records) and the column's "C" collation orders by bytes,
# which the unique index already does. COPY's CSV format with a tab
# delimiter writes each row exactly as its digest line: it quotes a value
# only when it holds the delimiter, a line break or the quote character, and
# the quote character chosen here (\x01) is a control character no value
# can hold; unlike the text format, it escapes nothing.
DIGEST_COPY = "COPY ({query}) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01')"
DIGEST_CALLS = """
SELECT 'call', external_id, cost_usd FROM ledger_call
 WHERE contract_id = {contract_id} AND occurred_at >= {start} AND occurred_at < {end}
 ORDER BY external_id
"""
DIGEST_OUTCOMES = """
SELECT 'outcome', external_id, value, status FROM ledger_outcome_current
 WHERE contract_id = {contract_id} AND occurred_at >= {start} AND occurred_at < {end}
 ORDER BY external_id
"""


def _digest_copies(contract: Contract, start: datetime, end: datetime):
    params = {
        "contract_id": sql.Literal(contract.id),
        "start": sql.Literal(start),
        "end": sql.Literal(end),
    }
    for query in (DIGEST_CALLS, DIGEST_OUTCOMES):
        yield sql.SQL(DIGEST_COPY.format(query=query)).format(**params)


def digest_input_chunks(*, contract: Contract, start: datetime, end: datetime, size=1 << 16):
    """The canonical digest text of [start, end), in chunks of about ``size``
    bytes (what the digest-input endpoint streams). Calls and outcomes are
    read in one snapshot (a caller's transaction, else one of its own)."""
    buffer = bytearray()
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for statement in _digest_copies(contract, start, end):
            with cursor.cursor.copy(statement) as copy:
                for row in copy:
                    buffer += row
                    if len(buffer) >= size:
                        yield bytes(buffer)
                        buffer.clear()
    if buffer:
        yield bytes(buffer)


def input_digest(*, contract: Contract, start: datetime, end: datetime) -> str:
    """SHA-256 of the digest text, lowercase hex; call inside a transaction
    when it must agree with other reads (settlement does)."""
    digest = hashlib.sha256()
    for chunk in digest_input_chunks(contract=contract, start=start, end=end):
        digest.update(chunk)
    return digest.hexdigest()


TASK_VALUES = """
WITH tasks AS (
    SELECT sum(CASE WHEN status = 'accepted' THEN value ELSE 0 END) AS value
      FROM ledger_outcome_current
     WHERE contract_id = %(contract_id)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
     GROUP BY task_ref IS NULL, COALESCE(task_ref, external_id)
)
SELECT count(*), COALESCE(sum(value), 0), COALESCE(sum(value * value), 0) FROM tasks
"""


@dataclass(frozen=True, slots=True)
class TaskMoments:
    """The period's tasks as a sample (DESIGN.md "Statistical honesty on
    statements"): how many, Σ value and Σ value², exact (NUMERIC)."""

    tasks: int
    value_sum: Decimal
    value_sum_of_squares: Decimal


def task_moments(*, contract: Contract, start: datetime, end: datetime) -> TaskMoments:
    """A task is the outcomes of [start, end) sharing a ``task_ref``; an
    outcome without one is a task of its own (keyed apart from every
    task_ref). Every outcome of the period forms tasks, whatever its status;
    a task's value is the value of its accepted outcomes (zero when none is
    accepted), so Σ task values is the period's value (docs/SETTLEMENT.md)."""
    with connection.cursor() as cursor:
        cursor.execute(TASK_VALUES, {"contract_id": contract.id, "start": start, "end": end})
        tasks, value_sum, squares = cursor.fetchone()
    return TaskMoments(tasks, Decimal(value_sum), Decimal(squares))


def models_used(*, contract: Contract) -> set[int]:
    """The models the contract's stored calls used (ledger.models.ContractModelUsed)."""
    return set(
        ContractModelUsed.objects.filter(contract=contract).values_list("llm_model_id", flat=True)
    )


# Reads for routing's learning and simulation (routing/learning.py,
# routing/simulation.py): the ledger owns the SQL over its tables.

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


# Each logged decision of a window with its cost and whether its task
# succeeded (an accepted outcome, current status), plus calls that were not
# routed (probability 1, no features), for routing's off-policy learning
# (DESIGN.md "Learning (nightly)").
LOGGED_SQL = """
WITH routed AS (
    SELECT route_id, min(task_ref) AS task_ref, sum(cost_usd) AS cost
      FROM ledger_call
     WHERE contract_id = %(contract_id)s AND route_id IS NOT NULL
       AND occurred_at >= %(start)s AND occurred_at < %(end)s
     GROUP BY route_id
), unrouted AS (
    SELECT task_type, llm_model_id, task_ref, sum(cost_usd) AS cost, min(id) AS first_id
      FROM ledger_call
     WHERE contract_id = %(contract_id)s AND route_id IS NULL AND task_ref IS NOT NULL
       AND occurred_at >= %(start)s AND occurred_at < %(end)s
     GROUP BY task_type, llm_model_id, task_ref
), ok AS (
    SELECT DISTINCT task_ref
      FROM ledger_outcome_current
     WHERE contract_id = %(contract_id)s AND status = 'accepted' AND task_ref IS NOT NULL
       AND occurred_at >= %(start)s AND occurred_at < %(end)s
)
(SELECT d.task_type, d.llm_model_id, d.probability::float8, d.features, r.cost::float8,
        ok.task_ref IS NOT NULL, 2 * d.id
   FROM routed r
   JOIN ledger_routedecision d ON d.contract_id = %(contract_id)s AND d.route_id = r.route_id
   LEFT JOIN ok ON ok.task_ref = r.task_ref)
UNION ALL
(SELECT u.task_type, u.llm_model_id, 1.0, NULL, u.cost::float8, ok.task_ref IS NOT NULL,
        2 * u.first_id + 1
   FROM unrouted u LEFT JOIN ok ON ok.task_ref = u.task_ref)
LIMIT %(limit)s
"""


def logged_rows(*, contract_id: int, start: datetime, end: datetime, limit: int):
    """Rows (task_type, model id, probability, features bytes or None, cost
    USD, success, order) over [start, end), at most ``limit``. ``order`` is
    fixed by when the row was written (the decision's id, else the first
    call's), so learning sees the same rows in the same order whatever order
    the query returns them in. A server-side cursor in binary: features
    arrive as bytes, not hex text, in chunks (memory: one chunk of rows at a
    time)."""
    with (
        transaction.atomic(),
        connection.connection.cursor(name="routing_logged", binary=True) as cursor,
    ):
        cursor.itersize = 20_000
        cursor.execute(
            LOGGED_SQL, {"contract_id": contract_id, "start": start, "end": end, "limit": limit}
        )
        yield from cursor


# Tasks, successes, cost and value per week since ``start`` (the routing
# simulation's report).
WEEK_SQL = """
SELECT c.week, c.tasks, coalesce(o.accepted, 0), c.cost, coalesce(o.value, 0)
  FROM (SELECT floor(extract(epoch FROM occurred_at - %(start)s) / 604800)::int AS week,
               count(DISTINCT task_ref) AS tasks, sum(cost_usd) AS cost
          FROM ledger_call WHERE contract_id = %(contract_id)s GROUP BY 1) c
  LEFT JOIN (SELECT floor(extract(epoch FROM occurred_at - %(start)s) / 604800)::int AS week,
                    count(*) AS accepted, sum(value) AS value
               FROM ledger_outcome_current
              WHERE contract_id = %(contract_id)s AND status = 'accepted'
              GROUP BY 1) o USING (week)
 ORDER BY 1
"""


def weekly_sums(*, contract_id: int, start: datetime) -> list[tuple]:
    """(week number from 0, tasks, accepted outcomes, cost USD, value)."""
    with connection.cursor() as cursor:
        cursor.execute(WEEK_SQL, {"contract_id": contract_id, "start": start})
        return cursor.fetchall()
