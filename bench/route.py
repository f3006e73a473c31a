"""Routing benchmark (docs/ROUTING.md): the route endpoint under gunicorn
at a fixed request rate, the in-process decision, and the nightly policy
run on generated calls.

    python -m bench.route [--rate 500] [--seconds 30] [--workers 2]
                          [--calls 10000000] [--skip-http] [--skip-nightly]

Requests are sent open-loop on a fixed schedule from client processes;
latency counts from each request's scheduled time, so a slow answer that
delays the next request is charged to it too.
"""

import argparse
import http.client
import json
import multiprocessing
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench import common

TASK_TYPES = ("support_ticket", "triage", "code_review")
MODELS = (("bench-light", "light", "0.15", "0.60"), ("bench-mid", "mid", "3", "15"))
FRONTIER = ("bench-frontier", "frontier", "15", "75")
AS_OF = datetime(2026, 3, 1, tzinfo=UTC)


def _seed(code: str):
    from billing.models import ApiKey, Contract, Organization
    from routing.models import LlmModel, Price

    vendor, _ = Organization.objects.get_or_create(slug="bench-vendor", defaults={"name": "V"})
    customer, _ = Organization.objects.get_or_create(slug="bench-customer", defaults={"name": "C"})
    models = []
    for name, tier, input_usd, output_usd in (*MODELS, FRONTIER):
        model, created = LlmModel.objects.get_or_create(
            name=name, defaults={"provider": "bench", "tier": tier}
        )
        if created:
            Price.objects.create(
                llm_model=model,
                effective_from=datetime(2020, 1, 1, tzinfo=UTC),
                input=Decimal(input_usd),
                output=Decimal(output_usd),
            )
        models.append(model)
    contract = Contract.objects.create(
        code=code, vendor=vendor, customer=customer, starts_on=datetime(2025, 1, 1).date()
    )
    contract.routing_models.set(models)
    _, secret = ApiKey.objects.create_key(name="bench", organization=vendor, role="vendor")
    return contract, models, secret


# --- in-process decision ------------------------------------------------------


def decision_bench(count: int = 200_000) -> float:
    """Microseconds per decision over ``count`` distinct keys."""
    from routing.decisions import RouteTable, route

    table = RouteTable.of(
        {
            "bench-frontier": Decimal("0.0250000000"),
            "bench-light": Decimal("0.6119565217"),
            "bench-mid": Decimal("0.3630434783"),
        }
    )
    keys = [f"request-{i}" for i in range(count)]
    started = time.perf_counter()
    for key in keys:
        route(table, key)
    return (time.perf_counter() - started) / count * 1e6


# --- HTTP -------------------------------------------------------------------


def _client(port: int, path: str, secret: str, rate: float, seconds: float, start_at, queue):
    body = [json.dumps({"task_type": TASK_TYPES[i % 3], "key": f"k-{i}"}) for i in range(64)]
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    latencies, errors = [], 0
    interval = 1 / rate
    total = int(rate * seconds)
    while time.time() < start_at:
        time.sleep(0.001)
    begin = time.perf_counter()
    for i in range(total):
        scheduled = begin + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            # Gunicorn's sync workers close the connection after each answer.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", path, body[i % 64], headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                errors += 1
        except OSError:
            errors += 1
        latencies.append(time.perf_counter() - scheduled)
    queue.put((latencies, errors))


