"""Picks the model for a request from the ledger's routing weights (API.md
"Routing"), deciding locally: only the request that refreshes the policy,
once per ``ttl_s``, waits on the ledger; the others route meanwhile with
the policy in hand.

The rule is the ledger's own (DESIGN.md "Routing feedback";
docs/LITELLM.md "Routing" states it once): the key's point in [0, 1) is the
first 8 bytes of SHA-256(key, UTF-8) read as a big-endian integer, over
2**64; the models are walked in name order and the first whose cumulative
weight exceeds the point is chosen. The arithmetic is exact (fractions of
the decimal weights), so the same key and policy version give the same model
here as from ``POST .../routing/route``.

The policy is fetched once and kept for ``ttl_s`` seconds. When a refresh
fails, the policy in hand is kept (and tried again after another ``ttl_s``);
with no policy at all, ``default_model`` is used, with no policy version.
"""

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from hashlib import sha256
from typing import Any

logger = logging.getLogger("outcome_ledger_client")

# (model, cumulative weight) in model-name order; the last weight is 1.
Table = tuple[tuple[str, Fraction], ...]


@dataclass(frozen=True, slots=True)
class Route:
    """The chosen model and the policy version that chose it (None for the
    default model), to carry in the call's ``metadata=``."""

    model: str
    policy_version: int | None


def key_point(key: str) -> Fraction:
    return Fraction(int.from_bytes(sha256(key.encode()).digest()[:8], "big"), 2**64)


def route_table(weights: dict[str, str | Decimal]) -> Table:
    """The walk order of ``weights`` (decimal strings, as the API sends
    them); they must sum to exactly 1, as the ledger publishes them."""
    cumulative = Fraction(0)
    table = []
    for model in sorted(weights):
        cumulative += Fraction(Decimal(weights[model]))
        table.append((model, cumulative))
    if cumulative != 1:
        raise ValueError(f"routing weights sum to {float(cumulative)}, not exactly 1")
    return tuple(table)


def choose(table: Table, key: str) -> str:
    point = key_point(key)
    return next(model for model, cumulative in table if point < cumulative)


@dataclass(frozen=True, slots=True)
class _Policy:
    version: int
    tables: dict[str, Table]
    default: Table | None


def _compile(body: dict[str, Any]) -> _Policy:
    def table(entry: dict[str, Any] | None) -> Table | None:
        weights = (entry or {}).get("weights")
        return route_table(weights) if weights else None

    tables = {tt: table(entry) for tt, entry in body["task_types"].items()}
    # A task type the version has no weights for gets its cold-start
    # weights ("default"), as the ledger's own route decision does.
    return _Policy(
        body["version"], {tt: t for tt, t in tables.items() if t}, table(body.get("default"))
    )


class LedgerRouter:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        contract: str,
        ttl_s: float = 300.0,
        default_model: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/api/v1/contracts/{contract}/routing/policy"
        self.api_key = api_key
        self.ttl_s = ttl_s
        self.default_model = default_model
        self.timeout_s = timeout_s
        self._policy: _Policy | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()
        self._first_fetch = threading.Event()

    @classmethod
    def from_env(cls, **options: Any) -> "LedgerRouter":
        """Configured by ``OUTCOME_LEDGER_URL``, ``OUTCOME_LEDGER_KEY`` and
        ``OUTCOME_LEDGER_CONTRACT``, as the logger's sender is."""
        return cls(
            base_url=os.environ["OUTCOME_LEDGER_URL"],
            api_key=os.environ["OUTCOME_LEDGER_KEY"],
            contract=os.environ["OUTCOME_LEDGER_CONTRACT"],
            **options,
        )

    def route(self, *, task_type: str, key: str) -> Route:
        """The model for the request ``key`` (e.g. the task ref) of
        ``task_type``."""
        policy = self._current()
        table = None if policy is None else policy.tables.get(task_type) or policy.default
        if table is not None:
            return Route(choose(table, key), policy.version)
        if self.default_model is not None:
            return Route(self.default_model, None)
        raise LookupError(f"no routing weights for task type '{task_type}' and no default model")

    def _current(self) -> _Policy | None:
        """The policy in hand. When it is due for a refresh, one thread
        fetches, outside the lock, while the others keep routing with the
        policy they have (before the first policy arrives, they wait for that
        first fetch, at most ``timeout_s``)."""
        with self._lock:
            due = time.monotonic() >= self._refresh_at
            if due:
                self._refresh_at = time.monotonic() + self.ttl_s
            policy = self._policy
        if not due:
            if policy is None:
                self._first_fetch.wait(self.timeout_s)
                return self._policy
            return policy
        try:
            fresh = _compile(self._fetch())
        except (OSError, ValueError, ArithmeticError, KeyError, TypeError) as error:
            logger.warning("outcome ledger: routing policy not refreshed (%s)", error)
            fresh = policy
        with self._lock:
            self._policy = fresh
        self._first_fetch.set()
        return fresh

    def _fetch(self) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url, headers={"Authorization": f"Bearer {self.api_key}"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            return json.load(response)
