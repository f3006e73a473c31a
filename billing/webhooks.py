"""The contract's webhook (DESIGN.md "Trust between the parties"; docs/ALERTS.md):
every message is signed with the contract's secret, and besides spend alerts
(billing/alerts.py) it receives issued statements and opened disputes.

Signature: ``X-Outcome-Ledger-Timestamp`` is the sending time in Unix
seconds, ``X-Outcome-Ledger-Signature`` is ``v1=`` and the lowercase hex
HMAC-SHA256, keyed with the contract's ``webhook_secret`` (UTF-8), of the
timestamp's digits, a ``.`` and the exact body bytes.
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from decimal import Decimal

from django.db import models, transaction
from django.utils import timezone

from billing import tasks
from billing.models import Contract, Statement, WebhookEvent, WebhookEventKind, webhook_secret_new
from core.money import minor_unit
from core.tasks import TransientError
from ledger.models import Outcome, OutcomeStatus
from ledger.services import outcome_status_change

TIMEOUT_S = 5
NO_WEBHOOK = "no webhook_url"
SIGNATURE_HEADER = "X-Outcome-Ledger-Signature"
TIMESTAMP_HEADER = "X-Outcome-Ledger-Timestamp"
EVENT_HEADER = "X-Outcome-Ledger-Event"
SIGNATURE_VERSION = "v1"


class WebhookDeliveryFailed(TransientError):
    """The webhook did not take the message; the task retries."""


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def webhook_post(*, url: str, secret: str, event: str, payload: dict) -> str | None:
    """POST the payload as signed JSON; None on a 2xx answer, else what went
    wrong. Each attempt is signed at the time it is sent."""
    body = json.dumps(payload).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        url,
        data=body,
        headers={
            "Content-Type": "application/json",
            EVENT_HEADER: event,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: webhook_signature(secret=secret, timestamp=timestamp, body=body),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S):
            return None
    except (urllib.error.URLError, OSError) as exc:
        return str(exc)[:1000]


def webhook_deliver(*, queryset: models.QuerySet, row_id: int, message) -> models.Model:
    """Deliver one message row (a spend alert, a webhook event) that has
    ``contract``, ``delivered_at``, ``attempts`` and ``last_error``; safe to
    run twice (a delivered row is left alone). ``message(row)`` gives the
    (event, payload) to send.

    The row stays locked while the webhook is called, so two workers never
    deliver it twice at once. A failure is recorded (attempts, last_error)
    and committed before WebhookDeliveryFailed is raised for the task to
    retry. Without a webhook URL there is nothing to retry: the row stays
    undelivered, saying why."""
    with transaction.atomic():
        row = queryset.select_for_update().select_related("contract").get(id=row_id)
        if row.delivered_at is not None:
            return row
        contract = row.contract
        if not contract.webhook_url:
            row.last_error = NO_WEBHOOK
            row.save(update_fields=["last_error"])
            return row
        event, payload = message(row)
        error = webhook_post(
            url=contract.webhook_url, secret=contract.webhook_secret, event=event, payload=payload
        )
        row.attempts += 1
        row.last_error = error or ""
        row.delivered_at = None if error else timezone.now()
        row.save(update_fields=["attempts", "last_error", "delivered_at"])
    if error:
        raise WebhookDeliveryFailed(f"{row._meta.model_name} {row_id}: {error}")
    return row


def webhook_event_record(*, contract: Contract, event: str, payload: dict) -> None:
    """Append an event for the contract's webhook, delivered once the
    caller's transaction commits; nothing without a webhook URL."""
    if not contract.webhook_url:
        return
    row = WebhookEvent.objects.create(contract=contract, event=event, payload=payload)
    # robust: a failing queue must not fail what already committed.
    transaction.on_commit(lambda: tasks.webhook_event_deliver.delay(row.id), robust=True)


def _event_message(row: WebhookEvent) -> tuple[str, dict]:
    """The body leads with the event's ``id`` (the same on every retry:
    receivers deduplicate by it), ``event`` and ``contract``."""
    head = {"id": row.id, "event": row.event, "contract": row.contract.code}
    return row.event, head | row.payload


def webhook_event_deliver(*, event_id: int) -> WebhookEvent:
    return webhook_deliver(
        queryset=WebhookEvent.objects.all(),
        row_id=event_id,
        message=_event_message,
    )


def _amount(value: Decimal, currency: str) -> str:
    return f"{value:.{minor_unit(currency)}f}"


def statement_issued_record(*, statement: Statement) -> None:
    """The ``statement.issued`` event, in the transaction that issues it."""
    currency = statement.currency
    webhook_event_record(
        contract=statement.contract,
        event=WebhookEventKind.STATEMENT_ISSUED,
        payload={
            "statement": {
                "number": statement.number,
                "kind": statement.kind,
                "adjusts": statement.adjusts.number if statement.adjusts else None,
                "period_start": statement.period_start.isoformat(),
                "period_end": statement.period_end.isoformat(),
                "currency": currency,
                "charges": _amount(statement.charges, currency),
                "payout": _amount(statement.payout, currency),
                "input_digest": statement.input_digest,
                "as_of": statement.as_of.isoformat(),
                "issued_at": statement.issued_at.isoformat(),
            }
        },
    )


def dispute_open(*, contract: Contract, external_id: str, actor: str, reason: str) -> Outcome:
    """Dispute an outcome (ledger.services.outcome_status_change) and append
    the ``dispute.opened`` event in the same transaction."""
    with transaction.atomic():
        outcome = outcome_status_change(
            contract=contract,
            external_id=external_id,
            to_status=OutcomeStatus.DISPUTED,
            actor=actor,
            reason=reason,
        )
        webhook_event_record(
            contract=contract,
            event=WebhookEventKind.DISPUTE_OPENED,
            payload={
                "outcome": {
                    "external_id": outcome.external_id,
                    "kind": outcome.kind,
                    "task_type": outcome.task_type,
                    "task_ref": outcome.task_ref,
                    "occurred_at": outcome.occurred_at.isoformat(),
                },
                "reason": reason,
                "opened_at": timezone.now().isoformat(),
            },
        )
    return outcome


def contract_webhook_secret_rotate(*, contract: Contract) -> str:
    """A new signing secret, returned to be shown once; the old one stops
    signing at once (deliveries already running finish with it)."""
    contract.webhook_secret = webhook_secret_new()
    contract.save(update_fields=["webhook_secret"])
    return contract.webhook_secret
