"""Batches call records and posts them to the ledger (API.md "Ingestion"),
without losing any when the ledger is unreachable.

- Records collect in memory; a background thread flushes them when
  ``batch_size`` are waiting or ``flush_interval_s`` has passed.
- A batch is posted as NDJSON, retried with exponential backoff on network
  errors, 408, 429 and 5xx. When every try fails (or the ledger refuses the
  batch as a whole, e.g. a wrong key or contract code) the batch is written
  to the spool directory as one NDJSON file, atomically (a temporary file,
  then a rename), so a crash never leaves half a batch behind.
- Spooled files are re-sent oldest first at startup and after each
  successful post, each deleted only once the ledger answered 200. The
  ledger is idempotent by ``external_id`` (DESIGN.md "Ingestion rules"), so
  a file sent twice (a crash between the 200 and the delete, two processes
  sharing a spool) is counted once: the second time its records are
  duplicates.

Only the standard library is used (urllib), so the client stays light.
"""

import atexit
import json
import logging
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("outcome_ledger_client")

NDJSON = "application/x-ndjson"
MAX_BATCH = 5000  # API.md "Ingestion": more is refused as a whole (413)
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
SPOOL_SUFFIX = ".ndjson"


# A batch answered with one of these will be refused every time it is sent.
REFUSED_FOR_GOOD = frozenset({400, 413, 415, 422})
REFUSED_SUFFIX = ".refused"


class DeliveryError(Exception):
    """A batch the ledger did not take (after the retries, if retryable)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class DeliveryTotals:
    """What the ledger answered, summed over every batch delivered: the
    ``accepted`` and ``duplicates`` counts and each ``rejected`` entry."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    spooled_batches: int = 0
    # Records that could not be written as JSON (a NaN, a circular value):
    # logged and counted, never queued.
    unencodable: int = 0


def encode_record(record: dict[str, Any]) -> bytes:
    """One NDJSON line. Values JSON has no type for (a UUID, a Decimal) are
    written as their text; NaN and infinities are refused (ValueError), as
    the ledger would refuse them."""
    text = json.dumps(
        record, separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False
    )
    return text.encode() + b"\n"


