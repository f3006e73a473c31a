"""Spend alerts: delivery to the contract's webhook, and reads (DESIGN.md
"Spend limits and alerts"). Alerts are appended by billing.metering."""

from django.db.models import QuerySet

from billing import webhooks
from billing.models import Contract, SpendAlert
from core.money import amount_str

SPEND_ALERT = "spend.alert"


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


def spend_alert_deliver(*, alert_id: int) -> SpendAlert:
    """Deliver one alert, signed (billing/webhooks.py webhook_deliver: safe to
    run twice, a failure recorded and raised for the task to retry)."""
    return webhooks.webhook_deliver(
        queryset=SpendAlert.objects.all(),
        row_id=alert_id,
        message=lambda alert: (SPEND_ALERT, spend_alert_payload(alert=alert)),
    )


def spend_alert_list(*, contract: Contract) -> QuerySet[SpendAlert]:
    return SpendAlert.objects.filter(contract=contract)
