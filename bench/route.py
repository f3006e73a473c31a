"""Routing benchmark (docs/ROUTING.md): the in-process decision with
features, the route endpoint with features under gunicorn at a fixed
request rate, and the nightly policy run on generated logged decisions.

    python -m bench.route [--rate 500] [--seconds 30] [--workers 2]
                          [--clients 2] [--decisions 1000000]
                          [--skip-http] [--skip-nightly] [--profile]

Every figure is printed with a ratio against a baseline measured in the
same command: the decision against a bare SHA-256 of the key (the floor of
a pick); the route with its decisions spooled against the same route
inserting each decision in its request, and against the floor of the box (a
fixed answer under the same gunicorn, bench/floor_wsgi.py); the nightly run
against reading its rows with no work on them.

A fresh ``bench_route`` database on the local server unless DATABASE_URL is
set (then it is used as it is). Migrations run as the owner role, every
request and the nightly run as the application's role (``ledger_app``,
core/db_roles.py), as in production.

HTTP requests are sent open-loop on a fixed schedule from client
processes, each encoded before the clock starts and sent on a bare socket;
latency counts from each request's scheduled time to the last byte of its
answer, so a slow answer that delays the next request is charged to it
too.

The generated decisions have a planted structure: feature 0 is a request's
difficulty, every model's chance of success falls with it, the cheap
models' faster; the other features are noise. Decisions are logged with
probability 1/10 each (uniform over the 10 models), one call per decision
carries its ``route_id`` and a ``task_ref``, and the successful tasks have
an accepted outcome.
"""

import argparse
import cProfile
import http.client
import io
import json
import multiprocessing
import os
import pstats
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from bench import common

TASK_TYPES = ("triage", "review", "ticket")  # one length: fixed-width COPY rows
N_MODELS = 10
N_FEATURES = 64
FEATURIZER = "bench-difficulty"
# Price per million input tokens of model i (output: 4x); tiers by index.
PRICES = tuple(Decimal("0.1") * Decimal("1.75") ** i for i in range(N_MODELS))
TIERS = ("light",) * 4 + ("mid",) * 3 + ("frontier",) * 3
INPUT_TOKENS, OUTPUT_TOKENS = 1000, 200
VALUE = Decimal("0.2")  # of an accepted task
AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW = timedelta(days=28)
APP_ROLE = "ledger_app"
GOAL_DECISION_US = 20
GOAL_P99_MS = 2
GOAL_LEARN_S = 60
HTTP_DECISIONS = 20_000  # logged decisions behind the HTTP contract's policy


def model_names() -> list[str]:
    return [f"bench-m{i}" for i in range(N_MODELS)]


def call_cost(i: int) -> Decimal:
    price = PRICES[i]
    return (price * INPUT_TOKENS + 4 * price * OUTPUT_TOKENS) / 1_000_000


def success_logit(model: np.ndarray, difficulty: np.ndarray, task: np.ndarray) -> np.ndarray:
    """The planted truth: better models start higher and fall slower with
    the difficulty; task types differ a little."""
    return (0.5 + 0.3 * model) - (2.0 - 0.15 * model) * difficulty + 0.2 * (task - 1)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


class MachineShare:
    """The whole machine's CPU use over a block, as cores busy."""

    def __enter__(self) -> "MachineShare":
        self._busy, self._total = common.machine_busy()
        return self

    def __exit__(self, *exc) -> None:
        busy, total = common.machine_busy()
        cores = os.cpu_count() or 1
        self.cores_busy = (busy - self._busy) / max(total - self._total, 1e-9) * cores

    def __str__(self) -> str:
        return f"machine busy {self.cores_busy:.2f}/{os.cpu_count()} cores"


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base > 0 else "n/a"


# --- seeding ----------------------------------------------------------------


