"""Liveness and readiness (API.md "Health").

Both answer without a key, so they say only which dependency is down
(``{"database": "down"}``); what went wrong (host, port, the driver's
message) goes to the log, never to the caller."""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)

UP, DOWN = "ok", "down"


def healthz(request):
    return JsonResponse({"status": "ok"})


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any failure means "not ready"; the log says why
        logger.exception("readiness: the database is not reachable")
        return DOWN
    return UP


def _broker() -> str:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:  # any failure means "not ready"; the log says why
        logger.exception("readiness: the broker is not reachable")
        return DOWN
    return UP


def readyz(request):
    checks = {"database": _database()}
    checks["broker"] = (
        _broker() if settings.CELERY_BROKER_URL else "in-process (CELERY_BROKER_URL unset)"
    )
    ready = DOWN not in checks.values()
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
