"""Storing route decisions (DESIGN.md "Decisions are records"), off the
route path when a spool directory is configured (docs/ROUTING.md "How a
decision is stored").

Every decision is one ``DecisionRow``. ``decision_record`` either inserts it
at once (``ROUTE_DECISION_SPOOL_DIR`` unset: one statement in the request) or
appends it as one line to this process's spool file: a single ``write``
before the answer leaves. A process holds an exclusive ``flock`` on the
file it writes; every ``ROUTE_DECISION_SPOOL_SECONDS`` a thread of the
process swaps in a fresh file and lets the full one go. Whoever runs
``spool_drain`` (``manage.py decisions_store``, and the nightly run before
it learns) stores every file nobody holds, in one statement, and deletes
it. A process that dies, a worker killed with SIGKILL included, lets its
file go with its life, so its decisions are stored too. Storing is
idempotent (a route id is stored once per contract): a file stored twice,
after a crash between the commit and the unlink, adds nothing.

The web process does no database work for a spooled decision, and its
thread holds the interpreter lock only to swap files: storing in the
worker itself doubled the route's p99.

What a spooled decision can lose: only what the operating system had not
written to disk when the machine itself went down. A line that does not
decode (the machine stopped mid-write), or a row the database refuses, is
never dropped silently and never holds back the rest of its file: it is
kept beside the spool in ``*.bad`` and logged.
"""

import atexit
import fcntl
import logging
import os
import threading
import time
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import msgspec
from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction

logger = logging.getLogger(__name__)


class DecisionRow(msgspec.Struct, frozen=True, array_like=True):
    """One decision as stored; a spool line is its JSON array."""

    contract_id: int
    route_id: str
    decided_at: datetime
    task_type: str
    key: str
    features: bytes | None
    policy_version: int
    llm_model_id: int
    probability: Decimal
    explored: bool


_COLUMNS = DecisionRow.__struct_fields__
# Each column's array type for unnest, by name (a field without one fails
# at import).
_ARRAY_TYPES = {
    "contract_id": "bigint",
    "route_id": "varchar",
    "decided_at": "timestamptz",
    "task_type": "varchar",
    "key": "varchar",
    "features": "bytea",
    "policy_version": "integer",
    "llm_model_id": "bigint",
    "probability": "numeric",
    "explored": "boolean",
}
_INSERT = f"INSERT INTO ledger_routedecision ({', '.join(_COLUMNS)}) "
_SKIP_STORED = " ON CONFLICT (contract_id, route_id) DO NOTHING"
# One row (the request's own decision): VALUES, ~0.45 ms less than unnest
# for a single row; many (a spool file): one array per column, which is
# faster than a VALUES statement executed per row.
ONE_SQL = f"{_INSERT}VALUES ({', '.join(['%s'] * len(_COLUMNS))}){_SKIP_STORED}"
_ARRAYS = ", ".join(f"%s::{_ARRAY_TYPES[c]}[]" for c in _COLUMNS)
MANY_SQL = f"{_INSERT}SELECT * FROM unnest({_ARRAYS}){_SKIP_STORED}"

_encoder = msgspec.json.Encoder(decimal_format="string")
_decoder = msgspec.json.Decoder(DecisionRow)


def decisions_store(rows: list[DecisionRow]) -> int:
    """Store ``rows`` in one statement; a route id the contract has stored
    already is skipped. Returns how many rows were new."""
    if not rows:
        return 0
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(ONE_SQL, [getattr(rows[0], c) for c in _COLUMNS])
        else:
            cursor.execute(MANY_SQL, [[getattr(r, c) for r in rows] for c in _COLUMNS])
        return cursor.rowcount


def _stored_one_by_one(rows: list[tuple[bytes, DecisionRow]]) -> tuple[int, list[bytes]]:
    """Rows the database refused as a batch, stored one at a time: the new
    count, and the lines of the rows it refuses."""
    stored, refused = 0, []
    for line, row in rows:
        try:
            with transaction.atomic():
                stored += decisions_store([row])
        except (DataError, IntegrityError):
            refused.append(line)
    return stored, refused


