"""A LiteLLM callback that records every completion as a ledger call
(API.md "Ingestion"; docs/LITELLM.md).

    import litellm
    from outcome_ledger_client import OutcomeLedgerLogger

    litellm.callbacks = [OutcomeLedgerLogger()]  # OUTCOME_LEDGER_* from the environment

Successful and failed completions, sync, async and streamed, each become one
call record; LiteLLM hands a streamed completion to the success hooks once,
with the complete response and its usage. The hooks only queue the record:
the sender posts it from its own thread.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from outcome_ledger_client.router import recent_route
from outcome_ledger_client.sender import LedgerSender
from outcome_ledger_client.usage import token_buckets

try:
    from litellm.integrations.custom_logger import CustomLogger
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "the LiteLLM logger needs litellm: pip install 'outcome-ledger-client[litellm]'"
    ) from error

# The ledger's service tiers (DESIGN.md "Price book"); OpenAI answers
# "default" (and others) for the standard tier.
SERVICE_TIERS = frozenset({"batch", "flex", "priority"})
MAX_ERROR_CHARS = 500


def _utc(moment: datetime) -> datetime:
    # LiteLLM stamps calls with datetime.now(): naive local time, which
    # astimezone() reads as local time.
    return moment.astimezone(UTC)


def call_record(
    kwargs: dict[str, Any],
    response_obj: Any,
    start_time: datetime,
    end_time: datetime,
    *,
    success: bool,
    default_task_type: str,
) -> dict[str, Any]:
    """The call record of one LiteLLM completion, from what LiteLLM hands a
    ``CustomLogger``. ``task_type``, ``task_ref``, ``policy_version`` and
    ``route_id`` come from the request's ``metadata=``; without them the
    task type is ``default_task_type`` and the task ref LiteLLM's trace id
    (the calls of one ``litellm_trace_id`` serve one unit of work), as the
    OTLP endpoint falls back to the trace id. Without a ``route_id``, the
    LedgerRouter's latest decision for the task ref (its key) and this
    model, in this process, is named."""
    metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
    usage = getattr(response_obj, "usage", None)
    tier = getattr(response_obj, "service_tier", None)
    exception = kwargs.get("exception")
    details = {
        "provider": kwargs.get("custom_llm_provider"),
        "response_model": getattr(response_obj, "model", None),
        "error_type": type(exception).__name__ if exception is not None else None,
        "error": str(exception)[:MAX_ERROR_CHARS] if exception is not None else None,
    }
    model = kwargs.get("model") or details["response_model"]
    task_type = metadata.get("task_type") or default_task_type
    task_ref = metadata.get("task_ref") or kwargs.get("litellm_trace_id")
    route_id, policy_version = metadata.get("route_id"), metadata.get("policy_version")
    routed = None if route_id is not None or task_ref is None else recent_route(task_type, task_ref)
    if routed is not None and routed.route_id is not None and routed.model == model:
        # The router decided this task ref, for this model, in this process:
        # the call names that decision.
        route_id, policy_version = routed.route_id, routed.policy_version
    return {
        # LiteLLM's id of the call: a record re-posted from the spool is a
        # duplicate, never a second call (DESIGN.md "Ingestion rules").
        "external_id": kwargs.get("litellm_call_id") or str(uuid.uuid4()),
        "occurred_at": _utc(start_time).isoformat(),
        "model": model,
        "task_type": task_type,
        "task_ref": task_ref,
        **token_buckets(usage).as_record(),
        "service_tier": tier if tier in SERVICE_TIERS else "standard",
        "latency_ms": max(0, round((end_time - start_time).total_seconds() * 1000)),
        "success": success,
        "policy_version": policy_version,
        # The routing decision behind the call (LedgerRouter's Route).
        "route_id": route_id,
        "metadata": {key: value for key, value in details.items() if value is not None},
    }


class OutcomeLedgerLogger(CustomLogger):
    def __init__(self, sender: LedgerSender | None = None, *, default_task_type: str = "chat"):
        super().__init__()
        self.sender = sender if sender is not None else LedgerSender.from_env()
        self.default_task_type = default_task_type
        # LiteLLM keeps one logger per class and public str/int/bool
        # attributes, dropping "duplicates": the destination makes loggers
        # of two contracts (or ledgers) two loggers.
        self.calls_url = self.sender.url

    def _add(self, kwargs, response_obj, start_time, end_time, *, success: bool) -> None:
        if kwargs.get("cache_hit"):
            # Served from LiteLLM's own cache: no provider call, nothing billed.
            return
        self.sender.add(
            call_record(
                kwargs,
                response_obj,
                start_time,
                end_time,
                success=success,
                default_task_type=self.default_task_type,
            )
        )

    # LiteLLM passes these by keyword: the parameter names are its own.
    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._add(kwargs, response_obj, start_time, end_time, success=True)

    def log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._add(kwargs, response_obj, start_time, end_time, success=False)

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._add(kwargs, response_obj, start_time, end_time, success=True)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._add(kwargs, response_obj, start_time, end_time, success=False)