def _seed(code: str):
    from billing.models import ApiKey, Contract, Organization, ValueScheduleRow
    from routing.models import LlmModel, Price

    vendor, _ = Organization.objects.get_or_create(slug="bench-vendor", defaults={"name": "V"})
    customer, _ = Organization.objects.get_or_create(slug="bench-customer", defaults={"name": "C"})
    models = []
    for name, tier, price in zip(model_names(), TIERS, PRICES, strict=True):
        model, created = LlmModel.objects.get_or_create(
            name=name, defaults={"provider": "bench", "tier": tier}
        )
        if created:
            Price.objects.create(
                llm_model=model,
                effective_from=datetime(2020, 1, 1, tzinfo=UTC),
                input=price,
                output=4 * price,
            )
        models.append(model)
    contract = Contract.objects.create(
        code=f"{code}-{time.time_ns():x}",
        vendor=vendor,
        customer=customer,
        starts_on=datetime(2025, 1, 1).date(),
        routing_featurizer=FEATURIZER,
        routing_feature_length=N_FEATURES,
    )
    contract.routing_models.set(models)
    ValueScheduleRow.objects.create(
        contract=contract, kind="task_completed", task_type=None, unit_value=VALUE
    )
    _, secret = ApiKey.objects.create_key(name="bench", organization=vendor, role="vendor")
    return contract, models, secret


# --- 1. in-process decision -----------------------------------------------------


def compiled_policy(seed: int = 7):
    """A compiled version with a success model over 10 candidates and 64
    features, its coefficients drawn from a seeded generator."""
    from routing.decisions import policy_compile

    rng = np.random.default_rng(seed)
    names = model_names()
    figures = {
        "value": str(VALUE),
        "cost": {m: str(call_cost(i)) for i, m in enumerate(names)},
    }
    success = {
        "task_types": list(TASK_TYPES),
        "feature_mean": rng.normal(0, 0.1, N_FEATURES).tolist(),
        "feature_scale": rng.uniform(0.8, 1.2, N_FEATURES).tolist(),
        "intercept": {
            m: float(x) for m, x in zip(names, rng.normal(1, 0.5, N_MODELS), strict=True)
        },
        "shared_task": {
            t: float(x) for t, x in zip(TASK_TYPES, rng.normal(0, 0.2, 3), strict=True)
        },
        "shared_features": rng.normal(0, 0.3, N_FEATURES).tolist(),
        "model_task": {m: {t: float(rng.normal(0, 0.1)) for t in TASK_TYPES} for m in names},
        "model_features": {m: rng.normal(0, 0.2, N_FEATURES).tolist() for m in names},
        "l2": 1.0,
    }
    model = {
        "candidates": names,
        "baseline": names[-1],
        "epsilon": "0.05",
        "audit": "0.05",
        "margin": None,
        "success": success,
    }
    return policy_compile(
        version=1,
        model=model,
        task_types={t: {"model": figures} for t in TASK_TYPES},
        default={"model": figures},
    )


def _timed(count: int, call) -> np.ndarray:
    """Nanoseconds of each of ``count`` calls ``call(i)``."""
    clock = time.perf_counter_ns
    samples = [0] * count
    for i in range(count):
        started = clock()
        call(i)
        samples[i] = clock() - started
    return np.asarray(samples, dtype=np.float64)


def decision_bench(count: int) -> dict[str, np.ndarray]:
    from routing.decisions import key_point

    policy = compiled_policy()
    rng = np.random.default_rng(11)
    keys = [f"request-{i}" for i in range(count)]
    vectors = list(rng.standard_normal((1024, N_FEATURES)))
    lists = [v.tolist() for v in vectors]
    decide = policy.decide

    def with_features(i):
        decide(task_type=TASK_TYPES[i % 3], key=keys[i], features=vectors[i & 1023])

    def from_list(i):
        # As route_for_contract receives them: a JSON list, checked finite.
        vector = np.asarray(lists[i & 1023], dtype=np.float64)
        if not np.isfinite(vector).all():
            raise AssertionError
        decide(task_type=TASK_TYPES[i % 3], key=keys[i], features=vector)

    def without(i):
        decide(task_type=TASK_TYPES[i % 3], key=keys[i], features=None)

    def floor(i):
        key_point(keys[i])

    out = {}
    for name, call in (
        ("sha256 key hash (floor)", floor),
        ("decision, no features", without),
        ("decision, 64 features", with_features),
        ("decision, 64 features from a list", from_list),
    ):
        _timed(min(count, 5000), call)  # warm
        out[name] = _timed(count, call) / 1000
    return out


