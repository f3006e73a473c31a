"""A synthetic enterprise workload that closes the routing loop (DESIGN.md
"Routing feedback"), for ``manage.py simulate_routing`` and the convergence
test: every simulated day routes its tasks with the current policy version,
stores the calls and outcomes through the real ingestion services, and every
simulated night learns the next version. docs/ROUTING.md shows a run.

The world is seeded with plain ORM rows (orgs, three models, one contract):
it is a fixture, not business data. Success is drawn per task from the
task type's success rate for the model's tier; an accepted outcome is
worth the task type's unit value.
"""

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import escape
from pathlib import Path

from django.db import connection

from billing.models import Contract, Organization, ValueScheduleRow
from core.batch import MAX_RECORDS, DecodedBatch
from ledger.records import CallIn, OutcomeIn
from ledger.services import calls_ingest, outcomes_ingest
from routing.decisions import RouteTable, route
from routing.learning import policy_learn_for_contract
from routing.models import LlmModel, Price

START = datetime(2026, 1, 5, tzinfo=UTC)
MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    tier: str
    input_usd: Decimal  # per million tokens
    output_usd: Decimal


@dataclass(frozen=True, slots=True)
class TaskSpec:
    name: str
    per_day: int
    input_tokens: int
    output_tokens: int
    unit_value: Decimal
    success: dict[str, float]  # by tier


MODELS = (
    ModelSpec("sim-light", "light", Decimal("0.15"), Decimal("0.60")),
    ModelSpec("sim-mid", "mid", Decimal("3"), Decimal("15")),
    ModelSpec("sim-frontier", "frontier", Decimal("15"), Decimal("75")),
)
# Routine work dominates; the light model is as good as frontier on support
# tickets and triage, and clearly worse at code review.
TASKS = (
    TaskSpec(
        "support_ticket", 300, 2000, 400, Decimal(5), {"light": 0.93, "mid": 0.93, "frontier": 0.94}
    ),
    TaskSpec("triage", 200, 800, 100, Decimal(2), {"light": 0.96, "mid": 0.96, "frontier": 0.96}),
    TaskSpec(
        "code_review", 100, 6000, 1200, Decimal(40), {"light": 0.10, "mid": 0.55, "frontier": 0.90}
    ),
)


def _cost(model: ModelSpec, task: TaskSpec) -> Decimal:
    return (task.input_tokens * model.input_usd + task.output_tokens * model.output_usd) / MILLION


def expected_value_per_dollar(shares: dict[str, dict[str, Decimal]]) -> Decimal:
    """Expected value / cost of a day when task type t goes to model m with
    share shares[t][m] (mean token counts: the jitter is symmetric)."""
    value = cost = Decimal(0)
    for task in TASKS:
        for model in MODELS:
            share = shares[task.name].get(model.name, Decimal(0))
            value += task.per_day * share * Decimal(task.success[model.tier]) * task.unit_value
            cost += task.per_day * share * _cost(model, task)
    return value / cost


UNIFORM = {t.name: {m.name: Decimal(1) / len(MODELS) for m in MODELS} for t in TASKS}
FRONTIER = {t.name: {"sim-frontier": Decimal(1)} for t in TASKS}


@dataclass(frozen=True, slots=True)
class Week:
    number: int
    tasks: int
    accepted: int
    cost_usd: Decimal
    frontier_cost_usd: Decimal
    value: Decimal

    @property
    def accepted_rate(self) -> Decimal:
        return Decimal(self.accepted) / self.tasks

    @property
    def efficiency(self) -> Decimal:
        """Always-frontier cost over the routed cost (DESIGN.md "Routing savings")."""
        return self.frontier_cost_usd / self.cost_usd

    @property
    def value_per_dollar(self) -> Decimal:
        return self.value / self.cost_usd


@dataclass(frozen=True, slots=True)
class Result:
    contract: Contract
    weeks: list[Week]
    final_weights: dict[str, dict[str, str]]


