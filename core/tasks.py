"""How every Celery task of the project is declared (STYLE.md "Celery
tasks"): an explicit name, acknowledged only once it ran (acks_late), and
retried with backoff on an error that may pass by itself. The service each
task wraps checks its own idempotency, so a retry or a redelivery is safe.
The steps of the nightly chain are declared with billing.nightly.nightly_step
instead: they retry only the contracts that failed and never fail the chain.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerUnavailable


class TransientError(Exception):
    """A service's failure that a later try may not meet (a webhook that did
    not answer): the task retries it."""


# What a later try may not meet: the database unreachable, restarting, out
# of connections, a lock or statement timeout, a deadlock or serialization
# failure (all OperationalError), a connection lost under the driver
# (InterfaceError), the broker unreachable, a socket refused or timing out.
# Anything else would only fail again: a row that does not exist
# (DoesNotExist, NotFound), input the domain refuses (InvalidInput), a bug.
TRANSIENT_ERRORS = (
    TransientError,
    OperationalError,
    InterfaceError,
    BrokerUnavailable,
    ConnectionError,
    TimeoutError,
)


def retried_task(name: str, *, max_retries: int = 5):
    return shared_task(
        name=name,
        acks_late=True,
        autoretry_for=TRANSIENT_ERRORS,
        retry_backoff=True,
        max_retries=max_retries,
    )