# --- generated decisions, calls and outcomes --------------------------------------

COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
# numeric 0.1 in PostgreSQL's binary form: ndigits, weight, sign, dscale, digits.
NUMERIC_TENTH = struct.pack(">hhhhh", 1, -1, 0, 1, 1000)
DECISION_COLUMNS = (
    "contract_id",
    "route_id",
    "task_type",
    "key",
    "features",
    "policy_version",
    "llm_model_id",
    "probability",
    "explored",
)


def _binary_rows(fields: list[tuple[str, object]], n: int) -> np.ndarray:
    """``n`` rows of a binary COPY, every field of a fixed width: (dtype,
    values broadcast to n) per column, in order."""
    layout = [("count", ">i2")]
    for index, (dtype, _) in enumerate(fields):
        layout += [(f"len{index}", ">i4"), (f"f{index}", dtype)]
    rows = np.empty(n, dtype=np.dtype(layout))
    rows["count"] = len(fields)
    for index, (dtype, values) in enumerate(fields):
        rows[f"len{index}"] = np.dtype(dtype).itemsize
        rows[f"f{index}"] = values
    return rows


CALLS_SQL = """
INSERT INTO ledger_call (
    contract_id, external_id, occurred_at, llm_model_id, task_type, task_ref, route_id,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens,
    reasoning_tokens, service_tier, computed_cost_usd, cost_usd, charge, baseline_cost_usd,
    success, metadata, fingerprint)
SELECT d.contract_id, 'c' || d.key,
       %(start)s + (substr(d.key, 2)::bigint %% 2419200) * interval '1 second',
       d.llm_model_id, d.task_type, d.key, d.route_id, %(input)s, %(output)s, 0, 0, 0, 0,
       'standard', c.cost, c.cost, c.cost, %(baseline_cost)s, true, '{}', '\\x00'
  FROM ledger_routedecision d
  JOIN unnest(%(model_ids)s::bigint[], %(costs)s::numeric[]) AS c (model_id, cost)
    ON c.model_id = d.llm_model_id
 WHERE d.contract_id = %(contract_id)s
"""
OUTCOMES_SQL = """
INSERT INTO ledger_outcome (
    contract_id, external_id, occurred_at, kind, task_type, task_ref, quantity, unit_value,
    value, unit_fee, fee, source, metadata, fingerprint)
SELECT %(contract_id)s, 'o' || key, %(start)s + ((i + 60) %% 2419200) * interval '1 second',
       'task_completed', (%(task_types)s::text[])[1 + i %% 3], key, 1, %(value)s, %(value)s,
       0, 0, 'vendor', '{}', '\\x00'
  FROM unnest(%(done)s::bigint[]) AS i, LATERAL (SELECT 't' || lpad(i::text, 9, '0') AS key) k
"""


