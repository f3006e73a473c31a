from datetime import datetime

from billing import alerts, settlement
from core.tasks import retried_task


@retried_task("billing.settlements_run")
def settlements_run(as_of: str) -> list[str]:
    return settlement.settlements_run(as_of=datetime.fromisoformat(as_of)).lines()


@retried_task("billing.contract_settle")
def contract_settle(contract_id: int, as_of: str) -> dict:
    as_of_time = datetime.fromisoformat(as_of)
    return settlement.contract_settle(contract_id=contract_id, as_of=as_of_time).numbers()


@retried_task("billing.spend_alert_deliver", max_retries=8)
def spend_alert_deliver(alert_id: int) -> None:
    alerts.spend_alert_deliver(alert_id=alert_id)
