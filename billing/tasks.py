from billing import alerts, settlement, webhooks
from billing.nightly import nightly_step
from core.tasks import retried_task


@nightly_step("billing.settlements_run", "settlement")
def settlements_run(as_of):
    report = settlement.settlements_run(as_of=as_of)
    return {"issued": report.lines()}, report.failures


@retried_task("billing.spend_alert_deliver", max_retries=8)
def spend_alert_deliver(alert_id: int) -> None:
    alerts.spend_alert_deliver(alert_id=alert_id)


@retried_task("billing.webhook_event_deliver", max_retries=8)
def webhook_event_deliver(event_id: int) -> None:
    webhooks.webhook_event_deliver(event_id=event_id)
