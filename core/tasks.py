"""How every Celery task of the project is declared (STYLE.md "Celery
tasks"): an explicit name, acknowledged only once it ran (acks_late), and
retried with backoff on any error; the service each task wraps checks its
own idempotency, so a retry or a redelivery is safe. The steps of the
nightly chain are declared with billing.nightly.nightly_step instead: they
retry only the contracts that failed and never fail the chain."""

from celery import shared_task


def retried_task(name: str, *, max_retries: int = 5):
    return shared_task(
        name=name,
        acks_late=True,
        autoretry_for=(Exception,),
        retry_backoff=True,
        max_retries=max_retries,
    )
