"""``manage.py nightly [--as-of TIME]``: run, now and in this process, exactly
the chain Celery beat runs nightly (API.md "Operations"), and say what each
step did in words: contract codes, periods, statement numbers.

Exit status: 0 when every step did every contract; 3 when the chain ran to
its end but some contracts could not be done (named on stderr, recorded as
NightlyFailure rows, docs/SETTLEMENT.md "When a contract fails"); 1 for a
refused --as-of (not a time, or in the future: DESIGN.md "Trust between the
parties").
"""

from celery.result import allow_join_result
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.nightly import failed_names
from core.api import parse_time
from core.errors import InvalidInput
from ops.nightly import nightly_chain

SOME_CONTRACTS_FAILED = 3


def _rollups(result: dict) -> list[str]:
    contracts, days = result["contracts"], result["days"]
    if not days:
        return ["rollups: no new records since the last run"]
    return [
        f"rollups: {days} day{'s' * (days != 1)} of "
        f"{contracts} contract{'s' * (contracts != 1)} rebuilt"
    ]


def _settlements(result: dict) -> list[str]:
    return result.get("issued") or ["settlement: no statement due"]


def _policies(result: dict) -> list[str]:
    lines = [f"routing: {version} learned" for version in result.get("created", [])]
    lines += [
        f"routing: {version} already learned for this time"
        for version in result.get("existing", [])
    ]
    return lines or ["routing: no contract to learn for"]


# The chain's steps by task name (ops/nightly.py STEPS), each with how its
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
        now = timezone.now()
        try:
            when = parse_time(as_of, "--as-of") if as_of else now
        except InvalidInput as exc:
            raise CommandError(exc.message) from exc
        if when > now:
            raise CommandError(
                f"--as-of {when.isoformat()} lies in the future (now is {now.isoformat()}); "
                "a run may act as of now or an earlier time"
            )
        self.stdout.write(f"nightly run as of {when.isoformat()}")
        # The chain runs eagerly in this process and reads its own results:
        # that waits on nothing, even where a worker was set up before.
        with allow_join_result():
            result = nightly_chain(when).apply()
            steps = []
            node = result
            while node is not None:
                steps.append(node)
                node = node.parent
            for step in reversed(steps):
                step.get(propagate=True)
        failed = []
        for step in reversed(steps):
            say = SAYS.get(step.name, lambda result, name=step.name: [f"{name}: {result}"])
            for line in say(step.result):
                self.stdout.write(line)
            names = failed_names(step.result)
            if names:
                failed.append(f"{step.name}: {', '.join(names)}")
        if failed:
            raise CommandError(
                "the nightly chain finished, but these contracts were not done "
                f"(see the nightly failures in the admin): {'; '.join(failed)}",
                returncode=SOME_CONTRACTS_FAILED,
            )
