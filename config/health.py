"""Liveness and readiness (API.md "Health")."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; say which
        checks["database"] = f"error: {exc}"
    if settings.CELERY_BROKER_URL:
        from config.celery import app

        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:  # any failure means "not ready"; say which
            checks["broker"] = f"error: {exc}"
    else:
        checks["broker"] = "in-process (CELERY_BROKER_URL unset)"
    ready = all(not str(v).startswith("error") for v in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
