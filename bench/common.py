"""Shared plumbing of the benchmarks: a throwaway database, Django for
seeding, the API under gunicorn, and what /proc says about processes.

Everything listens on and talks to loopback addresses only.
"""

import ipaddress
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
LOCAL_SERVER = "postgres://postgres@127.0.0.1:5432"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
KIB = 1024


def cores() -> int:
    return len(os.sched_getaffinity(0))


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host in ("", "localhost") or host.startswith("/"):
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise SystemExit(f"benchmarks talk to loopback addresses only, not '{host}'")


def database_prepare(*, name: str) -> str:
    """DATABASE_URL when set (used as it is), else a fresh database ``name``
    on the local server, dropped first if it exists."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        _check_loopback(url)
        return url
    with psycopg.connect(f"{LOCAL_SERVER}/postgres", autocommit=True) as conn:
        database = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(database))
    return f"{LOCAL_SERVER}/{name}"


def production_env(database_url: str) -> dict[str, str]:
    """The environment of a production process: DEBUG off, a throwaway key."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        # The benchmarks speak plain HTTP to 127.0.0.1.
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def database_migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def django_setup(env: dict[str, str]) -> None:
    """Django in this process, for seeding with the ORM."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces and parentheses; fields
            # after the last ')' are fixed: state, ppid, ...
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class Gunicorn:
    """``config.wsgi`` under gunicorn on a free loopback port, in its own
    process group so that stopping it stops its workers (also on Ctrl-C:
    use it as a context manager)."""

    def __init__(
        self, *, env: dict[str, str], workers: int, app: str = "config.wsgi", settings: bool = True
    ) -> None:
        """``app`` under the project's gunicorn settings, or under gunicorn's
        own with ``settings`` false (an app that is not Django)."""
        self.workers = workers
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Closed by stop(), which __exit__ calls: the log outlives this method.
        self._log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log")  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                *(["--config", "config/gunicorn.py"] if settings else []),
                app,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--timeout",
                "120",
                "--graceful-timeout",
                "5",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __enter__(self) -> "Gunicorn":
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                up = requests.get(f"{self.url}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                up = False
            if up and len(self.pids()) == self.workers + 1:
                return
            time.sleep(0.1)
        raise SystemExit(f"gunicorn did not start; its log:\n{self.log_tail()}")

    def pids(self) -> list[int]:
        """The master and its workers."""
        return [self._process.pid, *_children(self._process.pid)]

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._log.close()


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so context managers stop what they started."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def rss_bytes(pids: Iterable[int]) -> int:
    """Sum of the resident set sizes (shared pages counted once per process)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * KIB
        except OSError:
            continue
    return total


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU of each live process."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # utime and stime are fields 14 and 15 of proc(5); 12 and 13 here.
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two readings; a process born in between started at 0."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    total = sum(ticks[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (inclusive method: within the observed range)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass
class RssSampler:
    """Samples the summed RSS of ``pids()`` in a thread; records the peak and,
    when ``progress()`` crosses each of ``marks``, the RSS at that moment."""

    pids: Callable[[], list[int]]
    progress: Callable[[], int]
    marks: list[int]
    interval: float = 0.05
    peak: int = 0
    at_marks: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> "RssSampler":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = rss_bytes(self.pids())
            self.peak = max(self.peak, rss)
            done = self.progress()
            for mark in self.marks:
                if mark not in self.at_marks and done >= mark:
                    self.at_marks[mark] = rss
            self._stop.wait(self.interval)
