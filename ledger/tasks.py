from core.tasks import retried_task
from ledger import rollups


@retried_task("ledger.rollups_refresh")
def rollups_refresh() -> dict:
    report = rollups.rollups_refresh()
    return {"contracts": report.contracts, "days": report.days}
