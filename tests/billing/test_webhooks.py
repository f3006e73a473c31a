"""The contract's webhook (DESIGN.md "Trust between the parties";
docs/ALERTS.md "Other events", "Signatures"): every message is signed with
the contract's secret, shown once; issued statements and opened disputes are
sent after their transaction commits, by a retried task. A real HTTP server
receives them and docs/ALERTS.md's own recipe verifies them."""

import json
import re
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client

from billing import tasks, webhooks
from billing.models import Contract, Statement, WebhookEvent
from billing.settlement import contract_settle
from tests.billing.test_admin_site import add_form
from tests.billing.test_spend_alerts import calls, record
from tests.factories import SpendLimitFactory

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ALERTS.md"
OUTCOMES = "/api/v1/contracts/acme-agent/outcomes"
JANUARY_DUE = datetime(2026, 2, 10, tzinfo=UTC)


def verify_recipe():
    """The Python block of docs/ALERTS.md "Signatures", run as written."""
    section = DOCS.read_text().split("## Signatures", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # the documented recipe itself
    return namespace["verify_webhook"]


verify_webhook = verify_recipe()


class Receiver:
    """A real HTTP server on 127.0.0.1 that keeps each request's headers and
    raw body, answering each with the next of ``statuses`` (then 200)."""

    def __init__(self, statuses=()):
        self.received: list[tuple[dict, bytes]] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/ledger"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver(contract):
    server = Receiver()
    contract.webhook_url = server.url
    contract.save(update_fields=["webhook_url"])
    yield server
    server.close()


@pytest.fixture
def outcome(vendor_client):
    record_ = {
        "external_id": "o-1",
        "occurred_at": "2026-11-03T17:00:00Z",
        "kind": "task_completed",
        "task_type": "code_review",
        "task_ref": "PR-812",
        "quantity": "1",
    }
    response = vendor_client.post(OUTCOMES, {"records": [record_]}, format="json")
    assert response.json()["accepted"] == 1
    return "o-1"


def dispute(client, reason="the PR was reverted"):
    return client.post(f"{OUTCOMES}/o-1/disputes", {"reason": reason}, format="json")


# Statement issued ---------------------------------------------------------


def test_an_issued_statement_is_sent_signed_once_the_settlement_commits(
    contract, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        contract_settle(contract_id=contract.id, as_of=JANUARY_DUE)
    assert receiver.received == []  # nothing before the commit

    for callback in queued:
        callback()

    statement = Statement.objects.get(contract=contract)
    [(headers, body)] = receiver.received
    assert headers["X-Outcome-Ledger-Event"] == "statement.issued"
    assert verify_webhook(Contract.objects.get().webhook_secret, headers, body)
    event = WebhookEvent.objects.get()
    assert json.loads(body) == {
        "id": event.id,
        "event": "statement.issued",
        "contract": "acme-agent",
        "statement": {
            "number": 1,
            "kind": "settlement",
            "adjusts": None,
            "period_start": "2026-01-01",
            "period_end": "2026-02-01",
            "currency": "USD",
            "charges": "0.00",
            "payout": "0.00",
            "input_digest": statement.input_digest,
            "as_of": "2026-02-10T00:00:00+00:00",
            "issued_at": statement.issued_at.isoformat(),
        },
    }
    assert (event.attempts, event.last_error) == (1, "")
    assert event.delivered_at is not None


def test_a_settlement_that_rolls_back_sends_nothing(
    contract, receiver, django_capture_on_commit_callbacks
):
    class Abort(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True) as queued,
        pytest.raises(Abort),
        transaction.atomic(),
    ):
        contract_settle(contract_id=contract.id, as_of=JANUARY_DUE)
        raise Abort

    assert (queued, receiver.received, WebhookEvent.objects.count()) == ([], [], 0)


def test_without_a_webhook_url_no_event_is_recorded(contract, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        contract_settle(contract_id=contract.id, as_of=JANUARY_DUE)

    assert Statement.objects.filter(contract=contract).count() == 1
    assert WebhookEvent.objects.count() == 0


# Dispute opened -----------------------------------------------------------


def test_an_opened_dispute_is_sent_signed_with_the_outcome_and_reason(
    contract, receiver, outcome, customer_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert dispute(customer_client).status_code == 200

    [(headers, body)] = receiver.received
    assert headers["X-Outcome-Ledger-Event"] == "dispute.opened"
    assert verify_webhook(contract.webhook_secret, headers, body)
    sent = json.loads(body)
    datetime.fromisoformat(sent.pop("opened_at"))
    assert sent == {
        "id": WebhookEvent.objects.get().id,
        "event": "dispute.opened",
        "contract": "acme-agent",
        "outcome": {
            "external_id": "o-1",
            "kind": "task_completed",
            "task_type": "code_review",
            "task_ref": "PR-812",
            "occurred_at": "2026-11-03T17:00:00+00:00",
        },
        "reason": "the PR was reverted",
    }


def test_a_refused_dispute_sends_nothing(
    contract, receiver, outcome, customer_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert dispute(customer_client).status_code == 200
        again = dispute(customer_client)

    assert again.status_code == 409
    assert [event["event"] for event in receiver.events()] == ["dispute.opened"]
    assert WebhookEvent.objects.count() == 1


def test_a_decision_is_not_a_dispute_and_sends_nothing(
    contract, receiver, outcome, customer_client, admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dispute(customer_client)
        decided = admin_client.post(
            f"{OUTCOMES}/o-1/decision", {"status": "accepted", "reason": "ok"}, format="json"
        )

    assert decided.status_code == 200
    assert [event["event"] for event in receiver.events()] == ["dispute.opened"]


# Spend alerts --------------------------------------------------------------


def test_a_spend_alert_is_signed_too(contract, receiver, django_capture_on_commit_callbacks):
    SpendLimitFactory(contract=contract, window="week", amount=Decimal("10"))
    with django_capture_on_commit_callbacks(execute=True):
        record(contract, calls("6.5"))

    [(headers, body)] = receiver.received
    assert headers["X-Outcome-Ledger-Event"] == "spend.alert"
    assert verify_webhook(contract.webhook_secret, headers, body)
    assert json.loads(body)["threshold_percent"] == 50


# Signatures ----------------------------------------------------------------


@pytest.fixture
def delivered(contract, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        contract_settle(contract_id=contract.id, as_of=JANUARY_DUE)
    [(headers, body)] = receiver.received
    return contract.webhook_secret, headers, body


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body(delivered):
    secret, headers, body = delivered
    timestamp = int(headers["X-Outcome-Ledger-Timestamp"])

    assert abs(time.time() - timestamp) < 60
    assert headers["X-Outcome-Ledger-Signature"] == webhooks.webhook_signature(
        secret=secret, timestamp=timestamp, body=body
    )


def test_the_recipe_refuses_another_secret_a_changed_body_or_an_old_timestamp(delivered):
    secret, headers, body = delivered
    signed_at = int(headers["X-Outcome-Ledger-Timestamp"])

    assert verify_webhook(secret, headers, body)
    assert not verify_webhook("whsec_not-the-secret", headers, body)
    assert not verify_webhook(secret, headers, body.replace(b'"0.00"', b'"9.00"', 1))
    assert not verify_webhook(secret, headers, body, now=signed_at + 301)
    forged = {**headers, "X-Outcome-Ledger-Timestamp": str(signed_at + 1)}
    assert not verify_webhook(secret, forged, body)


def test_a_failing_webhook_is_retried_by_the_task_and_each_attempt_is_signed(
    contract, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=False):
        contract_settle(contract_id=contract.id, as_of=JANUARY_DUE)
    event = WebhookEvent.objects.get()

    # In-process (no broker), Celery runs the retry at once.
    tasks.webhook_event_deliver.apply(args=[event.id], throw=False)

    event.refresh_from_db()
    assert (event.attempts, event.delivered_at is not None) == (2, True)
    assert len(receiver.received) == 2
    assert all(verify_webhook(contract.webhook_secret, h, b) for h, b in receiver.received)
    assert len({json.loads(b)["id"] for _, b in receiver.received}) == 1
    webhooks.webhook_event_deliver(event_id=event.id)
    assert len(receiver.received) == 2  # delivered: never sent again


def test_the_event_task_is_named_acknowledged_late_and_retried_with_backoff():
    task = tasks.webhook_event_deliver
    assert (task.name, task.acks_late, task.max_retries, task.retry_backoff) == (
        "billing.webhook_event_deliver",
        True,
        8,
        True,
    )


# The secret ------------------------------------------------------------------


def test_the_secret_is_shown_in_the_create_answer_and_never_in_a_read(
    admin_client, vendor_client, contract
):
    terms = {
        "code": "secret-shown-once",
        "vendor": "agentco",
        "customer": "acme",
        "starts_on": "2026-01-01",
    }
    created = admin_client.post("/api/v1/contracts", terms, format="json")

    assert created.status_code == 201, created.content
    secret = created.json()["webhook_secret"]
    assert secret == Contract.objects.get(code="secret-shown-once").webhook_secret
    assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", secret)
    assert secret != contract.webhook_secret
    for client in (admin_client, vendor_client):
        read = client.get("/api/v1/contracts/secret-shown-once")
        assert "webhook_secret" not in read.json()
        assert secret not in read.content.decode()


@pytest.fixture
def site(db):
    User.objects.create_superuser("root", "root@example.com", "pw")
    browser = Client()
    browser.login(username="root", password="pw")
    return browser


def test_the_admin_rotate_action_shows_the_new_secret_once_and_signs_with_it(
    site, contract, receiver, django_capture_on_commit_callbacks
):
    old = contract.webhook_secret

    page = site.post(
        "/admin/billing/contract/",
        {"action": "webhook_secret_rotate", "_selected_action": [contract.pk]},
        follow=True,
    )

    contract.refresh_from_db()
    assert contract.webhook_secret != old
    assert contract.webhook_secret in page.content.decode()
    assert (
        contract.webhook_secret
        not in site.get(f"/admin/billing/contract/{contract.pk}/change/").content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        contract_settle(contract_id=contract.id, as_of=JANUARY_DUE)
    [(headers, body)] = receiver.received
    assert verify_webhook(contract.webhook_secret, headers, body)
    assert not verify_webhook(old, headers, body)


def test_a_contract_added_in_the_admin_shows_its_secret_once(site, contract):
    page = site.post("/admin/billing/contract/add/", add_form(contract), follow=True)

    added = Contract.objects.get(code="added-in-admin")
    assert added.webhook_secret.startswith("whsec_")
    assert added.webhook_secret in page.content.decode()
    assert added.webhook_secret not in site.get("/admin/billing/contract/").content.decode()
