"""``manage.py decisions_store [--once]``: store the route decisions the web
processes spooled (ledger/decision_log.py, docs/ROUTING.md "How a decision
is stored"), every ROUTE_DECISION_SPOOL_SECONDS until SIGTERM or Ctrl-C,
then once more. Run one beside the web processes wherever
ROUTE_DECISION_SPOOL_DIR is set (``make decisions``, docker-compose's
``decisions`` service); two are safe, a file is stored by one of them."""

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from ledger.decision_log import spool_drain

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Store the spooled route decisions, every ROUTE_DECISION_SPOOL_SECONDS."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, once, **options):
        directory = settings.ROUTE_DECISION_SPOOL_DIR
        if not directory:
            raise CommandError(
                "ROUTE_DECISION_SPOOL_DIR is not set: each route decision is stored in its "
                "request and there is nothing to store."
            )
        stop = threading.Event()
        if not once:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
            self.stdout.write(f"Storing the route decisions spooled in {directory}.")
        stored = 0
        while True:
            last = stop.is_set() or once
            try:
                stored += spool_drain()
            except (DatabaseError, OSError):
                # The database or the disk is away: the files stay, for the
                # next pass.
                logger.exception("storing spooled route decisions failed; retrying")
                connection.close()
            if last:
                break
            stop.wait(settings.ROUTE_DECISION_SPOOL_SECONDS)
        self.stdout.write(f"{stored} route decisions stored.")
