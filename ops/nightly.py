"""The nightly chain (DESIGN.md "Period settlement", "Routing feedback"):
rollups -> settlement and adjustments -> routing policies. Celery beat
starts it; ``manage.py nightly --as-of`` runs the very same chain in-process.

Every step isolates contracts and never fails the chain: a contract it
could not do is retried, then reported (billing/nightly.py), and the chain
goes on, so one contract's bad data never stops another's statement or
policy (DESIGN.md "Trust between the parties").
"""

from datetime import datetime

from celery import chain
from django.utils import timezone

from billing.tasks import settlements_run
from core.tasks import retried_task
from ledger.tasks import rollups_refresh
from routing.tasks import policies_learn

# Each step is a nightly_step task (billing/nightly.py) taking the ISO time
# the run acts as of; add a step here and both beat and the command run it.
STEPS = [rollups_refresh, settlements_run, policies_learn]


def nightly_chain(as_of: datetime):
    return chain(*(task.si(as_of.isoformat()) for task in STEPS))


@retried_task("nightly.run")
def nightly_run() -> str:
    """Beat's entry point: queue the chain as of now, one instant for every
    step (a broker that cannot take it is tried again)."""
    return nightly_chain(timezone.now()).apply_async().id
