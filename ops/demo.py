"""A realistic demo month (``make demo``): a vendor's coding-and-support
agent routed over light, mid and frontier models for one enterprise
customer, ingested through the same services the REST API uses."""

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import transaction

from billing.models import Contract, Organization
from billing.services import apikey_create, contract_create, organization_create
from core.batch import DecodedBatch
from ledger.ingestion import calls_record, outcomes_record
from ledger.records import CallIn, OutcomeIn
from ledger.services import outcome_status_change
from routing.importers import BUNDLED_SOURCE, bundled_rows
from routing.services import prices_import

CONTRACT_CODE = "acme-agent-2026"
MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 31
BATCH = 5000


@dataclass(frozen=True)
class TaskType:
    name: str
    value: Decimal  # per completed task, USD
    # model -> (share of tasks routed to it, chance the task is accepted)
    routing: dict[str, tuple[float, float]]
    input_tokens: int
    output_tokens: int


TASK_TYPES = [
    TaskType(
        "code_review",
        Decimal("40"),
        {
            "gpt-4o-mini": (0.55, 0.86),
            "claude-haiku-4-5": (0.25, 0.88),
            "claude-sonnet-4": (0.20, 0.90),
        },
        6000,
        700,
    ),
    TaskType(
        "bug_fix",
        Decimal("120"),
        {"gpt-4o-mini": (0.15, 0.35), "gpt-4.1": (0.35, 0.70), "claude-sonnet-4": (0.50, 0.78)},
        14000,
        2200,
    ),
    TaskType(
        "test_generation",
        Decimal("30"),
        {
            "gemini-2.5-flash": (0.45, 0.80),
            "gpt-4.1-mini": (0.35, 0.82),
            "claude-sonnet-4": (0.20, 0.86),
        },
        5000,
        1800,
    ),
    TaskType(
        "support_ticket",
        Decimal("12"),
        {"gpt-4o-mini": (0.70, 0.84), "deepseek-chat": (0.20, 0.80), "gpt-4o": (0.10, 0.86)},
        2500,
        400,
    ),
]


@dataclass
class DemoResult:
    contract: Contract
    seeded: bool
    calls: int = 0
    outcomes: int = 0
    rejected: int = 0
    # The customer's API key, issued (and shown) on the first run only.
    customer_key: str = ""


def demo_seed(*, tasks: int = 21000, seed: int = 42) -> DemoResult:
    """Load the bundled price book, create the parties and the contract, and
    ingest one month. Runs once: a second call finds the contract and
    changes nothing (no new key either: keys are stored hashed, so the first
    run's key cannot be shown again)."""
    prices_import(rows=bundled_rows().rows, source=BUNDLED_SOURCE)
    existing = Contract.objects.filter(code=CONTRACT_CODE).first()
    if existing is not None:
        return DemoResult(existing, seeded=False)
    with transaction.atomic():
        organization_create(slug="agentco", name="AgentCo (vendor)")
        organization_create(slug="acme", name="Acme Corp (customer)")
        contract = contract_create(
            code=CONTRACT_CODE,
            vendor="agentco",
            customer="acme",
            starts_on=MONTH_START.date(),
            markup=Decimal("0.20"),
            fixed_fee=Decimal("50000"),
            hourly_rate=Decimal("150"),
            guarantee_multiple=Decimal("4"),
            payout_share=Decimal("1"),
            payout_cap=Decimal("10000000"),
            baseline_model="claude-opus-4-1",
            value_schedule=[
                {"kind": "task_completed", "task_type": t.name, "unit_value": t.value}
                for t in TASK_TYPES
            ],
            fee_schedule=[{"kind": "task_completed", "task_type": None, "fee": Decimal("25")}],
            spend_limits=[{"window": "month", "amount": Decimal("2000")}],
        )
    result = DemoResult(contract, seeded=True)
    calls, outcomes = _workload(random.Random(seed), tasks)
    for start in range(0, len(calls), BATCH):
        report = calls_record(
            contract=contract, batch=DecodedBatch.of(calls[start : start + BATCH])
        )
        result.calls += report.accepted
        result.rejected += len(report.rejected)
    for start in range(0, len(outcomes), BATCH):
        batch = DecodedBatch.of(outcomes[start : start + BATCH])
        report = outcomes_record(contract=contract, batch=batch)
        result.outcomes += report.accepted
        result.rejected += len(report.rejected)
    _disputes(contract, outcomes)
    result.customer_key = _customer_key(contract)
    return result


def _customer_key(contract: Contract) -> str:
    customer = Organization.objects.get(pk=contract.customer_id)
    return apikey_create(organization=customer, role="customer", name="demo")[1]


def _workload(rng: random.Random, tasks: int) -> tuple[list[CallIn], list[OutcomeIn]]:
    calls: list[CallIn] = []
    outcomes: list[OutcomeIn] = []
    for number in range(tasks):
        task = rng.choice(TASK_TYPES)
        models = list(task.routing)
        model = rng.choices(models, weights=[task.routing[m][0] for m in models])[0]
        started = MONTH_START + timedelta(seconds=rng.randrange(DAYS * 86400))
        ref = f"{task.name}-{number}"
        for attempt in range(rng.choice((1, 2, 2, 3, 4))):
            input_tokens = int(task.input_tokens * rng.uniform(0.5, 1.6))
            cached = int(input_tokens * rng.choice((0, 0, 0.5, 0.8)))
            output_tokens = int(task.output_tokens * rng.uniform(0.4, 1.5))
            calls.append(
                CallIn(
                    external_id=f"call-{number}-{attempt}",
                    occurred_at=started + timedelta(seconds=40 * attempt),
                    model=model,
                    task_type=task.name,
                    task_ref=ref,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    cache_read_tokens=cached,
                    reasoning_tokens=output_tokens // 5,
                    latency_ms=rng.randrange(300, 9000),
                )
            )
        if rng.random() < task.routing[model][1]:
            done = started + timedelta(minutes=rng.randrange(5, 240))
            outcomes.append(
                OutcomeIn(
                    external_id=f"outcome-{number}",
                    occurred_at=min(done, _month_end()),
                    kind="task_completed",
                    task_type=task.name,
                    task_ref=ref,
                    quantity=Decimal(1),
                )
            )
            if task.name == "bug_fix":
                outcomes.append(
                    OutcomeIn(
                        external_id=f"hours-{number}",
                        occurred_at=min(done, _month_end()),
                        kind="hours_saved",
                        task_type=task.name,
                        task_ref=ref,
                        quantity=Decimal(rng.choice(("0.5", "1", "1.5", "2"))),
                    )
                )
    return calls, outcomes


def _month_end() -> datetime:
    return MONTH_START + timedelta(days=DAYS) - timedelta(microseconds=1)


def _disputes(contract: Contract, outcomes: list[OutcomeIn]) -> None:
    """The customer disputes a few outcomes; the operator rejects half."""
    completed = [o for o in outcomes if o.kind == "task_completed"][:40]
    for index, outcome in enumerate(completed):
        outcome_status_change(
            contract=contract,
            external_id=outcome.external_id,
            to_status="disputed",
            actor="acme/customer/demo",
            reason="the change was reverted the next day",
        )
        if index % 2:
            outcome_status_change(
                contract=contract,
                external_id=outcome.external_id,
                to_status="rejected",
                actor="operator/admin/demo",
                reason="confirmed: the fix did not hold",
            )


def demo_settle_as_of() -> datetime:
    """The first instant the demo month is due (period end + 7 grace days)."""
    return datetime.combine(date(2026, 11, 8), datetime.min.time(), tzinfo=UTC)
