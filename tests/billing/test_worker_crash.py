"""Crashed workers and poisoned contracts on a real worker (docs/SETTLEMENT.md
"Crashed workers", "When a contract fails"): a worker killed
with SIGKILL mid-settlement, or a pool child killed mid-task, leaves its
message unacknowledged; it is delivered again within a bounded time, the
half-run chain finishes, and every statement is issued exactly once.

Real processes on the real Redis broker: the worker is held inside the
settlement step by the test taking one contract's settlement lock (so it is
killed mid-step, after the contracts before it were settled), then killed
with SIGKILL."""

import os
import signal
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from billing.models import Contract, NightlyFailure, Statement
from billing.settlement import SETTLEMENT_LOCK
from config.celery import app
from ledger.models import Call, DirtyDay
from ledger.records import CallIn
from ops.nightly import nightly_chain
from routing.models import PolicyVersion
from tests.billing.celery_worker import BROKER_URL, queue_declare, worker_start, worker_stop
from tests.billing.settlement_reference import (
    CATALOG,
    Terms,
    catalog_create,
    contract_create,
    ingest,
)
from tests.helpers import wait_until

AS_OF = datetime(2026, 2, 8, tzinfo=UTC)
CONTRACTS = 12
HELD = 6  # the contract whose settlement the test holds back
# The worker under test forgets an unacknowledged message after 3 s (the
# production default is 300 s, config/settings.py).
VISIBILITY_TIMEOUT_S = 3
WITHIN_S = 60

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs("redis")]


@pytest.fixture
def broker(monkeypatch):
    monkeypatch.setitem(app.conf, "broker_url", BROKER_URL)
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    return app


@pytest.fixture
def contracts(db) -> list[Contract]:
    catalog_create(CATALOG)
    made = []
    for n in range(1, CONTRACTS + 1):
        contract = contract_create(Terms(fixed_fee=Decimal("1.00")), code=f"crash-{n:02}")
        ingest(
            contract,
            calls=[
                CallIn(
                    external_id="c-1",
                    occurred_at=datetime(2026, 1, 20, tzinfo=UTC),
                    model="gpt-4o-mini",
                    task_type="triage",
                    input_tokens=1000,
                    output_tokens=100,
                )
            ],
        )
        made.append(contract)
    return made


@pytest.fixture
def queue():
    return queue_declare()


@pytest.fixture
def workers():
    """Start workers on demand; every one still running is stopped after."""
    started = []

    def start(queue: str):
        worker = worker_start(
            queue,
            pool="prefork",
            env={"CELERY_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S)},
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
        worker_stop(worker)


def settlement_hold(contract: Contract) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [SETTLEMENT_LOCK, contract.id])


def settlement_release(contract: Contract) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [SETTLEMENT_LOCK, contract.id])


def someone_waits_for_the_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid = %s",
            [SETTLEMENT_LOCK],
        )
        return cursor.fetchone()[0] > 0


def held_mid_settlement(contracts: list[Contract]) -> None:
    """The worker settled the contracts before the held one and waits for
    the held one's lock."""
    wait_until(
        lambda: (
            Statement.objects.filter(contract__in=contracts).count() == HELD - 1
            and someone_waits_for_the_lock()
        ),
        within_s=WITHIN_S,
    )


def chain_send(broker, queue: str) -> None:
    chain = nightly_chain(AS_OF)
    for step in chain.tasks:
        step.set(queue=queue)
    with broker.connection_for_write() as conn:
        chain.apply_async(connection=conn)


def all_done(contracts: list[Contract]) -> bool:
    return PolicyVersion.objects.filter(contract__in=contracts, as_of=AS_OF).count() == len(
        contracts
    )


def assert_each_issued_once(contracts: list[Contract]) -> None:
    issued = Counter(Statement.objects.filter(contract__in=contracts).values_list("contract_id"))
    assert sorted(issued.values()) == [1] * len(contracts)
    assert set(Statement.objects.filter(contract__in=contracts).values_list("number")) == {(1,)}
    versions = Counter(
        PolicyVersion.objects.filter(contract__in=contracts, as_of=AS_OF).values_list("contract_id")
    )
    assert sorted(versions.values()) == [1] * len(contracts)


def pool_child(worker) -> int:
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    assert len(children) == 1
    return int(children[0])


def test_a_worker_killed_mid_settlement_is_redelivered_and_every_statement_issued_once(
    contracts, queue, workers, broker
):
    held = contracts[HELD - 1]
    settlement_hold(held)
    first = workers(queue)
    chain_send(broker, queue)
    held_mid_settlement(contracts)

    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    settlement_release(held)
    workers(queue)
    took = wait_until(lambda: all_done(contracts), within_s=WITHIN_S)

    assert_each_issued_once(contracts)
    # Redelivered after the visibility timeout, plus a restore sweep and the
    # worker's start: well within the bound, not kombu's default hour.
    assert took < WITHIN_S


def test_a_pool_child_killed_mid_task_does_not_ack_and_the_chain_finishes(
    contracts, queue, workers, broker
):
    held = contracts[HELD - 1]
    settlement_hold(held)
    worker = workers(queue)
    chain_send(broker, queue)
    held_mid_settlement(contracts)

    os.kill(pool_child(worker), signal.SIGKILL)
    settlement_release(held)
    took = wait_until(lambda: all_done(contracts), within_s=WITHIN_S)

    assert worker.poll() is None
    assert_each_issued_once(contracts)
    assert took < WITHIN_S


def test_on_a_real_worker_a_poisoned_contract_is_retried_reported_and_the_chain_finishes(
    contracts, queue, broker
):
    """The step retries (1 + 2 + 4 s here) and then lets the chain go on:
    every other contract gets its statement and its policy version."""
    poisoned = contracts[HELD - 1]
    call = Call.objects.filter(contract=poisoned).first()
    call.pk, call.external_id = None, "poisoned-call"
    call.occurred_at = datetime(9999, 12, 31, 12, tzinfo=UTC)
    call.save(force_insert=True)
    DirtyDay.objects.create(contract=poisoned, day=date(9999, 12, 31))
    worker = worker_start(queue, pool="prefork", env={"NIGHTLY_STEP_RETRY_SECONDS": "1"})
    others = [c for c in contracts if c != poisoned]
    try:
        chain_send(broker, queue)
        took = wait_until(
            lambda: (
                all_done(contracts) and NightlyFailure.objects.filter(step="settlement").exists()
            ),
            within_s=WITHIN_S,
        )
    finally:
        worker_stop(worker)

    assert_each_issued_once(others)
    assert not Statement.objects.filter(contract=poisoned).exists()
    assert list(NightlyFailure.objects.values_list("step", "contract__code")) == [
        ("settlement", "crash-06"),
        ("rollups", "crash-06"),
    ]
    assert took < WITHIN_S
