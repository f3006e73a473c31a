"""Tasks retry only what a later try may not meet (core/tasks.py): a
database error that passes, a webhook that did not answer; never a row
that does not exist or input the domain refuses. In-process (no broker),
Celery runs each retry at once."""

import pytest
from celery.signals import task_retry
from django.db import connection, transaction

from billing.models import SpendAlert, WebhookEvent
from billing.tasks import spend_alert_deliver, webhook_event_deliver
from core.api import parse_time
from core.errors import InvalidInput
from core.tasks import TRANSIENT_ERRORS, retried_task
from ops.nightly import nightly_run

attempts: list[int] = []


@retried_task("tests.statement_timeout_once")
def statement_timeout_once() -> int:
    """Times out on its first try only: PostgreSQL cancels the statement."""
    attempts.append(len(attempts) + 1)
    with transaction.atomic(), connection.cursor() as cursor:
        if len(attempts) == 1:
            cursor.execute("SET LOCAL statement_timeout = 1")
        cursor.execute("SELECT pg_sleep(0.05)")
    return len(attempts)


@retried_task("tests.refused_input")
def refused_input() -> None:
    attempts.append(len(attempts) + 1)
    parse_time("tomorrow", "as_of")


@pytest.fixture
def retries():
    attempts.clear()
    seen = []

    def count(sender, **kwargs):
        seen.append(sender.name)

    task_retry.connect(count, weak=False)
    yield seen
    task_retry.disconnect(count)


def test_an_operational_error_is_retried_and_the_retry_succeeds(db, retries):
    result = statement_timeout_once.apply(throw=False)

    assert (result.result, attempts, retries) == (2, [1, 2], ["tests.statement_timeout_once"])


def test_input_the_domain_refuses_is_not_retried(retries):
    result = refused_input.apply(throw=False)

    assert (result.state, type(result.result), attempts, retries) == (
        "FAILURE",
        InvalidInput,
        [1],
        [],
    )


@pytest.mark.parametrize(
    ("task", "model"),
    [(spend_alert_deliver, SpendAlert), (webhook_event_deliver, WebhookEvent)],
)
def test_a_row_that_does_not_exist_is_not_retried(db, retries, task, model):
    result = task.apply(args=[0], throw=False)

    assert (result.state, type(result.result), retries) == ("FAILURE", model.DoesNotExist, [])


@pytest.mark.parametrize("task", [spend_alert_deliver, webhook_event_deliver, nightly_run])
def test_every_task_is_acknowledged_late_and_retries_only_transient_errors(task):
    assert (task.acks_late, task.autoretry_for, task.retry_backoff) == (
        True,
        TRANSIENT_ERRORS,
        True,
    )
