"""``manage.py nightly [--as-of TIME]``: run, now and in this process, exactly
the chain Celery beat runs nightly (API.md "Operations"), and say what each
step did in words: contract codes, periods, statement numbers."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from config.nightly import nightly_chain
from core.api import parse_time
from core.errors import InvalidInput


def _rollups(result: dict) -> list[str]:
    contracts, days = result["contracts"], result["days"]
    if not days:
        return ["rollups: no new records since the last run"]
    return [
        f"rollups: {days} day{'s' * (days != 1)} of "
        f"{contracts} contract{'s' * (contracts != 1)} rebuilt"
    ]


def _settlements(lines: list[str]) -> list[str]:
    return lines or ["settlement: no statement due"]


def _policies(result: dict) -> list[str]:
    lines = [f"routing: {version} learned" for version in result["created"]]
    lines += [f"routing: {version} already learned for this time" for version in result["existing"]]
    return lines or ["routing: no contract to learn for"]


# The chain's steps by task name (config/nightly.py STEPS), each with how its
# result reads.
SAYS = {
    "ledger.rollups_refresh": _rollups,
    "billing.settlements_run": _settlements,
    "routing.policies_learn": _policies,
}


class Command(BaseCommand):
    help = "Run the nightly chain (rollups -> settlement -> routing policies) in-process."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="act as if the clock read this RFC 3339 time")

    def handle(self, *args, as_of=None, **options):
        try:
            when = parse_time(as_of, "--as-of") if as_of else timezone.now()
        except InvalidInput as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"nightly run as of {when.isoformat()}")
        result = nightly_chain(when).apply()
        steps = []
        node = result
        while node is not None:
            steps.append(node)
            node = node.parent
        for step in reversed(steps):
            step.get(propagate=True)
            say = SAYS.get(step.name, lambda result, name=step.name: [f"{name}: {result}"])
            for line in say(step.result):
                self.stdout.write(line)