def spool_file_store(path: Path) -> int:
    """Store one spool file's rows (the caller holds its lock), then delete
    it. Lines that do not decode, or rows the database refuses, never stop
    the others (one tenant's decision cannot hold back another's): they are
    kept in ``*.bad`` beside it and logged. Returns the rows that were new."""
    rows, bad = [], []
    for line in path.read_bytes().splitlines():
        try:
            rows.append((line, _decoder.decode(line)))
        except msgspec.DecodeError:
            bad.append(line)
    try:
        with transaction.atomic():
            stored = decisions_store([row for _, row in rows])
    except (DataError, IntegrityError):
        stored, refused = _stored_one_by_one(rows)
        bad += refused
    if bad:
        kept = path.with_suffix(".bad")
        kept.write_bytes(b"".join(line + b"\n" for line in bad))
        logger.error("%s: %d lines could not be stored; kept in %s", path, len(bad), kept)
    path.unlink()
    return stored


def spool_drain() -> int:
    """Store every file of the configured spool that no process holds.
    Returns the rows that were new."""
    directory = settings.ROUTE_DECISION_SPOOL_DIR
    if not directory or not Path(directory).is_dir():
        return 0
    stored = 0
    for path in sorted(Path(directory).glob("*.jsonl")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # stored by another drain meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is filling it, or another drain stores it
            if os.fstat(fd).st_nlink:  # not deleted by whoever held it last
                stored += spool_file_store(path)
        finally:
            os.close(fd)
    return stored


class DecisionSpool:
    """This process's spool file and the thread that lets it go every
    ``interval`` seconds. A forked child starts its own on its first
    append."""

    def __init__(self, directory: str | Path, interval: float) -> None:
        self.directory = Path(directory)
        self.interval = interval
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._fd = -1
        self._path: Path | None = None
        self._written = False

    def _open(self) -> None:
        """A new spool file, locked before it takes its ``.jsonl`` name: a
        drain never finds it unheld."""
        name = f"decisions-{os.getpid()}-{uuid.uuid4().hex}"
        making = self.directory / f"{name}.new"
        fd = os.open(making, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd, self._path = fd, making.rename(self.directory / f"{name}.jsonl")
        self._written = False

    def _start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._pid = os.getpid()
        self._open()
        threading.Thread(target=self._run, name="decision-spool", daemon=True).start()
        atexit.register(self.close)

    def append(self, row: DecisionRow) -> None:
        line = _encoder.encode(row) + b"\n"
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            if os.write(self._fd, line) != len(line):
                raise OSError(f"{self._path}: a short write (is the disk full?)")
            self._written = True

    def _release(self) -> None:
        """Let the current file go (closing it drops its lock); an empty one
        is deleted."""
        if not self._written:
            self._path.unlink()
        os.close(self._fd)

    def rotate(self) -> None:
        """Let the file written so far go, and append to a fresh one."""
        with self._lock:
            if self._pid == os.getpid() and self._written:
                self._release()
                self._open()

    def close(self) -> None:
        """Let the last file go and stop the thread (at exit)."""
        with self._lock:
            if self._pid == os.getpid():
                self._release()
            self._pid = None

    def _run(self) -> None:
        pid = os.getpid()
        while True:
            time.sleep(self.interval)
            if self._pid != pid:
                return
            try:
                self.rotate()
            except OSError:
                logger.exception("swapping the route decision spool file failed; retrying")


# This process's spool per directory (one in production; tests change it).
_spools: dict[str, DecisionSpool] = {}


def decision_record(row: DecisionRow) -> None:
    """Store one decision, or spool it (the route path: one write)."""
    directory = settings.ROUTE_DECISION_SPOOL_DIR
    if not directory:
        decisions_store([row])
        return
    spool = _spools.get(directory)
    if spool is None:
        spool = _spools.setdefault(
            directory, DecisionSpool(directory, settings.ROUTE_DECISION_SPOOL_SECONDS)
        )
    spool.append(row)


def spools_close() -> None:
    """Let every spool file of this process go."""
    while _spools:
        _spools.popitem()[1].close()
