"""``python -m bench.settle [--calls 10000000]``: rollup and settlement speed.

Generates one contract-month of calls (and one outcome per ten calls)
directly in PostgreSQL, marks every day of the month dirty, then times the
nightly steps separately: the rollup (calls/s), the period's figures from
the rollups, the input digest (which must stream every call of the period),
and the whole settlement. It does the same with ten times fewer calls, so
the growth shows. Uses DATABASE_URL when set, else a fresh local database.
"""

import argparse
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from rich.console import Console
from rich.table import Table

from bench.common import database_migrate, database_prepare, django_setup, production_env

MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 31

GENERATE_CALLS = """
INSERT INTO ledger_call (
    contract_id, external_id, occurred_at, llm_model_id, task_type, task_ref, input_tokens,
    output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens,
    reasoning_tokens, service_tier, computed_cost_usd, cost_usd, charge, baseline_cost_usd,
    success, metadata, fingerprint)
SELECT %(contract)s, 'call-' || i,
       %(start)s::timestamptz + ((i * 7919) %% (%(days)s * 86400)) * interval '1 second',
       (%(models)s::bigint[])[1 + i %% 3],
       (ARRAY['code_review','bug_fix','support','tests'])[1 + i %% 4],
       'task-' || (i / 3), 1000 + i %% 5000, 200 + i %% 800, i %% 1000, 0, 0, 0, 'standard',
       c.cost, c.cost, round(c.cost * 1.2, 10), round(c.cost * 8, 10), true, '{}',
       decode(md5(i::text), 'hex')
  FROM generate_series(1::bigint, %(n)s::bigint) AS i,
       LATERAL (SELECT round((1000 + i %% 5000) * 0.00000015 + (200 + i %% 800) * 0.0000006, 10)
                AS cost) c
"""

GENERATE_OUTCOMES = """
INSERT INTO ledger_outcome (
    contract_id, external_id, occurred_at, kind, task_type, task_ref, quantity, unit_value,
    value, unit_fee, fee, source, metadata, fingerprint)
SELECT %(contract)s, 'outcome-' || i,
       %(start)s::timestamptz + ((i * 104729) %% (%(days)s * 86400)) * interval '1 second',
       'task_completed', (ARRAY['code_review','bug_fix','support','tests'])[1 + i %% 4],
       'task-' || i, 1, 40, 40, 0.99, 0.99, 'vendor', '{}', decode(md5(i::text), 'hex')
  FROM generate_series(1::bigint, %(n)s::bigint) AS i
"""


def _contract(code: str):
    from billing.models import Contract, Organization
    from routing.models import LlmModel, Price

    vendor, _ = Organization.objects.get_or_create(slug="bench-vendor", name="Vendor")
    customer, _ = Organization.objects.get_or_create(slug="bench-customer", name="Customer")
    models = []
    for name, tier in (("light", "light"), ("mid", "mid"), ("frontier", "frontier")):
        model, created = LlmModel.objects.get_or_create(
            name=f"bench-{name}", provider="bench", tier=tier
        )
        if created:
            Price.objects.create(
                llm_model=model,
                effective_from=MONTH_START - timedelta(days=365),
                input=Decimal("0.15"),
                output=Decimal("0.60"),
            )
        models.append(model.id)
    contract = Contract.objects.create(
        code=code,
        vendor=vendor,
        customer=customer,
        starts_on=MONTH_START.date(),
        ends_on=date(2026, 10, 31),
        markup=Decimal("0.2"),
        fixed_fee=Decimal("1000"),
        guarantee_multiple=Decimal("3"),
        payout_cap=Decimal("10000000"),
    )
    return contract, models


def _timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def run_one(calls: int) -> dict:
    from django.db import connection, transaction

    from billing.periods import period_of
    from billing.settlement import contract_settle, figures_compute, period_detail
    from core.localtime import local_midnight_utc
    from ledger.models import DirtyDay
    from ledger.rollups import rollups_refresh
    from ledger.selectors import input_digest

    contract, models = _contract(f"bench-{calls}-{int(time.time())}")
    params = {"contract": contract.id, "start": MONTH_START, "days": DAYS, "models": models}
    with connection.cursor() as cursor:
        _, generate_s = _timed(lambda: cursor.execute(GENERATE_CALLS, {**params, "n": calls}))
        cursor.execute(GENERATE_OUTCOMES, {**params, "n": calls // 10})
        cursor.execute("ANALYZE ledger_call; ANALYZE ledger_outcome")
    DirtyDay.objects.bulk_create(
        DirtyDay(contract=contract, day=MONTH_START.date() + timedelta(days=d)) for d in range(DAYS)
    )
    _, rollup_s = _timed(rollups_refresh)
    period = period_of(contract, MONTH_START.date())

    def figures():
        detail = period_detail(contract=contract, period=period)
        return figures_compute(contract=contract, sums=detail.sums, payouts_elsewhere=Decimal(0))

    _, figures_s = _timed(figures)
    with transaction.atomic():
        _, digest_s = _timed(
            lambda: input_digest(
                contract=contract,
                start=local_midnight_utc(period.start, contract.tz),
                end=local_midnight_utc(period.end, contract.tz),
            )
        )
    as_of = local_midnight_utc(period.end + timedelta(days=contract.grace_days), contract.tz)
    report, settle_s = _timed(lambda: contract_settle(contract_id=contract.id, as_of=as_of))
    statement = report.settled[0]
    assert statement.calls == calls, (statement.calls, calls)
    return {
        "calls": calls,
        "generate_s": generate_s,
        "rollup_s": rollup_s,
        "figures_s": figures_s,
        "digest_s": digest_s,
        "settle_s": settle_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    args = parser.parse_args()
    env = production_env(database_prepare(name="outcome_ledger_bench_settle"))
    database_migrate(env)
    django_setup(env)
    console = Console(width=120)
    rows = []
    for calls in (args.calls // 10, args.calls):
        with console.status(f"{calls:,} calls: generating, rolling up, settling..."):
            rows.append(run_one(calls))
    table = Table(title="Nightly rollup and settlement of one contract-month")
    for column in (
        "calls",
        "generate s",
        "rollup s",
        "rollup calls/s",
        "figures s",
        "digest s",
        "settle s (all)",
    ):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            f"{row['calls']:,}",
            f"{row['generate_s']:.1f}",
            f"{row['rollup_s']:.2f}",
            f"{row['calls'] / row['rollup_s']:,.0f}",
            f"{row['figures_s']:.3f}",
            f"{row['digest_s']:.2f}",
            f"{row['settle_s']:.2f}",
        )
    console.print(table)
    small, large = rows
    console.print(
        f"growth x{large['calls'] / small['calls']:.0f} calls: rollup x"
        f"{large['rollup_s'] / small['rollup_s']:.1f}, figures from rollups x"
        f"{large['figures_s'] / small['figures_s']:.1f}, digest x"
        f"{large['digest_s'] / small['digest_s']:.1f}, settlement x"
        f"{large['settle_s'] / small['settle_s']:.1f}"
    )


if __name__ == "__main__":
    main()