def logged_generate(*, contract, models, decisions: int, seed: int = 1) -> int:
    """``decisions`` logged decisions of ``contract`` (binary COPY), their
    calls and accepted outcomes (INSERT ... SELECT); returns the successes."""
    from django.db import connection, connections

    rng = np.random.default_rng(seed)
    index = np.arange(decisions)
    task = index % 3
    model = rng.integers(0, N_MODELS, decisions)
    features = rng.standard_normal((decisions, N_FEATURES))
    probability = 1 / (1 + np.exp(-success_logit(model, features[:, 0], task)))
    done = index[rng.random(decisions) < probability]
    ids = np.asarray([m.id for m in models], dtype=np.int64)
    rows = _binary_rows(
        [
            (">i8", contract.id),
            ("S32", np.char.add(b"r", np.char.zfill(index.astype("S31"), 31))),
            ("S6", np.asarray([t.encode() for t in TASK_TYPES])[task]),
            ("S10", np.char.add(b"t", np.char.zfill(index.astype("S9"), 9))),
            (("u1", 8 * N_FEATURES), features.astype("<f8").view(np.uint8)),
            (">i4", 1),
            (">i8", ids[model]),
            ("S10", NUMERIC_TENTH),
            ("u1", 0),
        ],
        decisions,
    )
    del features
    connection.ensure_connection()
    raw = connection.connection  # the psycopg connection under Django's
    columns = ", ".join(DECISION_COLUMNS)
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY ledger_routedecision ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.write(COPY_SIGNATURE)
        step = 20_000
        for lo in range(0, decisions, step):
            copy.write(rows[lo : lo + step].tobytes())
        copy.write(struct.pack(">h", -1))
    del rows
    params = {
        "contract_id": contract.id,
        "start": AS_OF - WINDOW,
        "input": INPUT_TOKENS,
        "output": OUTPUT_TOKENS,
        "model_ids": ids.tolist(),
        "costs": [call_cost(i) for i in range(N_MODELS)],
        "baseline_cost": call_cost(N_MODELS - 1),
        "task_types": list(TASK_TYPES),
        "value": VALUE,
        "done": done.tolist(),
    }
    with connection.cursor() as cursor:
        cursor.execute(CALLS_SQL, params)
        cursor.execute(OUTCOMES_SQL, params)
    # Fresh statistics for the planner; only the tables' owner may ANALYZE.
    with connections["owner"].cursor() as cursor:
        for table in ("ledger_routedecision", "ledger_call", "ledger_outcome"):
            cursor.execute(f"ANALYZE {table}")
    return len(done)


# --- 2. HTTP ------------------------------------------------------------------


def _bodies(client: int, count: int, features: bool) -> list[str]:
    rng = np.random.default_rng(1000 + client)
    bodies = []
    for i in range(count):
        body = {"task_type": TASK_TYPES[i % 3], "key": f"c{client}-{i}"}
        if features:
            body["features"] = rng.standard_normal(N_FEATURES).round(6).tolist()
        bodies.append(json.dumps(body))
    return bodies


def _request(port: int, path: str, body: str, secret: str) -> bytes:
    """One request as bytes, encoded before the clock starts."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body.encode())}\r\nConnection: close\r\n\r\n{body}"
    ).encode()


def _post(port: int, request: bytes) -> int:
    """The answer's status, once its Content-Length bytes are in (as an
    HTTP client reads it). A bare socket: http.client's own work would be
    timed as the server's."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request)
        answer = bytearray()
        while (end := answer.find(b"\r\n\r\n")) < 0 or len(answer) < end + 4 + int(
            re.search(rb"(?i)\r\ncontent-length: *(\d+)", answer[:end]).group(1)
        ):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection mid-answer")
            answer += chunk
    return int(answer[9:12])


def _client(port, path, secret, rate, seconds, features, client, barrier, queue):
    total = int(rate * seconds)
    requests = [_request(port, path, body, secret) for body in _bodies(client, total, features)]
    latencies, ok, errors = [], 0, 0
    interval = 1 / rate
    # Every client has built its bodies: the schedules start together.
    barrier.wait()
    begin = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = begin + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            status = _post(port, requests[i])
        except (OSError, ValueError, AttributeError):  # no answer, or not HTTP
            status = 0
        if status == 200:
            ok += 1
        else:
            errors += 1
        latencies.append(time.perf_counter() - scheduled)
    queue.put((latencies, ok, errors))


