"""Ingestion benchmark: calls/s end to end through gunicorn, against the
machine's ceiling for an idempotent store (a raw COPY of the same rows into
a table with the same unique index), measured in the same run.

    python -m bench.ingest [--calls 200000] [--clients N] [--workers N]

docs/BENCHMARKS.md says what it prints and what it measured here.
"""

import argparse
import multiprocessing
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import psycopg
import requests
from psycopg import sql
from rich.console import Console
from rich.table import Table

from bench import common

BATCH_SIZE = 5000
PHASES = ("fresh", "duplicate")
MARKS_PERCENT = (25, 50, 75, 100)
BARRIER_TIMEOUT_S = 600
SCRATCH_TABLE = "bench_copy_ceiling"
# The goal for end-to-end ingestion.
GOAL_RATE = 50_000
GOAL_RATIO = 0.5
COLUMNS = ("calls/s", "vs COPY", "p50 batch", "p99 batch")
MONTH_START = datetime(2026, 3, 1, tzinfo=UTC)
# (name sent on the wire, canonical name): an alias is resolved like a name.
WIRE_MODELS = (
    ("gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("gpt-4o", "gpt-4o"),
    ("claude-haiku-4-5", "claude-haiku-4-5"),
    ("claude-sonnet-4-5", "claude-sonnet-4-5"),
)
TASK_TYPES = ("code_review", "support_ticket", "test_generation", "triage")


# --- the records ------------------------------------------------------------


def batch_body(index: int, size: int) -> bytes:
    """Batch ``index`` as a request body; the same index gives the same bytes
    (the duplicate pass posts them again)."""
    rng = random.Random(index)
    records = []
    for _ in range(size):
        input_tokens = rng.randint(200, 30_000)
        cache_read = rng.randint(0, input_tokens // 2)
        cache_write = rng.randint(0, (input_tokens - cache_read) // 4)
        output_tokens = rng.randint(20, 4_000)
        reported = None
        if rng.random() < 0.05:
            reported = str(Decimal(rng.randrange(1, 10**8)).scaleb(-8))
        records.append(
            {
                "external_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "occurred_at": MONTH_START
                + timedelta(seconds=rng.randrange(30 * 86_400), microseconds=rng.randrange(10**6)),
                "model": rng.choice(WIRE_MODELS)[0],
                "task_type": rng.choice(TASK_TYPES),
                "task_ref": f"T-{rng.randrange(50_000)}",
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cache_read_tokens": cache_read,
                "cache_write_tokens": cache_write,
                "cache_write_1h_tokens": rng.randint(0, cache_write // 2),
                "reasoning_tokens": rng.randint(0, output_tokens // 3),
                "service_tier": "standard",
                "reported_cost_usd": reported,
                "latency_ms": rng.randint(80, 20_000),
                "success": rng.random() < 0.97,
                "policy_version": None,
                "metadata": {"session": f"s-{rng.randrange(10_000)}"},
            }
        )
    return orjson.dumps({"records": records}, option=orjson.OPT_UTC_Z)


def batch_sizes(calls: int) -> list[int]:
    return [min(BATCH_SIZE, calls - start) for start in range(0, calls, BATCH_SIZE)]


# --- the seeded contract ----------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    contract_id: int
    code: str
    warmup_code: str
    token: str


def seed() -> Seeded:
    """A vendor and a customer, a vendor key, a priced catalog (two price
    rows for some models, so the price book's date lookup is exercised) and
    a contract with a markup; a second contract takes the warm-up batches."""
    from billing.models import ApiKey, Contract, Organization
    from routing.models import LlmModel, ModelAlias, Price

    tag = uuid.uuid4().hex[:8]
    vendor = Organization.objects.create(slug=f"bench-vendor-{tag}", name="Bench Vendor")
    customer = Organization.objects.create(slug=f"bench-customer-{tag}", name="Bench Customer")
    _, token = ApiKey.objects.create_key(name=f"bench-{tag}", organization=vendor, role="vendor")
    prices = {
        "gpt-4o-mini": ("light", "openai", [("0.15", "0.60", "0.075")]),
        "gpt-4o": ("mid", "openai", [("2.50", "10", "1.25")]),
        "claude-haiku-4-5": ("light", "anthropic", [("1", "5", "0.10"), ("0.80", "4", "0.08")]),
        "claude-sonnet-4-5": (
            "frontier",
            "anthropic",
            [("3", "15", "0.30"), ("2.50", "12", "0.25")],
        ),
    }
    for name, (tier, provider, rows) in prices.items():
        model, _ = LlmModel.objects.get_or_create(
            name=name, defaults={"tier": tier, "provider": provider}
        )
        for number, (input_usd, output_usd, cache_read_usd) in enumerate(rows):
            Price.objects.get_or_create(
                llm_model=model,
                service_tier="standard",
                effective_from=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=440 * number),
                defaults={
                    "input": Decimal(input_usd),
                    "output": Decimal(output_usd),
                    "cache_read": Decimal(cache_read_usd),
                    "source": "bench",
                },
            )
    for alias, name in WIRE_MODELS:
        if alias != name:
            ModelAlias.objects.get_or_create(alias=alias, llm_model=LlmModel.objects.get(name=name))
    measured, warmup = (
        Contract.objects.create(
            code=f"bench-{tag}{suffix}",
            vendor=vendor,
            customer=customer,
            starts_on=MONTH_START.date(),
            markup=Decimal("0.20"),
            hourly_rate=Decimal("150"),
        )
        for suffix in ("", "-warmup")
    )
    return Seeded(measured.id, measured.code, warmup.code, token)


# --- the clients --------------------------------------------------------------


@dataclass(frozen=True)
class ClientPlan:
    number: int
    url: str
    warmup_url: str
    token: str
    batches: list[tuple[int, int]]  # (batch index, records)


@dataclass
class ClientResult:
    latencies_s: dict[str, list[float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _expected(phase: str, size: int) -> dict:
    if phase == "fresh":
        return {"accepted": size, "duplicates": 0, "rejected": []}
    return {"accepted": 0, "duplicates": size, "rejected": []}


def _post_checked(
    session: requests.Session, url: str, body: bytes, *, label: str, expected: dict, problems: list
) -> float | None:
    """Post one batch; the latency in seconds, or None when it got no answer."""
    started = time.monotonic()
    try:
        response = session.post(url, data=body, timeout=300)
        answer = orjson.loads(response.content)
    except (requests.RequestException, orjson.JSONDecodeError) as exc:
        problems.append(f"{label}: {exc}")
        return None
    latency_s = time.monotonic() - started
    if response.status_code != 200 or answer != expected:
        problems.append(
            f"{label}: HTTP {response.status_code}, {str(answer)[:300]} (expected {expected})"
        )
    return latency_s


def client_run(plan: ClientPlan, barrier, progress, results) -> None:
    """Encode this client's batches and warm the server up, then post the
    batches once per phase when the parent says go; every answer is checked
    against what it must say."""
    bodies = [(index, size, batch_body(index, size)) for index, size in plan.batches]
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {plan.token}", "Content-Type": "application/json"}
    )
    result = ClientResult()
    # Every client posts one full batch at once, so every worker has served
    # a request (imported its URL conf, opened its database connection)
    # before the clock starts.
    _post_checked(
        session,
        plan.warmup_url,
        batch_body(-1 - plan.number, BATCH_SIZE),
        label=f"warm-up batch of client {plan.number}",
        expected=_expected("fresh", BATCH_SIZE),
        problems=result.problems,
    )
    barrier.wait(BARRIER_TIMEOUT_S)
    for phase in PHASES:
        latencies = result.latencies_s.setdefault(phase, [])
        barrier.wait(BARRIER_TIMEOUT_S)
        for index, size, body in bodies:
            latency_s = _post_checked(
                session,
                plan.url,
                body,
                label=f"{phase} batch {index}",
                expected=_expected(phase, size),
                problems=result.problems,
            )
            if latency_s is not None:
                latencies.append(latency_s)
            with progress.get_lock():
                progress.value += size
        barrier.wait(BARRIER_TIMEOUT_S)
    results.put(result)


# --- the run ------------------------------------------------------------------


@dataclass
class PhaseFigures:
    calls: int
    wall_s: float
    latencies_s: list[float]
    cpu_s: dict[str, float]
    machine_busy: float

    @property
    def rate(self) -> float:
        return self.calls / self.wall_s

    def cpu_us_per_call(self, part: str) -> float:
        return self.cpu_s[part] / self.calls * 1e6


def backend_pids(conn: psycopg.Connection) -> list[int]:
    """The server processes of the other connections to this database (the
    gunicorn workers' connections)."""
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    ).fetchall()
    return [pid for (pid,) in rows]


@dataclass
class CpuMeter:
    """CPU of the app server, its database backends and the clients."""

    server: common.Gunicorn
    conn: psycopg.Connection
    clients: list[int]

    def read(self) -> dict:
        return {
            "app": common.cpu_seconds(self.server.pids()),
            "postgres": common.cpu_seconds(backend_pids(self.conn)),
            "clients": common.cpu_seconds(self.clients),
            "machine": common.machine_busy(),
        }

    @staticmethod
    def used(before: dict, after: dict) -> tuple[dict[str, float], float]:
        spent = {k: common.cpu_used(before[k], after[k]) for k in ("app", "postgres", "clients")}
        busy = after["machine"][0] - before["machine"][0]
        total = after["machine"][1] - before["machine"][1]
        return spent, busy / total


def post_all(
    *, server: common.Gunicorn, seeded: Seeded, calls: int, clients: int, conn: psycopg.Connection
) -> tuple[dict[str, PhaseFigures], common.RssSampler, list[str]]:
    sizes = batch_sizes(calls)
    url = f"{server.url}/api/v1/contracts/{{}}/calls"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(clients + 1)
    progress = context.Value("q", 0)
    results = context.Queue()
    processes = [
        context.Process(
            target=client_run,
            args=(
                ClientPlan(
                    number,
                    url.format(seeded.code),
                    url.format(seeded.warmup_code),
                    seeded.token,
                    list(enumerate(sizes))[number::clients],
                ),
                barrier,
                progress,
                results,
            ),
            daemon=True,
        )
        for number in range(clients)
    ]
    for process in processes:
        process.start()
    try:
        meter = CpuMeter(server, conn, [p.pid for p in processes])
        # The counter runs on through the replay, so the 100% mark is taken
        # at the latest when the replay starts.
        marks = [calls * percent // 100 for percent in MARKS_PERCENT]
        figures = {}
        with common.RssSampler(
            pids=server.pids, progress=lambda: progress.value, marks=marks
        ) as rss:
            barrier.wait(BARRIER_TIMEOUT_S)  # bodies encoded, workers warmed up
            for phase in PHASES:
                before = meter.read()
                started = time.monotonic()
                barrier.wait(BARRIER_TIMEOUT_S)
                barrier.wait(BARRIER_TIMEOUT_S)
                wall_s = time.monotonic() - started
                cpu_s, busy = CpuMeter.used(before, meter.read())
                figures[phase] = PhaseFigures(calls, wall_s, [], cpu_s, busy)
        outcomes = [results.get(timeout=BARRIER_TIMEOUT_S) for _ in processes]
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
    problems = []
    for outcome in outcomes:
        problems += outcome.problems
        for phase in PHASES:
            figures[phase].latencies_s += outcome.latencies_s[phase]
    return figures, rss, problems


@dataclass(frozen=True)
class CopyFigures:
    rate: float
    pg_cpu_us_per_row: float


def copy_ceiling(*, url: str, connections: int, chunks: list[bytes], columns: str) -> CopyFigures:
    """Rows/s (and backend CPU) of a raw COPY of ``chunks`` (one transaction each, as the
    service commits once per batch) into a fresh scratch table shaped like
    ledger_call with its primary key and unique (contract_id, external_id),
    over ``connections`` connections at once."""
    scratch = sql.Identifier(SCRATCH_TABLE)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(scratch))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (LIKE ledger_call INCLUDING DEFAULTS INCLUDING IDENTITY, "
                "PRIMARY KEY (id), UNIQUE (contract_id, external_id))"
            ).format(scratch)
        )
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(scratch, sql.SQL(columns))
    start = threading.Barrier(connections + 1)
    backend_cpu_s = []

    def copy(part: list[bytes]) -> None:
        with psycopg.connect(url) as conn:
            backend = [conn.info.backend_pid]
            before = common.cpu_seconds(backend)
            start.wait()
            for chunk in part:
                with conn.transaction(), conn.cursor() as cursor, cursor.copy(statement) as c:
                    c.write(chunk)
            backend_cpu_s.append(common.cpu_used(before, common.cpu_seconds(backend)))

    threads = [
        threading.Thread(target=copy, args=(chunks[n::connections],)) for n in range(connections)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.monotonic()
    for thread in threads:
        thread.join()
    wall_s = time.monotonic() - started
    with psycopg.connect(url, autocommit=True) as conn:
        (copied,) = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(scratch)).fetchone()
        conn.execute(sql.SQL("DROP TABLE {}").format(scratch))
    rows = sum(chunk.count(b"\n") for chunk in chunks)
    if copied != rows:
        raise SystemExit(f"the COPY ceiling stored {copied} rows, not {rows}")
    return CopyFigures(rows / wall_s, sum(backend_cpu_s) / rows * 1e6)


def stored_rows(*, url: str, contract_id: int, columns: str) -> list[bytes]:
    """The contract's calls as COPY text, in insertion order, in batches."""
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        query = sql.SQL(
            "COPY (SELECT {} FROM ledger_call WHERE contract_id = {} ORDER BY id) TO STDOUT"
        )
        with cursor.copy(query.format(sql.SQL(columns), sql.Literal(contract_id))) as copy:
            text = b"".join(bytes(data) for data in copy)
    lines = text.splitlines(keepends=True)
    return [b"".join(lines[n : n + BATCH_SIZE]) for n in range(0, len(lines), BATCH_SIZE)]


def count_calls(*, url: str, contract_id: int) -> int:
    with psycopg.connect(url) as conn:
        query = "SELECT count(*) FROM ledger_call WHERE contract_id = %s"
        return conn.execute(query, [contract_id]).fetchone()[0]


# --- the report ---------------------------------------------------------------


def _mib(value: int) -> str:
    return f"{value / 2**20:,.0f} MiB"


def report(
    *,
    console: Console,
    figures: dict[str, PhaseFigures],
    copies: dict[int, CopyFigures],
    rss: common.RssSampler,
    setup: str,
) -> None:
    ceiling = max(c.rate for c in copies.values())
    table = Table(title=f"Ingestion, {setup}")
    table.add_column("path")
    for column in (*COLUMNS, "app CPU", "pg CPU", "client CPU", "machine busy"):
        table.add_column(column, justify="right")
    for phase, phase_figures in figures.items():
        latencies_ms = [s * 1000 for s in phase_figures.latencies_s]
        per_call = [phase_figures.cpu_us_per_call(k) for k in ("app", "postgres", "clients")]
        table.add_row(
            f"HTTP, {phase}",
            f"{phase_figures.rate:,.0f}",
            f"{phase_figures.rate / ceiling:.2f}",
            f"{common.percentile(latencies_ms, 50):,.0f} ms",
            f"{common.percentile(latencies_ms, 99):,.0f} ms",
            *(f"{us:.1f} µs" for us in per_call),
            f"{phase_figures.machine_busy:.0%}",
        )
    for connections, copied in copies.items():
        table.add_row(
            f"raw COPY, {connections} connection{'s' if connections > 1 else ''}",
            f"{copied.rate:,.0f}",
            f"{copied.rate / ceiling:.2f}",
            "",
            "",
            "",
            f"{copied.pg_cpu_us_per_row:.1f} µs",
        )
    console.print(table)
    for phase, phase_figures in figures.items():
        ratio = phase_figures.rate / ceiling
        met = ratio >= GOAL_RATIO and phase_figures.rate >= GOAL_RATE
        console.print(
            f"goal, {phase}: {phase_figures.rate:,.0f} calls/s (at least {GOAL_RATE:,}), "
            f"{ratio:.2f} of COPY (at least {GOAL_RATIO}): "
            + ("[green]met[/]" if met else "[red]not met[/]")
        )
    memory = Table(title="gunicorn RSS (master + workers)")
    memory.add_column("calls stored")
    memory.add_column("RSS", justify="right")
    for percent, mark in zip(MARKS_PERCENT, rss.marks, strict=True):
        memory.add_row(f"{percent}% ({mark:,})", _mib(rss.at_marks.get(mark, 0)))
    memory.add_row("peak, both passes", _mib(rss.peak))
    console.print(memory)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=common.cores(), help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=None, help="client processes (2-4)")
    parser.add_argument(
        "--database",
        default="outcome_ledger_bench",
        help="the database created afresh on 127.0.0.1:5432 when DATABASE_URL is unset",
    )
    args = parser.parse_args()
    clients = args.clients or min(4, max(2, 2 * args.workers))
    common.stop_on_sigterm()
    console = Console()
    if not console.is_terminal:
        console.width = 120

    url = common.database_prepare(name=args.database)
    env = common.production_env(url)
    with console.status("migrating and seeding"):
        common.database_migrate(env)
        common.django_setup(env)
        seeded = seed()
    from django.db import connections

    from ledger.services import CALL_COLUMNS

    connections.close_all()
    columns = ", ".join(CALL_COLUMNS)
    with (
        common.Gunicorn(env=env, workers=args.workers) as server,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        (pg_version,) = conn.execute("SHOW server_version").fetchone()
        setup = (
            f"{args.calls:,} calls in batches of {BATCH_SIZE:,}, {args.workers} gunicorn "
            f"workers, {clients} clients, {common.cores()} cores, PostgreSQL {pg_version}, "
            f"load average before: {os.getloadavg()[0]:.2f}"
        )
        with console.status(f"posting {args.calls:,} calls twice"):
            figures, rss, problems = post_all(
                server=server, seeded=seeded, calls=args.calls, clients=clients, conn=conn
            )
    stored = count_calls(url=url, contract_id=seeded.contract_id)
    with console.status("raw COPY of the same rows"):
        chunks = stored_rows(url=url, contract_id=seeded.contract_id, columns=columns)
        copies = {
            n: copy_ceiling(url=url, connections=n, chunks=chunks, columns=columns)
            for n in sorted({1, args.workers})
        }
    report(console=console, figures=figures, copies=copies, rss=rss, setup=setup)
    if stored != args.calls:
        problems.append(f"ledger_call holds {stored:,} calls of the contract, not {args.calls:,}")
    if problems:
        console.print(f"[bold red]{len(problems)} problem(s):[/]")
        for problem in problems[:20]:
            console.print(f"  {problem}")
        raise SystemExit(1)
    console.print(
        f"[green]checked: ledger_call holds exactly {stored:,} calls; every answer said "
        f"accepted {args.calls:,} (fresh) and duplicates {args.calls:,} (replay), nothing rejected"
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # The context managers have stopped gunicorn and the clients by now.
        Console(stderr=True).print("interrupted: server and clients stopped")
        raise SystemExit(130) from None
