"""The Celery app and its beat schedule: the nightly chain (config/nightly.py)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("outcome_ledger")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.imports = ("config.nightly",)


@app.on_after_configure.connect
def schedule_nightly(sender, **kwargs):
    from celery.schedules import crontab
    from django.conf import settings

    sender.add_periodic_task(
        crontab(minute=0, hour=settings.NIGHTLY_HOUR_UTC),
        sender.signature("nightly.run"),
        name="nightly chain",
    )
