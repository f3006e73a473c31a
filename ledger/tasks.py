from billing.nightly import nightly_step
from ledger import rollups


@nightly_step("ledger.rollups_refresh", "rollups")
def rollups_refresh(as_of):
    report = rollups.rollups_refresh()
    return {"contracts": report.contracts, "days": report.days}, report.failures
