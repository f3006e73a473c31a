"""A real Celery worker process on the real Redis broker, for tests
(DESIGN.md "Running it"). The worker reads the test database, so a test
that uses it commits its data (transaction=True)."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

from django.conf import settings
from kombu import Exchange, Queue

from config.celery import app
from tests.conftest import CELERY_TEST_BROKER_URL as BROKER_URL
from tests.helpers import shared_database_url


def queue_declare() -> str:
    """A fresh queue of this test's own, declared so that a message sent
    before a worker is up waits for it instead of finding no binding."""
    queue = f"nightly-test-{uuid.uuid4().hex}"
    with app.connection_for_write(BROKER_URL) as connection:
        Queue(queue, Exchange(queue), routing_key=queue)(connection).declare()
    return queue


def worker_start(queue: str, *, pool: str = "solo", env: dict | None = None) -> subprocess.Popen:
    """A worker process consuming ``queue``, in a process group of its own
    (so the whole worker can be killed at once)."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "config",
            "worker",
            "--pool",
            pool,
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
        env=os.environ
        | {"CELERY_BROKER_URL": BROKER_URL, "DATABASE_URL": shared_database_url(), "DEBUG": "1"}
        | (env or {}),
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )


def worker_stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        worker.wait(timeout=30)
