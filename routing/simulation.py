"""A synthetic workload that closes the routing loop (DESIGN.md "Routing
(learned from the ledger's own outcomes)"), for ``manage.py
simulate_routing`` and the learning tests.

Every request has a hidden difficulty: easy or hard. A light model is as
good as the frontier model on easy requests and bad on hard ones, inside
the same task type; the request's features show its difficulty through
noise, among dimensions that carry nothing. The same seeded stream of
requests is served three ways, each by its own contract:

- ``always-frontier``: the frontier model is the only candidate;
- ``per-task-type``: the three models, routed without features (the
  policy can only tell task types apart);
- ``request-aware``: the three models, routed with the features.

Every simulated day routes each request through the real route service
(decisions stored), stores the calls (with their ``route_id``) and the
accepted outcomes through the real ingestion services, and every simulated
night learns the next policy version. Success is drawn once per request
and model from one uniform number, so the three ways meet the same luck.

The world is seeded with plain ORM rows (orgs, three models, contracts): a
fixture, not business data.
"""

import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import escape
from pathlib import Path

from billing.models import Contract, Organization, ValueScheduleRow
from core.batch import MAX_RECORDS, DecodedBatch
from ledger.ingestion import calls_record, outcomes_record
from ledger.records import CallIn, OutcomeIn
from ledger.selectors import weekly_sums
from routing.learning import policy_learn_for_contract
from routing.models import LlmModel, Price
from routing.serving import route_for_contract

START = datetime(2026, 1, 5, tzinfo=UTC)
FEATURES = 8
FEATURIZER = "sim-difficulty"
TOLERANCE = Decimal("0.05")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    tier: str
    input_usd: Decimal  # per million tokens
    output_usd: Decimal
    success_easy: float
    success_hard: float


@dataclass(frozen=True, slots=True)
class TaskSpec:
    name: str
    per_day: int
    input_tokens: int
    output_tokens: int
    unit_value: Decimal
    hard_share: float


MODELS = (
    ModelSpec("sim-light", "light", Decimal("0.15"), Decimal("0.60"), 0.95, 0.10),
    ModelSpec("sim-mid", "mid", Decimal("3"), Decimal("15"), 0.95, 0.50),
    ModelSpec("sim-frontier", "frontier", Decimal("15"), Decimal("75"), 0.95, 0.90),
)
TASKS = (
    TaskSpec("support_ticket", 120, 2000, 400, Decimal(1), 0.3),
    TaskSpec("code_review", 60, 6000, 1200, Decimal(4), 0.5),
)
STRATEGIES = ("always-frontier", "per-task-type", "request-aware")


@dataclass(frozen=True, slots=True)
class Request:
    task: TaskSpec
    ref: str
    hard: bool
    luck: float
    features: list[float]


def request_stream(rng: random.Random, day: int, scale: float) -> list[Request]:
    """One day's requests: hidden difficulty, visible through two noisy
    features among six that carry nothing."""
    requests = []
    for task in TASKS:
        for i in range(round(task.per_day * scale)):
            hard = rng.random() < task.hard_share
            signal = 1.0 if hard else 0.0
            features = [signal + rng.gauss(0, 0.3), -signal + rng.gauss(0, 0.3)]
            features += [rng.gauss(0, 1) for _ in range(FEATURES - 2)]
            requests.append(Request(task, f"{task.name}-{day}-{i}", hard, rng.random(), features))
    return requests


def succeeds(request: Request, model: ModelSpec) -> bool:
    return request.luck < (model.success_hard if request.hard else model.success_easy)


@dataclass(frozen=True, slots=True)
class Week:
    number: int
    tasks: int
    accepted: int
    cost_usd: Decimal
    value: Decimal

    @property
    def success_rate(self) -> Decimal:
        return Decimal(self.accepted) / self.tasks

    @property
    def net_value(self) -> Decimal:
        return self.value - self.cost_usd


@dataclass(slots=True)
class Result:
    contracts: dict[str, Contract]
    weeks: dict[str, list[Week]] = field(default_factory=dict)


def _world(seed: int) -> dict[str, Contract]:
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
    suffix = secrets.token_hex(3)
    contracts = {}
    for strategy in STRATEGIES:
        contract = Contract.objects.create(
            code=f"sim-{strategy}-{seed}-{suffix}",
            vendor=vendor,
            customer=customer,
            starts_on=START.date(),
            baseline_model=models[-1],
            routing_featurizer=FEATURIZER,
            routing_feature_length=FEATURES,
            # A few hundred tasks a day cannot certify a success rate within
            # 2 pp (the quality guard's lower bound); this contract accepts 5.
            routing_tolerance=TOLERANCE,
        )
        contract.routing_models.set(models[-1:] if strategy == "always-frontier" else models)
        ValueScheduleRow.objects.bulk_create(
            ValueScheduleRow(
                contract=contract, kind="task_completed", task_type=t.name, unit_value=t.unit_value
            )
            for t in TASKS
        )
        contracts[strategy] = contract
    return contracts


