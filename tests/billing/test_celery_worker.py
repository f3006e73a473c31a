"""The nightly chain (config/nightly.py) through a real Celery worker process
and the real Redis broker (DESIGN.md "Running it"; API.md "Operations").

The worker reads the test database, so the data is committed
(transaction=True); the chain goes to a queue of this test's own, so no
other worker on the same broker takes it, nor this worker anyone else's."""

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from kombu import Exchange, Queue

from billing.models import Statement
from config.celery import app
from config.nightly import nightly_chain
from ledger.records import CallIn
from tests.billing.settlement_reference import (
    CATALOG,
    Terms,
    catalog_create,
    contract_create,
    ingest,
)
from tests.conftest import CELERY_TEST_BROKER_URL as BROKER_URL

pytestmark = pytest.mark.needs("redis")
SETTLED_WITHIN_S = 60


def worker_database_url() -> str:
    """The test database pytest-django created, for the worker process."""
    db = settings.DATABASES["default"]
    # The embedded server listens on a socket directory: a percent-encoded
    # path is a host in a database URL.
    host = quote(db["HOST"], safe="")
    return (
        f"postgres://{db['USER']}:{db.get('PASSWORD', '')}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def worker_queue():
    """A worker process consuming one fresh queue; terminated afterwards.
    The queue is declared here too, so a message sent before the worker is
    up waits for it instead of finding no binding."""
    queue = f"nightly-test-{uuid.uuid4().hex}"
    with app.connection_for_write(BROKER_URL) as connection:
        Queue(queue, Exchange(queue), routing_key=queue)(connection).declare()
    env = os.environ | {
        "CELERY_BROKER_URL": BROKER_URL,
        "DATABASE_URL": worker_database_url(),
        "DEBUG": "1",
    }
    worker = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "--queues",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
    )
    yield queue
    worker.terminate()
    worker.wait(timeout=30)


@pytest.fixture
def broker(monkeypatch):
    """This process sends to the real broker instead of running tasks eagerly."""
    monkeypatch.setitem(app.conf, "broker_url", BROKER_URL)
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    return app


def statement_appears(contract, deadline: float) -> list[Statement]:
    rows = list(Statement.objects.filter(contract=contract))
    while not rows and time.monotonic() < deadline:
        time.sleep(0.25)
        rows = list(Statement.objects.filter(contract=contract))
    return rows


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
    rows = statement_appears(contract, time.monotonic() + SETTLED_WITHIN_S)

    assert [(s.number, s.period_start.month, s.calls, s.cost_usd, s.charges) for s in rows] == [
        (1, 1, 1, Decimal("0.75"), Decimal("10.74"))
    ]
