"""The nightly chain (DESIGN.md "Period settlement", "Routing feedback"):
rollups -> settlement and adjustments -> routing policies. Celery beat
starts it; ``manage.py nightly --as-of`` runs the very same chain in-process.

Every step isolates contracts and never fails the chain: a contract it
could not do is retried, then reported (billing/nightly.py), and the chain
goes on, so one contract's bad data never stops another's statement or
policy (DESIGN.md "Trust between the parties").
"""

from datetime import datetime

from celery import chain, shared_task
from django.utils import timezone

from billing.tasks import settlements_run
from ledger.tasks import rollups_refresh
from routing.tasks import policies_learn

# Each step is a nightly_step task (billing/nightly.py) taking the ISO time
# the run acts as of; add a step here and both beat and the command run it.
STEPS = [rollups_refresh, settlements_run, policies_learn]


def nightly_chain(as_of: datetime):
    return chain(*(task.si(as_of.isoformat()) for task in STEPS))


@shared_task(name="nightly.run", acks_late=True)
def nightly_run() -> str:
    """Beat's entry point: queue the chain as of now."""
    return nightly_chain(timezone.now()).apply_async().id