def http_bench(*, env, code, secret, rate, seconds, workers, clients) -> dict:
    with common.Gunicorn(env=env, workers=workers) as server:
        path = f"/api/v1/contracts/{code}/routing/route"
        # Warm every worker's cache of the current version.
        for _ in range(workers * 20):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request(
                "POST",
                path,
                json.dumps({"task_type": "triage", "key": "warm"}),
                {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
            )
            answer = conn.getresponse()
            if answer.status != 200:
                raise SystemExit(f"route answered {answer.status}: {answer.read()[:300]!r}")
            answer.read()
            conn.close()
        queue = multiprocessing.Queue()
        start_at = time.time() + 0.5
        procs = [
            multiprocessing.Process(
                target=_client,
                args=(server.port, path, secret, rate / clients, seconds, start_at, queue),
            )
            for _ in range(clients)
        ]
        for proc in procs:
            proc.start()
        results = [queue.get() for _ in procs]
        for proc in procs:
            proc.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    return {
        "requests": len(latencies),
        "errors": sum(e for _, e in results),
        "p50_ms": common.percentile(latencies, 50) * 1000,
        "p99_ms": common.percentile(latencies, 99) * 1000,
        "max_ms": latencies[-1] * 1000,
    }


# --- nightly on generated calls -----------------------------------------------

# Rows straight in PostgreSQL: ~3 calls per task, a model per call, a cost
# from the model's tier; an accepted outcome for 90% of the tasks.
CALLS_SQL = """
INSERT INTO ledger_call (
    contract_id, external_id, occurred_at, llm_model_id, task_type, task_ref, input_tokens,
    output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens,
    reasoning_tokens, service_tier, computed_cost_usd, cost_usd, charge, baseline_cost_usd,
    success, metadata, fingerprint)
SELECT %(contract_id)s, 'c' || g, %(start)s + (g %% 2419200) * interval '1 second',
       (%(models)s::bigint[])[1 + (g / 3) %% 3], 'triage', 't' || (g / 3),
       1000, 200, 0, 0, 0, 0, 'standard', cost, cost, cost, 0.0180000000, true, '{}', '\\x00'
  FROM generate_series(1, %(calls)s) AS g,
       LATERAL (SELECT (ARRAY[0.00027, 0.006, 0.03])[1 + (g / 3) %% 3] AS cost) c
"""
OUTCOMES_SQL = """
INSERT INTO ledger_outcome (
    contract_id, external_id, occurred_at, kind, task_type, task_ref, quantity, unit_value,
    value, unit_fee, fee, source, metadata, fingerprint)
SELECT %(contract_id)s, 'o' || t, %(start)s + ((t * 3) %% 2419200) * interval '1 second',
       'task_completed', 'triage', 't' || t, 1, 5, 5, 0, 0, 'vendor', '{}', '\\x00'
  FROM generate_series(0, %(calls)s / 3) AS t WHERE t %% 10 <> 0
"""


def nightly_bench(calls: int) -> dict:
    from django.db import connection

    from routing.learning import policy_learn_for_contract

    contract, models, _ = _seed("bench-nightly")
    params = {
        "contract_id": contract.id,
        "start": AS_OF - timedelta(days=28),
        "models": [m.id for m in models],
        "calls": calls,
    }
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(CALLS_SQL, params)
        cursor.execute(OUTCOMES_SQL, params)
        cursor.execute("ANALYZE ledger_call")
        cursor.execute("ANALYZE ledger_outcome")
    generated = time.perf_counter() - started
    started = time.perf_counter()
    policy = policy_learn_for_contract(contract=contract, as_of=AS_OF).policy
    return {
        "calls": calls,
        "generate_s": generated,
        "learn_s": time.perf_counter() - started,
        "weights": policy.task_types["triage"]["weights"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=common.cores())
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-nightly", action="store_true")
    args = parser.parse_args()
    common.stop_on_sigterm()
    url = common.database_prepare(name="bench_route")
    env = common.production_env(url)
    common.database_migrate(env)
    common.django_setup(env)
    from routing.learning import policy_learn_for_contract

    print(f"in-process decision: {decision_bench():.2f} us")
    if not args.skip_http:
        contract, _, secret = _seed("bench-route")
        policy_learn_for_contract(contract=contract, as_of=AS_OF)
        figures = http_bench(
            env=env,
            code=contract.code,
            secret=secret,
            rate=args.rate,
            seconds=args.seconds,
            workers=args.workers,
            clients=args.clients,
        )
        print(
            f"HTTP route at {args.rate:.0f} req/s for {args.seconds:.0f} s, "
            f"{args.workers} gunicorn workers: {figures['requests']} requests, "
            f"{figures['errors']} errors, p50 {figures['p50_ms']:.2f} ms, "
            f"p99 {figures['p99_ms']:.2f} ms, max {figures['max_ms']:.2f} ms"
        )
    if not args.skip_nightly:
        figures = nightly_bench(args.calls)
        print(
            f"nightly policy run on {figures['calls']:,} calls: {figures['learn_s']:.2f} s "
            f"(rows generated in {figures['generate_s']:.1f} s); weights {figures['weights']}"
        )


if __name__ == "__main__":
    main()
