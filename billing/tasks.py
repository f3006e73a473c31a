from datetime import datetime

from celery import shared_task

from billing import alerts, settlement


@shared_task(
    name="billing.settlements_run",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def settlements_run(as_of: str) -> dict:
    return settlement.settlements_run(as_of=datetime.fromisoformat(as_of)).numbers()


@shared_task(
    name="billing.contract_settle",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def contract_settle(contract_id: int, as_of: str) -> dict:
    as_of_time = datetime.fromisoformat(as_of)
    return settlement.contract_settle(contract_id=contract_id, as_of=as_of_time).numbers()


@shared_task(
    name="billing.spend_alert_deliver",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=8,
)
def spend_alert_deliver(alert_id: int) -> None:
    alerts.spend_alert_deliver(alert_id=alert_id)