def _world(seed: int) -> Contract:
    vendor, _ = Organization.objects.get_or_create(slug="sim-vendor", defaults={"name": "Sim"})
    customer, _ = Organization.objects.get_or_create(slug="sim-customer", defaults={"name": "Sim"})
    models = []
    for spec in MODELS:
        model, created = LlmModel.objects.get_or_create(
            name=spec.name, defaults={"provider": "sim", "tier": spec.tier}
        )
        if created:
            Price.objects.create(
                llm_model=model,
                effective_from=datetime(2020, 1, 1, tzinfo=UTC),
                input=spec.input_usd,
                output=spec.output_usd,
            )
        models.append(model)
    contract = Contract.objects.create(
        code=f"sim-routing-{seed}-{secrets.token_hex(3)}",
        vendor=vendor,
        customer=customer,
        starts_on=START.date(),
        baseline_model=models[-1],
    )
    contract.routing_models.set(models)
    ValueScheduleRow.objects.bulk_create(
        ValueScheduleRow(
            contract=contract, kind="task_completed", task_type=t.name, unit_value=t.unit_value
        )
        for t in TASKS
    )
    return contract


def _tables(policy) -> dict[str, RouteTable]:
    def table(entry):
        return RouteTable.of({m: Decimal(w) for m, w in entry["weights"].items()})

    return {t.name: table(policy.task_types.get(t.name, policy.default)) for t in TASKS}


def _store(contract: Contract, calls: list[CallIn], outcomes: list[OutcomeIn]) -> None:
    for ingest, records in ((calls_ingest, calls), (outcomes_ingest, outcomes)):
        for start in range(0, len(records), MAX_RECORDS):
            batch = DecodedBatch.of(records[start : start + MAX_RECORDS])
            report = ingest(contract=contract, batch=batch)
            if report.rejected:
                raise RuntimeError(f"simulated records rejected: {report.rejected[:3]}")


def _day(contract, policy, day: int, rng: random.Random, scale: float) -> None:
    tables = _tables(policy)
    by_name = {m.name: m for m in MODELS}
    at = START + timedelta(days=day, hours=9)
    calls, outcomes = [], []
    for task in TASKS:
        for i in range(round(task.per_day * scale)):
            ref = f"{task.name}-{day}-{i}"
            model = by_name[route(tables[task.name], ref)]
            jitter = rng.uniform(0.8, 1.2)
            calls.append(
                CallIn(
                    external_id=f"call-{ref}",
                    occurred_at=at + timedelta(seconds=i),
                    model=model.name,
                    task_type=task.name,
                    task_ref=ref,
                    input_tokens=round(task.input_tokens * jitter),
                    output_tokens=round(task.output_tokens * jitter),
                    policy_version=policy.version,
                )
            )
            if rng.random() < task.success[model.tier]:
                outcomes.append(
                    OutcomeIn(
                        external_id=f"outcome-{ref}",
                        occurred_at=at + timedelta(hours=2, seconds=i),
                        kind="task_completed",
                        task_type=task.name,
                        task_ref=ref,
                        quantity=Decimal(1),
                    )
                )
    _store(contract, calls, outcomes)


WEEK_SQL = """
SELECT c.week, c.tasks, coalesce(o.accepted, 0), c.cost, c.frontier_cost, coalesce(o.value, 0)
  FROM (SELECT floor(extract(epoch FROM occurred_at - %(start)s) / 604800)::int AS week,
               count(DISTINCT task_ref) AS tasks, sum(cost_usd) AS cost,
               sum(baseline_cost_usd) AS frontier_cost
          FROM ledger_call WHERE contract_id = %(contract_id)s GROUP BY 1) c
  LEFT JOIN (SELECT floor(extract(epoch FROM occurred_at - %(start)s) / 604800)::int AS week,
                    count(*) AS accepted, sum(value) AS value
               FROM ledger_outcome_current
              WHERE contract_id = %(contract_id)s AND status = 'accepted'
              GROUP BY 1) o USING (week)
 ORDER BY 1
"""