def _stored(contract_id: int) -> int:
    from ledger.models import RouteDecision

    return RouteDecision.objects.filter(contract_id=contract_id).count()


def _http_run(*, server, path, secret, rate, seconds, clients, features) -> dict:
    queue = multiprocessing.Queue()
    barrier = multiprocessing.Barrier(clients + 1)
    procs = [
        multiprocessing.Process(
            target=_client,
            args=(server.port, path, secret, rate / clients, seconds, features, c, barrier, queue),
        )
        for c in range(clients)
    ]
    for proc in procs:
        proc.start()
    barrier.wait()
    with MachineShare() as share:
        results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    latencies = sorted(x for lat, _, _ in results for x in lat)
    return {
        "requests": len(latencies),
        "ok": sum(ok for _, ok, _ in results),
        "errors": sum(e for _, _, e in results),
        "p50_ms": common.percentile(latencies, 50) * 1000,
        "p99_ms": common.percentile(latencies, 99) * 1000,
        "max_ms": latencies[-1] * 1000,
        "machine": str(share),
    }


FLOOR_HTTP = "floor: a fixed answer, no Django"
BASELINE_HTTP = "inserted in the request (baseline)"
SPOOLED_HTTP = "spooled"


def _warm(server, path: str, secret: str, count: int) -> None:
    """Every worker past its first requests (the version compiled, the key
    verified)."""
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    for body in _bodies(99, count, True):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", path, body, headers)
        answer = conn.getresponse()
        if answer.status != 200:
            raise SystemExit(f"route answered {answer.status}: {answer.read()[:300]!r}")
        answer.read()
        conn.close()


def _storer(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "decisions_store"],
        cwd=common.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def http_bench(*, env, contract, secret, rate, seconds, workers, clients) -> dict:
    """The route with 64 features at ``rate``, each mode under its own
    gunicorn: the floor (bench/floor_wsgi.py); each decision inserted in its
    request; spooled (ROUTE_DECISION_SPOOL_DIR, with ``manage.py
    decisions_store`` beside gunicorn: the production setting). Decisions are
    counted once the server and the storer have stopped."""
    path = f"/api/v1/contracts/{contract.code}/routing/route"
    warm = workers * 20
    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench-spool-") as spool:
        spooled = {**env, "ROUTE_DECISION_SPOOL_DIR": spool}
        modes = (
            (FLOOR_HTTP, env, {"app": "bench.floor_wsgi", "settings": False}),
            (BASELINE_HTTP, env, {}),
            (SPOOLED_HTTP, spooled, {}),
        )
        for name, mode_env, server_args in modes:
            before = _stored(contract.id)
            storer = _storer(mode_env) if mode_env is spooled else None
            try:
                with common.Gunicorn(env=mode_env, workers=workers, **server_args) as server:
                    _warm(server, path, secret, warm)
                    runs[name] = _http_run(
                        server=server,
                        path=path,
                        secret=secret,
                        rate=rate,
                        seconds=seconds,
                        clients=clients,
                        features=True,
                    )
            finally:
                if storer is not None:
                    # Its last pass stores what the stopped workers let go.
                    storer.send_signal(signal.SIGTERM)
                    storer.wait(timeout=60)
            if name != FLOOR_HTTP:
                runs[name]["stored"] = _stored(contract.id) - before - warm
                runs[name]["left"] = len(os.listdir(spool))
    return runs


# --- 3. nightly ---------------------------------------------------------------------


def _read_floor(contract) -> tuple[float, int]:
    """The nightly run's query, its rows fetched and dropped: the floor of
    reading the logged decisions."""
    from ledger.selectors import logged_rows
    from routing.learning import MAX_LOGGED

    started = time.perf_counter()
    rows = sum(
        1
        for _ in logged_rows(
            contract_id=contract.id,
            start=AS_OF - timedelta(days=contract.routing_window_days),
            end=AS_OF,
            limit=MAX_LOGGED,
        )
    )
    return time.perf_counter() - started, rows


