"""Asks the ledger which model serves a request (API.md "Routing"): every
answer is a decision the ledger stores, with a ``route_id`` to carry into
the call's record, so learning can join the call to the decision.

The router sends the request's features, never its text: the features of
``text`` by the package's default featurizer (``request_features``), or
the caller's own numbers (a contract may declare its own featurizer). When
the ledger cannot be reached in ``timeout_s``, ``default_model`` serves the
request, with no decision (``route_id`` None).
"""

import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from outcome_ledger_client.features import request_features

logger = logging.getLogger("outcome_ledger_client")


@dataclass(frozen=True, slots=True)
class Route:
    """The chosen model and the decision behind it (None for the default
    model). The LiteLLM logger records the call with its ``route_id`` and
    policy version: from the request's ``metadata`` (``route.metadata``), or
    by itself when the call's task type and task ref are the routed ones."""

    model: str
    policy_version: int | None
    route_id: str | None = None
    probability: str | None = None
    explored: bool = False

    @property
    def metadata(self) -> dict[str, Any]:
        return {"route_id": self.route_id, "policy_version": self.policy_version}


# The latest decision per (task type, key), in this process: the LiteLLM
# logger fills a call's route_id from it when the request's metadata did not
# carry one (the key being the call's task_ref), so routed calls name their
# decision by themselves. Bounded: the oldest entries are forgotten.
RECENT_ROUTES = 10_000
_recent: OrderedDict[tuple[str, str], "Route"] = OrderedDict()
_recent_lock = threading.Lock()


def _remember(task_type: str, key: str, route: "Route") -> None:
    with _recent_lock:
        _recent[(task_type, key)] = route
        _recent.move_to_end((task_type, key))
        while len(_recent) > RECENT_ROUTES:
            _recent.popitem(last=False)


def recent_route(task_type: str, key: str) -> "Route | None":
    """The latest decision this process got for ``key`` of ``task_type``."""
    with _recent_lock:
        return _recent.get((task_type, key))


class LedgerRouter:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        contract: str,
        default_model: str | None = None,
        timeout_s: float = 2.0,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/api/v1/contracts/{contract}/routing/route"
        self.api_key = api_key
        self.default_model = default_model
        self.timeout_s = timeout_s

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

    def route(
        self,
        *,
        task_type: str,
        key: str,
        text: str | None = None,
        features: list[float] | None = None,
    ) -> Route:
        """The model for the request ``key`` (e.g. the task ref) of
        ``task_type``; ``text`` is featurized here and never sent."""
        if features is None and text is not None:
            features = request_features(text)
        body: dict[str, Any] = {"task_type": task_type, "key": key}
        if features is not None:
            body["features"] = features
        try:
            answer = self._post(body)
            route = Route(
                answer["model"],
                answer["policy_version"],
                answer["route_id"],
                answer["probability"],
                answer["explored"],
            )
            _remember(task_type, key, route)
            return route
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("outcome ledger: no routing decision (%s)", error)
        if self.default_model is not None:
            return Route(self.default_model, None)
        raise LookupError(f"the ledger did not route task type '{task_type}' and no default model")

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            return json.load(response)
