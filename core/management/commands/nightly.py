"""``manage.py nightly [--as-of TIME]``: run, now and in this process, exactly
the chain Celery beat runs nightly (API.md "Operations")."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from config.nightly import nightly_chain
from core.api import parse_time
from core.errors import InvalidInput


class Command(BaseCommand):
    help = "Run the nightly chain (rollups -> settlement -> routing policies) in-process."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="act as if the clock read this RFC 3339 time")

    def handle(self, *args, as_of=None, **options):
        try:
            when = parse_time(as_of, "--as-of") if as_of else timezone.now()
        except InvalidInput as exc:
            raise CommandError(exc.message) from exc
        result = nightly_chain(when).apply()
        steps = []
        node = result
        while node is not None:
            steps.append(node)
            node = node.parent
        for step in reversed(steps):
            step.get(propagate=True)
            self.stdout.write(f"{step.name or 'step'}: {step.result}")