def _store(contract: Contract, calls: list[CallIn], outcomes: list[OutcomeIn]) -> None:
    for ingest, records in ((calls_record, calls), (outcomes_record, outcomes)):
        for start in range(0, len(records), MAX_RECORDS):
            batch = DecodedBatch.of(records[start : start + MAX_RECORDS])
            report = ingest(contract=contract, batch=batch)
            if report.rejected:
                raise RuntimeError(f"simulated records rejected: {report.rejected[:3]}")


def serve_day(contract: Contract, requests: list[Request], day: int, *, features: bool) -> None:
    """Route, call and (on success) accept every request of one day."""
    by_name = {m.name: m for m in MODELS}
    at = START + timedelta(days=day, hours=9)
    calls, outcomes = [], []
    for i, request in enumerate(requests):
        routed = route_for_contract(
            contract_id=contract.id,
            task_type=request.task.name,
            key=request.ref,
            features=request.features if features else None,
        )
        model = by_name[routed.model]
        calls.append(
            CallIn(
                external_id=f"call-{request.ref}",
                occurred_at=at + timedelta(seconds=i),
                model=model.name,
                task_type=request.task.name,
                task_ref=request.ref,
                input_tokens=request.task.input_tokens,
                output_tokens=request.task.output_tokens,
                policy_version=routed.policy_version,
                route_id=routed.route_id,
            )
        )
        if succeeds(request, model):
            outcomes.append(
                OutcomeIn(
                    external_id=f"outcome-{request.ref}",
                    occurred_at=at + timedelta(hours=2, seconds=i),
                    kind="task_completed",
                    task_type=request.task.name,
                    task_ref=request.ref,
                    quantity=Decimal(1),
                )
            )
    _store(contract, calls, outcomes)


def weeks_read(contract: Contract) -> list[Week]:
    return [
        Week(number + 1, *rest)
        for number, *rest in weekly_sums(contract_id=contract.id, start=START)
    ]


def simulate(*, days: int, seed: int, scale: float = 1.0, on_night=None) -> Result:
    """Run ``days`` days of the workload (``scale`` x the daily volumes),
    served the three ways, learning every night."""
    rng = random.Random(seed)
    result = Result(_world(seed))
    for day in range(days):
        requests = request_stream(rng, day, scale)
        for strategy, contract in result.contracts.items():
            serve_day(contract, requests, day, features=strategy == "request-aware")
            policy_learn_for_contract(contract=contract, as_of=START + timedelta(days=day + 1))
        if on_night is not None:
            on_night(day)
    result.weeks = {s: weeks_read(c) for s, c in result.contracts.items()}
    return result


COLORS = {"always-frontier": "#b33", "per-task-type": "#888888", "request-aware": "#1b7f3b"}


def _polyline(points, x_of, y_of, color) -> str:
    path = " ".join(f"{x_of(x):.1f},{y_of(y):.1f}" for x, y in points)
    return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>'


def _chart(title: str, series: dict[str, tuple[str, list[tuple[int, float]]]]) -> str:
    width, height, pad = 640, 260, 40
    xs = [x for _, points in series.values() for x, _ in points]
    ys = [y for _, points in series.values() for _, y in points]
    x_low, x_high = min(xs), max(max(xs), min(xs) + 1)
    y_low, y_high = min(0.0, min(ys)), max(ys) * 1.1 or 1

    def x_of(x):
        return pad + (x - x_low) / (x_high - x_low) * (width - 2 * pad)

    def y_of(y):
        return height - pad - (y - y_low) / (y_high - y_low) * (height - 2 * pad)

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
        f'stroke="#999"/><text x="4" y="{pad}">{y_high:,.2f}</text>'
    )
    return (
        f"<h2>{escape(title)}</h2>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">{axis}{"".join(lines + legend + ticks)}</svg>'
    )


def chart_write(result: Result, path: Path) -> Path:
    """A self-contained HTML page (inline SVG): net value, cost and success
    per week for the three ways."""

    def series(of) -> dict:
        # Floats here only place points on the chart; no amount is stored from them.
        return {
            s: (COLORS[s], [(w.number, float(of(w))) for w in weeks])
            for s, weeks in result.weeks.items()
        }

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!doctype html><meta charset='utf-8'><title>Routing simulation</title>"
        "<h1>Routing simulation</h1>"
        + _chart("Net value per week (value - cost)", series(lambda w: w.net_value))
        + _chart("Cost per week (USD)", series(lambda w: w.cost_usd))
        + _chart("Success rate per week", series(lambda w: w.success_rate)),
        encoding="utf-8",
    )
    return path
