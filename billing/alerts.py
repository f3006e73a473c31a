"""Spend alerts: delivery to the contract's webhook, and reads (DESIGN.md
"Spend limits and alerts"). Alerts are appended by billing.metering."""

import json
import urllib.error
import urllib.request

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from billing.models import Contract, SpendAlert
from core.money import amount_str

WEBHOOK_TIMEOUT_S = 5
NO_WEBHOOK = "no webhook_url"


class AlertDeliveryFailed(Exception):
    """The webhook did not take the alert; the task retries."""


def spend_alert_payload(*, alert: SpendAlert) -> dict:
    return {
        "contract": alert.contract.code,
        "window": alert.window,
        "window_start": alert.window_start.isoformat(),
        "threshold_percent": alert.threshold_percent,
        "limit": amount_str(alert.limit_amount),
        "charges": amount_str(alert.charges),
        "currency": alert.contract.currency,
    }


def _post(url: str, payload: dict) -> str | None:
    """POST the payload as JSON; None on a 2xx answer, else what went wrong."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S):
            return None
    except (urllib.error.URLError, OSError) as exc:
        return str(exc)[:1000]


def spend_alert_deliver(*, alert_id: int) -> SpendAlert:
    """Deliver one alert; safe to run twice (a delivered alert is left alone).

    The alert row stays locked while the webhook is called, so two workers
    never deliver it twice at once. A failure is recorded (attempts,
    last_error) and committed before AlertDeliveryFailed is raised for the
    task to retry. Without a webhook URL there is nothing to retry: the
    alert stays undelivered, saying why."""
    with transaction.atomic():
        alert = SpendAlert.objects.select_for_update().select_related("contract").get(id=alert_id)
        if alert.delivered_at is not None:
            return alert
        url = alert.contract.webhook_url
        if not url:
            alert.last_error = NO_WEBHOOK
            alert.save(update_fields=["last_error"])
            return alert
        error = _post(url, spend_alert_payload(alert=alert))
        alert.attempts += 1
        alert.last_error = error or ""
        alert.delivered_at = None if error else timezone.now()
        alert.save(update_fields=["attempts", "last_error", "delivered_at"])
    if error:
        raise AlertDeliveryFailed(f"alert {alert_id}: {error}")
    return alert


def spend_alert_list(*, contract: Contract) -> QuerySet[SpendAlert]:
    return SpendAlert.objects.filter(contract=contract)