def nightly_bench(decisions: int, profile: bool) -> dict:
    from routing.learning import policy_learn_for_contract

    contract, models, _ = _seed("bench-nightly")
    with MachineShare() as generating:
        started = time.perf_counter()
        successes = logged_generate(contract=contract, models=models, decisions=decisions)
        generated = time.perf_counter() - started
    floor_s, floor_rows = _read_floor(contract)
    profiler = cProfile.Profile() if profile else None
    with MachineShare() as learning:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        version = policy_learn_for_contract(contract=contract, as_of=AS_OF).policy
        if profiler:
            profiler.disable()
        learned = time.perf_counter() - started
    out = {
        "decisions": decisions,
        "successes": successes,
        "generate_s": generated,
        "generate_machine": str(generating),
        "floor_s": floor_s,
        "floor_rows": floor_rows,
        "learn_s": learned,
        "learn_machine": str(learning),
        "logged": version.guard.get("logged"),
        "with_features": version.guard.get("with_features"),
        "l2": (version.model.get("success") or {}).get("l2"),
        "verdict": version.guard.get("verdict"),
        "estimates": version.guard.get("estimates"),
        "weights": version.task_types.get(TASK_TYPES[0], {}).get("weights"),
    }
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
        out["profile"] = text.getvalue()
    return out


# --- the command ------------------------------------------------------------------


def database_ready() -> dict[str, str]:
    """The benchmark's database migrated, and the production environment
    that uses it: on a fresh database the owner migrates and the
    application's role serves; a given DATABASE_URL is used as it is."""
    given = bool(os.environ.get("DATABASE_URL"))
    owner = common.database_prepare(name="bench_route")
    if given:
        env = common.production_env(owner)
        common.database_migrate(env)
        common.django_setup(env)
        return env
    parts = urlsplit(owner)
    host = parts.netloc.rpartition("@")[2]
    app = urlunsplit(parts._replace(netloc=f"{APP_ROLE}@{host}"))
    env = {**common.production_env(app), "MIGRATION_DATABASE_URL": owner}
    # Migrated by the owner through the default connection: a data
    # migration that reads through the default connection (billing 0005)
    # would otherwise wait forever on the migration's own open transaction
    # on the owner connection. The application's grants follow.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--database", "default", "--no-input", "-v0"],
        cwd=common.ROOT,
        # As the owner on both connections, the migration's own grant step
        # warns that the application is the owner: the grants follow here.
        env={**env, "DATABASE_URL": owner, "LOG_LEVEL": "ERROR"},
        check=True,
    )
    common.django_setup(env)
    from django.db import connections

    from core.db_roles import roles_grant

    roles_grant(connections["owner"])
    return env


def print_decisions(figures: dict[str, np.ndarray], count: int) -> None:
    floor = figures["sha256 key hash (floor)"]
    base50, base99 = np.percentile(floor, 50), np.percentile(floor, 99)
    print(f"1. in-process decision, {count:,} decisions, 10 candidates ({load()}):")
    for name, samples in figures.items():
        p50, p99 = np.percentile(samples, 50), np.percentile(samples, 99)
        print(
            f"   {name:<36} median {p50:7.2f} us ({ratio(p50, base50):>7} floor), "
            f"p99 {p99:7.2f} us ({ratio(p99, base99):>7}), mean {samples.mean():7.2f} us"
        )
    p50 = np.percentile(figures["decision, 64 features"], 50)
    print(f"   goal < {GOAL_DECISION_US} us with 64 features: {'met' if p50 < 20 else 'NOT met'}")


