"""``manage.py broker_check``: a Celery broker is configured and answers.
``make worker`` and ``make beat`` run it first and do not start without one:
with ``CELERY_BROKER_URL`` unset, tasks run in-process (config/settings.py)
and a worker would wait on a broker nobody sends to."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from kombu.utils.url import maybe_sanitize_url

from config.celery import app

EXAMPLES = "redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//"


class Command(BaseCommand):
    help = "Check that CELERY_BROKER_URL is set and its broker answers."

    def add_arguments(self, parser):
        parser.add_argument("--for", dest="purpose", default="a Celery worker")

    def handle(self, *args, purpose, **options):
        if not settings.CELERY_BROKER_URL:
            raise CommandError(
                f"{purpose} needs a Celery broker (Redis or RabbitMQ): set CELERY_BROKER_URL, "
                f"e.g. {EXAMPLES}, in the environment or .env. Without it, tasks run "
                "in-process and no worker or beat is needed."
            )
        shown = maybe_sanitize_url(settings.CELERY_BROKER_URL)  # the password masked
        with app.connection_for_write(settings.CELERY_BROKER_URL) as connection:
            try:
                connection.ensure_connection(max_retries=1, timeout=2)
            except Exception as error:  # kombu raises the transport's own errors
                raise CommandError(
                    f"{purpose} needs the Celery broker at {shown}, which does not answer "
                    f"({error}). Start it, or set CELERY_BROKER_URL to one that runs."
                ) from error
        self.stdout.write(f"Celery broker {shown} answers.")
