"""Spend limits (DESIGN.md "Spend limits and alerts"): what ingestion adds
to the charges (a call's charge, an outcome's fee) is metered against the
contract's limits in the ingestion transaction (ledger.ingestion). The
per-period fixed fee is not ingested and is not metered.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction

from billing.models import Contract, SpendLimit, SpendWindow
from billing.tasks import spend_alert_deliver
from core.money import exact_context

THRESHOLDS_PERCENT = (50, 80, 100)

# Row-level: concurrent batches of one window queue on its counter row, and
# each sees the charges every earlier batch committed.
COUNTER_ADD_SQL = """
INSERT INTO billing_spendcounter (contract_id, "window", window_start, charges)
VALUES (%s, %s, %s, %s)
ON CONFLICT (contract_id, "window", window_start)
DO UPDATE SET charges = billing_spendcounter.charges + EXCLUDED.charges
RETURNING charges
"""

ALERT_INSERT_SQL = """
INSERT INTO billing_spendalert (
    contract_id, "window", window_start, threshold_percent, limit_amount, charges, created_at,
    attempts, last_error)
VALUES (%s, %s, %s, %s, %s, %s, now(), 0, '')
ON CONFLICT (contract_id, "window", window_start, threshold_percent) DO NOTHING
RETURNING id
"""


def window_start(window: str, day: date) -> date:
    """The first local day of the window holding ``day``: the day itself,
    the Monday of its week, the first of its month."""
    if window == SpendWindow.WEEK:
        return day - timedelta(days=day.weekday())
    if window == SpendWindow.MONTH:
        return day.replace(day=1)
    return day


def crossed(*, before: Decimal, after: Decimal, amount: Decimal) -> list[int]:
    """The thresholds that charges moving from ``before`` to ``after`` reach
    for the first time: before < t% x amount <= after."""
    with exact_context():
        return [t for t in THRESHOLDS_PERCENT if before < amount * t / 100 <= after]


def spend_meter(*, contract: Contract, charges_by_day: dict[date, Decimal]) -> list[int]:
    """Add charges (contract currency, per local day) to the counters of every
    spend limit, and append one alert per (window, threshold) crossed, its
    delivery queued once the transaction commits. Returns the new alert ids.
    Call inside the transaction that stored the charges."""
    alert_ids = []
    with connection.cursor() as cursor:
        for limit in SpendLimit.objects.filter(contract=contract).order_by("window"):
            added: dict[date, Decimal] = defaultdict(Decimal)
            with exact_context():
                for day, charges in charges_by_day.items():
                    added[window_start(limit.window, day)] += charges
            # In date order, so two batches lock the same counters in the
            # same order and never deadlock.
            for start in sorted(added):
                cursor.execute(COUNTER_ADD_SQL, [contract.id, limit.window, start, added[start]])
                (after,) = cursor.fetchone()
                for threshold in crossed(
                    before=after - added[start], after=after, amount=limit.amount
                ):
                    cursor.execute(
                        ALERT_INSERT_SQL,
                        [contract.id, limit.window, start, threshold, limit.amount, after],
                    )
                    alert_ids.extend(alert_id for (alert_id,) in cursor.fetchall())
    for alert_id in alert_ids:
        # robust: a failing queue must not fail an ingestion already committed.
        transaction.on_commit(
            lambda alert_id=alert_id: spend_alert_deliver.delay(alert_id), robust=True
        )
    return alert_ids
