"""How a step of the nightly chain (ops/nightly.py) runs, fails and is
reported (DESIGN.md "Trust between the parties": one contract's bad data
never stops another contract's nightly work).

A step does every contract it can, each in its own transaction, and returns
the contracts it could not do. When some failed, the task retries the whole
step (what was done is not done twice) a few times with a growing delay;
after the last try it records one NightlyFailure per failed contract (the
alert, in the admin and the log) and returns normally, so the chain always
goes on to its next step and reaches the last one (docs/SETTLEMENT.md
"When a contract fails").
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from billing.models import Contract, NightlyFailure

logger = logging.getLogger(__name__)

# A step whose contracts keep failing holds the chain back by at most
# 10 + 20 + 40 s (settings.NIGHTLY_STEP_RETRY_SECONDS doubled) before the
# next step runs without them.
STEP_RETRIES = 3
ERROR_CHARS = 2000


@dataclass(slots=True)
class StepFailures:
    """Contracts a step could not do: code -> what went wrong. The key
    ``None`` stands for the step as a whole (it failed before reaching any
    one contract)."""

    errors: dict[str | None, str] = field(default_factory=dict)

    def add(self, contract_code: str | None, exc: BaseException) -> None:
        self.errors[contract_code] = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]

    def __bool__(self) -> bool:
        return bool(self.errors)

    def as_list(self) -> list[dict]:
        return [{"contract": code, "error": error} for code, error in self.errors.items()]


def failures_record(*, step: str, as_of: datetime, failures: StepFailures) -> list[NightlyFailure]:
    """The alert: one row per failed contract, and an error in the log."""
    contracts = Contract.objects.in_bulk(
        [code for code in failures.errors if code is not None], field_name="code"
    )
    rows = []
    for code, error in failures.errors.items():
        logger.error("nightly step %s as of %s failed for %s: %s", step, as_of, code, error)
        rows.append(
            NightlyFailure.objects.create(
                step=step, contract=contracts.get(code), as_of=as_of, error=error
            )
        )
    return rows


def failed_names(result: dict) -> list[str]:
    """The contracts a step's result says failed ("the step" for a whole-step
    failure)."""
    return [entry["contract"] or "the step" for entry in result.get("failed", [])]


def _attempt(run: Callable[[datetime], tuple[dict, StepFailures]], step: str, when: datetime):
    try:
        return run(when)
    except Exception as exc:  # the chain goes on; the failure is reported
        logger.exception("nightly step %s failed as a whole", step)
        failures = StepFailures()
        failures.add(None, exc)
        return {}, failures


def nightly_step(name: str, step: str):
    """Declare a step task. The decorated function takes the run's time and
    returns (summary, StepFailures); the task returns the summary, with a
    ``failed`` list when some contracts were not done."""

    def decorate(run: Callable[[datetime], tuple[dict, StepFailures]]):
        @shared_task(name=name, bind=True, acks_late=True, max_retries=STEP_RETRIES)
        def task(self, as_of: str | None = None) -> dict:
            when = datetime.fromisoformat(as_of) if as_of else timezone.now()
            summary, failures = _attempt(run, step, when)
            if failures and self.request.is_eager:
                # In-process (manage.py nightly, no broker) the tries follow
                # at once: an eager retry would raise out of the chain.
                for _ in range(self.max_retries):
                    summary, failures = _attempt(run, step, when)
                    if not failures:
                        break
            elif failures and self.request.retries < self.max_retries:
                raise self.retry(
                    countdown=settings.NIGHTLY_STEP_RETRY_SECONDS * 2**self.request.retries
                )
            if not failures:
                return summary
            failures_record(step=step, as_of=when, failures=failures)
            return {**summary, "failed": failures.as_list()}

        task.__doc__ = run.__doc__
        return task

    return decorate
