"""The nightly chain (ops/nightly.py) through a real Celery worker process
and the real Redis broker (DESIGN.md "Running it"; API.md "Operations").

The worker reads the test database, so the data is committed
(transaction=True); the chain goes to a queue of this test's own, so no
other worker on the same broker takes it, nor this worker anyone else's."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.models import Statement
from config.celery import app
from ledger.records import CallIn
from ops.nightly import nightly_chain
from tests.billing.celery_worker import BROKER_URL, queue_declare, worker_start, worker_stop
from tests.billing.settlement_reference import (
    CATALOG,
    Terms,
    catalog_create,
    contract_create,
    ingest,
)
from tests.helpers import wait_until

pytestmark = pytest.mark.needs("redis")
SETTLED_WITHIN_S = 60


@pytest.fixture
def worker_queue():
    """A worker process consuming one fresh queue; terminated afterwards."""
    queue = queue_declare()
    worker = worker_start(queue)
    yield queue
    worker_stop(worker)


@pytest.fixture
def broker(monkeypatch):
    """This process sends to the real broker instead of running tasks eagerly."""
    monkeypatch.setitem(app.conf, "broker_url", BROKER_URL)
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    return app


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_nightly_chain_and_settles_the_period(worker_queue, broker):
    catalog_create(CATALOG)
    contract = contract_create(Terms(fixed_fee=Decimal("9.99")), code="queued")
    ingest(
        contract,
        calls=[
            CallIn(
                external_id="c-1",
                occurred_at=datetime(2026, 1, 20, tzinfo=UTC),
                model="gpt-4o-mini",
                task_type="triage",
                input_tokens=1_000_000,
                output_tokens=1_000_000,
            )
        ],
    )
    chain = nightly_chain(datetime(2026, 2, 8, tzinfo=UTC))
    for step in chain.tasks:
        step.set(queue=worker_queue)

    with broker.connection_for_write() as connection:
        chain.apply_async(connection=connection)
    wait_until(
        lambda: Statement.objects.filter(contract=contract).exists(), within_s=SETTLED_WITHIN_S
    )
    rows = list(Statement.objects.filter(contract=contract))

    assert [(s.number, s.period_start.month, s.calls, s.cost_usd, s.charges) for s in rows] == [
        (1, 1, 1, Decimal("0.75"), Decimal("10.74"))
    ]
