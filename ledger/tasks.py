from celery import shared_task

from ledger import rollups


@shared_task(
    name="ledger.rollups_refresh",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def rollups_refresh() -> dict:
    report = rollups.rollups_refresh()
    return {"contracts": report.contracts, "days": report.days}