class LedgerSender:
    """Thread-safe: ``add`` may be called from any thread (LiteLLM runs its
    success callbacks in a thread pool)."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        contract: str,
        spool_dir: str | os.PathLike,
        batch_size: int = 200,
        flush_interval_s: float = 5.0,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
        start: bool = True,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be within 1..{MAX_BATCH}")
        self.url = f"{base_url.rstrip('/')}/api/v1/contracts/{contract}/calls"
        self.api_key = api_key
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.totals = DeliveryTotals()
        self._pending: list[bytes] = []  # NDJSON lines, encoded by add()
        self._wake = threading.Condition()
        self._closed = False
        # One flush at a time, so spooled files are re-sent in order and a
        # file is never being sent and deleted by two threads at once.
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(
                target=self._run, name="outcome-ledger-sender", daemon=True
            )
            self._thread.start()
            atexit.register(self.close)

    @classmethod
    def from_env(cls, **options: Any) -> "LedgerSender":
        """A sender configured by ``OUTCOME_LEDGER_URL``, ``OUTCOME_LEDGER_KEY``,
        ``OUTCOME_LEDGER_CONTRACT`` and, optionally, ``OUTCOME_LEDGER_SPOOL_DIR``
        (default: a folder per contract in the user's cache)."""
        contract = os.environ["OUTCOME_LEDGER_CONTRACT"]
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cls(
            base_url=os.environ["OUTCOME_LEDGER_URL"],
            api_key=os.environ["OUTCOME_LEDGER_KEY"],
            contract=contract,
            spool_dir=os.environ.get("OUTCOME_LEDGER_SPOOL_DIR")
            or cache / "outcome-ledger" / contract,
            **options,
        )

    def add(self, record: dict[str, Any]) -> None:
        # Encoded now, so a bad value fails here, alone, and never takes a
        # queued batch down with it.
        try:
            line = encode_record(record)
        except (TypeError, ValueError, RecursionError) as error:
            logger.error(
                "outcome ledger: record %s not encodable: %s", record.get("external_id"), error
            )
            with self._wake:
                self.totals.unencodable += 1
            return
        with self._wake:
            self._pending.append(line)
            if len(self._pending) >= self.batch_size:
                self._wake.notify()

    def flush(self) -> None:
        """Post what is waiting, then, if the ledger took it, re-send the
        spool."""
        with self._flush_lock:
            if self._deliver_pending():
                self._resend_spool()

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the background thread and deliver (or spool) what is left.
        The spool is left for the next start: at exit, an unreachable
        ledger must not hold the process up with retries."""
        with self._wake:
            if self._closed:
                return
            self._closed = True
            self._wake.notify()
        atexit.unregister(self.close)
        if self._thread is not None:
            self._thread.join(timeout_s)
        with self._flush_lock:
            self._deliver_pending()

    def _deliver_pending(self) -> bool:
        """Post the waiting records batch by batch; once one batch fails,
        the rest are spooled without trying. True when all were posted."""
        failure: DeliveryError | None = None
        while True:
            with self._wake:
                batch = self._pending[: self.batch_size]
                del self._pending[: self.batch_size]
            if not batch:
                return failure is None
            body = b"".join(batch)
            if failure is None:
                try:
                    self._post(body)
                    continue
                except DeliveryError as error:
                    failure = error
            self._spool(body, reason=failure)

    def spooled_files(self) -> list[Path]:
        """Oldest first: the names start with a nanosecond timestamp."""
        return sorted(self.spool_dir.glob(f"*{SPOOL_SUFFIX}"))

    def _run(self) -> None:
        while True:
            # The first pass re-sends what an earlier run left in the spool.
            self._safely(self.flush)
            with self._wake:
                if not self._closed and len(self._pending) < self.batch_size:
                    self._wake.wait(self.flush_interval_s)
                if self._closed:
                    return

    @staticmethod
    def _safely(work) -> None:
        # The background thread must survive anything (a full disk while
        # spooling): it is what delivers the records.
        try:
            work()
        except Exception:
            logger.exception("outcome ledger: flush failed")

    def _resend_spool(self) -> None:
        for path in self.spooled_files():
            try:
                self._post(path.read_bytes())
            except DeliveryError as error:
                if error.status in REFUSED_FOR_GOOD:
                    # Sending it again cannot help; it must not hold back the
                    # files behind it. Kept aside for a person to look at.
                    path.rename(path.with_suffix(REFUSED_SUFFIX))
                    logger.error("outcome ledger: %s refused for good (%s)", path.name, error)
                    continue
                logger.warning("outcome ledger: spool not re-sent yet (%s)", error)
                return
            except FileNotFoundError:
                continue  # another process sharing the spool sent it first
            path.unlink(missing_ok=True)

    def _spool(self, body: bytes, *, reason: DeliveryError) -> None:
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}{SPOOL_SUFFIX}"
        # The temporary name does not end in SPOOL_SUFFIX, so a half-written
        # file is never picked up for re-sending.
        handle, temporary = tempfile.mkstemp(dir=self.spool_dir, suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.spool_dir / name)
        self.totals.spooled_batches += 1
        logger.warning("outcome ledger: batch spooled to %s (%s)", name, reason)

    def _post(self, body: bytes) -> None:
        """Post one batch; returns once the ledger answered 200."""
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": NDJSON},
        )
        for attempt in range(1, self.max_attempts + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    self._count(json.load(response))
                    return
            except urllib.error.HTTPError as error:
                failure = f"HTTP {error.code}: {error.read()[:500].decode(errors='replace')}"
                if error.code not in RETRYABLE_STATUS:
                    raise DeliveryError(failure, status=error.code) from error
            except (OSError, ValueError, KeyError, TypeError) as error:
                # Refused, timed out, reset; or a 200 that is not the
                # ledger's report (a proxy's page): the batch is not known
                # to be stored, and re-posting it is harmless.
                failure = f"{type(error).__name__}: {error}"
            if attempt < self.max_attempts:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise DeliveryError(f"{failure} (after {self.max_attempts} attempts)")

    def _count(self, report: dict[str, Any]) -> None:
        with self._wake:
            self.totals.accepted += report["accepted"]
            self.totals.duplicates += report["duplicates"]
            self.totals.rejected.extend(report["rejected"])
        for rejected in report["rejected"]:
            # A record the ledger rejects (an unknown model, no price in
            # force) would be rejected again: it is reported, not spooled.
            logger.error(
                "outcome ledger: call %s rejected: %s", rejected["external_id"], rejected["errors"]
            )