def print_http(runs: dict, args) -> None:
    print(
        f"2. HTTP route at {args.rate:.0f} req/s for {args.seconds:.0f} s, {args.workers} "
        f"gunicorn workers, {args.clients} client processes, 64 features, 10 models, "
        f"learned policy with a success model, the decision:"
    )
    base = runs[BASELINE_HTTP]
    for name, run in runs.items():
        stored = (
            ""
            if "stored" not in run
            else f"decisions stored {run['stored']} "
            f"({'=' if run['stored'] == run['ok'] else '!='} answered 200), "
            f"{run['left']} spool files left; "
        )
        print(
            f"   {name:<36} {run['requests']} requests, {run['ok']} answered 200, "
            f"{run['errors']} errors, {stored}"
            f"p50 {run['p50_ms']:.2f} ms ({ratio(run['p50_ms'], base['p50_ms'])}), "
            f"p99 {run['p99_ms']:.2f} ms ({ratio(run['p99_ms'], base['p99_ms'])}), "
            f"max {run['max_ms']:.1f} ms; {run['machine']}"
        )
    p99 = runs[SPOOLED_HTTP]["p99_ms"]
    print(
        f"   goal p99 < {GOAL_P99_MS} ms with features, spooled: "
        f"{'met' if p99 < GOAL_P99_MS else 'NOT met'} ({ratio(p99, GOAL_P99_MS)} the goal; "
        f"the floor's own p99 is {runs[FLOOR_HTTP]['p99_ms']:.2f} ms)"
    )


def print_nightly(figures: dict) -> None:
    print(f"3. nightly policy run on {figures['decisions']:,} logged decisions:")
    print(
        f"   generated decisions, calls and {figures['successes']:,} accepted outcomes in "
        f"{figures['generate_s']:.1f} s ({figures['generate_machine']})"
    )
    print(
        f"   floor: the run's query, {figures['floor_rows']:,} rows fetched and dropped, "
        f"{figures['floor_s']:.2f} s"
    )
    print(
        f"   policy_learn_for_contract: {figures['learn_s']:.2f} s "
        f"({ratio(figures['learn_s'], figures['floor_s'])} the floor, "
        f"{ratio(figures['learn_s'], GOAL_LEARN_S)} the goal of {GOAL_LEARN_S} s: "
        f"{'met' if figures['learn_s'] < GOAL_LEARN_S else 'NOT met'}; "
        f"{figures['learn_machine']})"
    )
    print(
        f"   rows read {figures['logged']:,} (with features {figures['with_features']:,}), "
        f"chosen L2 {figures['l2']}, verdict {figures['verdict']}, "
        f"estimates {figures['estimates']}"
    )
    print(f"   weights of {TASK_TYPES[0]} without features: {figures['weights']}")
    if "profile" in figures:
        print(figures["profile"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=common.cores())
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--decisions", type=int, default=1_000_000, help="nightly logged rows")
    parser.add_argument("--in-process", type=int, default=200_000, help="decisions timed")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-nightly", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the nightly run")
    args = parser.parse_args()
    common.stop_on_sigterm()
    print(f"start: {load()}")
    env = database_ready()
    from routing.learning import policy_learn_for_contract

    print_decisions(decision_bench(args.in_process), args.in_process)
    if not args.skip_http:
        contract, models, secret = _seed("bench-route")
        logged_generate(contract=contract, models=models, decisions=HTTP_DECISIONS, seed=2)
        policy = policy_learn_for_contract(contract=contract, as_of=AS_OF).policy
        if policy.model["success"] is None:
            raise SystemExit(f"the HTTP contract's policy has no success model: {policy.guard}")
        print(f"   ({load()} before HTTP)")
        runs = http_bench(
            env=env,
            contract=contract,
            secret=secret,
            rate=args.rate,
            seconds=args.seconds,
            workers=args.workers,
            clients=args.clients,
        )
        print_http(runs, args)
    if not args.skip_nightly:
        print(f"   ({load()} before nightly)")
        print_nightly(nightly_bench(args.decisions, args.profile))
    print(f"end: {load()}")


if __name__ == "__main__":
    main()
