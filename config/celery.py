"""The Celery app and its beat schedule: the nightly chain (ops/nightly.py)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("outcome_ledger")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.imports = ("ops.nightly",)


@app.on_after_configure.connect
def in_process_broker(sender, **kwargs):
    # CELERY_BROKER_URL unset: tasks run in-process (task_always_eager), yet
    # Celery still opens a producer for each; kombu's in-memory transport, at
    # a named host, serves it without a server or a "No hostname was
    # supplied" warning.
    if not sender.conf.broker_url:
        sender.conf.broker_url = "memory://localhost/"


@app.on_after_configure.connect
def schedule_nightly(sender, **kwargs):
    from celery.schedules import crontab
    from django.conf import settings

    sender.add_periodic_task(
        crontab(minute=0, hour=settings.NIGHTLY_HOUR_UTC),
        sender.signature("nightly.run"),
        name="nightly chain",
    )