def _weeks(contract: Contract) -> list[Week]:
    with connection.cursor() as cursor:
        cursor.execute(WEEK_SQL, {"contract_id": contract.id, "start": START})
        return [Week(number + 1, *rest) for number, *rest in cursor.fetchall()]


def simulate(*, weeks: int, seed: int, scale: float = 1.0, on_day=None) -> Result:
    """Run ``weeks`` weeks of the workload (``scale`` x the daily volumes)."""
    rng = random.Random(seed)
    contract = _world(seed)
    policy = policy_learn_for_contract(contract=contract, as_of=START).policy
    for day in range(weeks * 7):
        _day(contract, policy, day, rng, scale)
        policy = policy_learn_for_contract(
            contract=contract, as_of=START + timedelta(days=day + 1)
        ).policy
        if on_day is not None:
            on_day(day, policy)
    final = {t.name: policy.task_types.get(t.name, policy.default)["weights"] for t in TASKS}
    return Result(contract, _weeks(contract), final)


def _polyline(points, x_of, y_of, color) -> str:
    path = " ".join(f"{x_of(x):.1f},{y_of(y):.1f}" for x, y in points)
    return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>'


def _chart(title: str, series: dict[str, tuple[str, list[tuple[int, float]]]]) -> str:
    width, height, pad = 640, 260, 40
    xs = [x for _, points in series.values() for x, _ in points]
    ys = [y for _, points in series.values() for _, y in points]
    x_low, x_high, y_high = min(xs), max(max(xs), min(xs) + 1), max(ys) * 1.1 or 1

    def x_of(x):
        return pad + (x - x_low) / (x_high - x_low) * (width - 2 * pad)

    def y_of(y):
        return height - pad - y / y_high * (height - 2 * pad)

    lines = [_polyline(points, x_of, y_of, color) for color, points in series.values()]
    legend = [
        f'<text x="{pad + 10 + i * 190}" y="{pad - 12}" fill="{color}">{escape(name)}</text>'
        for i, (name, (color, _)) in enumerate(series.items())
    ]
    ticks = [
        f'<text x="{x_of(x):.1f}" y="{height - pad + 16}" text-anchor="middle">week {x}</text>'
        for x in sorted(set(xs))
    ]
    axis = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        f'stroke="#999"/><text x="4" y="{pad}">{y_high:,.0f}</text>'
    )
    return (
        f"<h2>{escape(title)}</h2>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">{axis}{"".join(lines + legend + ticks)}</svg>'
    )


def chart_write(result: Result, path: Path) -> Path:
    """A self-contained HTML page (inline SVG): value per dollar and cost
    per week, routed against uniform and always-frontier routing."""
    numbers = [w.number for w in result.weeks]
    # Floats here only place points on the chart; no amount is stored from them.
    uniform = float(expected_value_per_dollar(UNIFORM))
    frontier = float(expected_value_per_dollar(FRONTIER))
    per_dollar = {
        "routed (realized)": (
            "#1b7f3b",
            [(w.number, float(w.value_per_dollar)) for w in result.weeks],
        ),
        "uniform (expected)": ("#888888", [(n, uniform) for n in numbers]),
        "always frontier (expected)": ("#b33", [(n, frontier) for n in numbers]),
    }
    cost = {
        "routed cost (USD)": ("#1b7f3b", [(w.number, float(w.cost_usd)) for w in result.weeks]),
        "always-frontier cost (USD)": (
            "#b33",
            [(w.number, float(w.frontier_cost_usd)) for w in result.weeks],
        ),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!doctype html><meta charset='utf-8'><title>Routing simulation</title>"
        f"<h1>Routing simulation: {escape(result.contract.code)}</h1>"
        + _chart("Value per dollar", per_dollar)
        + _chart("Cost per week", cost),
        encoding="utf-8",
    )
    return path
