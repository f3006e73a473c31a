"""Spend limits and alerts (DESIGN.md "Spend limits and alerts"): counters
per window, one alert per (window, threshold) crossed, delivered to the
contract's webhook by a retried Celery task, listed in the API and the
admin. Limits alert; they never drop records."""

import json
import threading
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec
import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import alerts, metering, tasks
from billing.models import SpendAlert, SpendCounter
from billing.webhooks import WebhookDeliveryFailed
from core.batch import decode_batch
from ledger import ingestion
from ledger.models import Call
from ledger.records import CallIn
from tests.conftest import client_for
from tests.factories import (
    CallRecordFactory,
    ContractFactory,
    OrganizationFactory,
    SpendLimitFactory,
    api_key_create,
)

CALLS = "/api/v1/contracts/acme-agent/calls"


def calls(*costs: str, occurred_at: str = "2026-11-03T09:15:00Z") -> list[dict]:
    """Calls that report their cost; at markup 0 and fx 1 the charge is it."""
    return [CallRecordFactory(occurred_at=occurred_at, reported_cost_usd=c) for c in costs]


def record(contract, records: list[dict]):
    batch = decode_batch(msgspec.json.encode({"records": records}), record_type=CallIn)
    return ingestion.calls_record(contract=contract, batch=batch)


def alert_rows(contract) -> list[tuple]:
    return list(
        SpendAlert.objects.filter(contract=contract)
        .order_by("window", "window_start", "threshold_percent")
        .values_list("window", "window_start", "threshold_percent", "limit_amount", "charges")
    )


def counters(contract) -> list[tuple]:
    return list(
        SpendCounter.objects.filter(contract=contract)
        .order_by("window", "window_start")
        .values_list("window", "window_start", "charges")
    )


# Metering ------------------------------------------------------------------


def test_one_batch_crossing_50_80_and_100_percent_appends_three_alerts_and_queues_three(
    vendor_client, contract, django_capture_on_commit_callbacks
):
    SpendLimitFactory(contract=contract, window="day", amount=Decimal("1"))
    with django_capture_on_commit_callbacks() as queued:
        response = vendor_client.post(CALLS, {"records": calls("0.7", "0.5")}, format="json")
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    day = date(2026, 11, 3)
    assert alert_rows(contract) == [
        ("day", day, 50, Decimal("1.0000000000"), Decimal("1.2000000000")),
        ("day", day, 80, Decimal("1.0000000000"), Decimal("1.2000000000")),
        ("day", day, 100, Decimal("1.0000000000"), Decimal("1.2000000000")),
    ]
    assert len(queued) == 3


def test_each_threshold_alerts_once_as_later_batches_cross_and_recross_it(contract):
    SpendLimitFactory(contract=contract, window="day", amount=Decimal("1"))
    for cost in ("0.6", "0.3", "0.5", "1", "0"):
        record(contract, calls(cost))
    day = date(2026, 11, 3)
    assert alert_rows(contract) == [
        ("day", day, 50, Decimal("1.0000000000"), Decimal("0.6000000000")),
        ("day", day, 80, Decimal("1.0000000000"), Decimal("0.9000000000")),
        ("day", day, 100, Decimal("1.0000000000"), Decimal("1.4000000000")),
    ]
    assert counters(contract) == [("day", day, Decimal("2.4000000000"))]


def test_a_threshold_reached_exactly_alerts_and_one_just_below_does_not(contract):
    SpendLimitFactory(contract=contract, window="day", amount=Decimal("1"))
    record(contract, calls("0.5", "0.2999999999"))
    assert [row[2] for row in alert_rows(contract)] == [50]


def test_duplicates_and_rejected_calls_add_nothing_to_the_counters(contract):
    SpendLimitFactory(contract=contract, window="day", amount=Decimal("1"))
    first = calls("0.4")
    record(contract, first)
    report = record(contract, [*first, CallRecordFactory(model="gpt-9", reported_cost_usd="5")])
    assert (report.accepted, report.duplicates, len(report.rejected)) == (0, 1, 1)
    assert counters(contract) == [("day", date(2026, 11, 3), Decimal("0.4000000000"))]
    assert alert_rows(contract) == []


def test_each_window_counts_from_its_local_day_monday_or_first_of_month(light_model):
    """Los Angeles is UTC-8 in November 2026: 11-09 07:30Z is Sunday 11-08
    23:30 local (week of Monday 11-02), 11-09 08:30Z is Monday 11-09."""
    contract = ContractFactory(timezone="America/Los_Angeles")
    SpendLimitFactory(contract=contract, window="day", amount=Decimal("1"))
    SpendLimitFactory(contract=contract, window="week", amount=Decimal("2"))
    SpendLimitFactory(contract=contract, window="month", amount=Decimal("4"))
    record(
        contract,
        [
            *calls("0.5", occurred_at="2026-11-09T07:30:00Z"),
            *calls("1.1", occurred_at="2026-11-09T08:30:00Z"),
        ],
    )
    assert counters(contract) == [
        ("day", date(2026, 11, 8), Decimal("0.5000000000")),
        ("day", date(2026, 11, 9), Decimal("1.1000000000")),
        ("month", date(2026, 11, 1), Decimal("1.6000000000")),
        ("week", date(2026, 11, 2), Decimal("0.5000000000")),
        ("week", date(2026, 11, 9), Decimal("1.1000000000")),
    ]
    assert [row[:3] for row in alert_rows(contract)] == [
        ("day", date(2026, 11, 8), 50),
        ("day", date(2026, 11, 9), 50),
        ("day", date(2026, 11, 9), 80),
        ("day", date(2026, 11, 9), 100),
        ("week", date(2026, 11, 9), 50),
    ]


def test_limits_never_drop_records(vendor_client, contract):
    SpendLimitFactory(contract=contract, window="day", amount=Decimal("1"))
    response = vendor_client.post(CALLS, {"records": calls(*["1"] * 10)}, format="json")
    assert response.json() == {"accepted": 10, "duplicates": 0, "rejected": []}
    assert Call.objects.filter(contract=contract).count() == 10
    assert counters(contract) == [("day", date(2026, 11, 3), Decimal("10.0000000000"))]
    assert len(alert_rows(contract)) == 3


def test_a_contract_without_limits_keeps_no_counters(contract):
    record(contract, calls("5"))
    assert counters(contract) == []


PROPERTY = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(
    charges=st.lists(
        st.decimals(min_value=0, max_value=3, places=2, allow_nan=False), min_size=1, max_size=8
    )
)
def test_alerts_are_exactly_the_thresholds_the_running_total_reaches(db, charges):
    contract = ContractFactory()
    SpendLimitFactory(contract=contract, window="day", amount=Decimal("2"))
    day = date(2026, 11, 3)
    for amount in charges:
        metering.spend_meter(contract=contract, charges_by_day={day: amount})
    total = sum(charges)
    assert counters(contract) == [("day", day, total)]
    assert [row[2] for row in alert_rows(contract)] == [
        t for t in (50, 80, 100) if Decimal(2) * t / 100 <= total
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_crossing_the_thresholds_alert_once_each(contract):
    """Six threads each add 0.3 to a limit of 1: the total is 1.8 and every
    threshold is crossed by exactly one of them."""
    SpendLimitFactory(contract=contract, window="day", amount=Decimal("1"))
    start = threading.Barrier(6)
    batches = [calls("0.3") for _ in range(6)]

    def ingest(records):
        start.wait()
        record(contract, records)
        connection.close()

    threads = [threading.Thread(target=ingest, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Call.objects.filter(contract=contract).count() == 6
    assert counters(contract) == [("day", date(2026, 11, 3), Decimal("1.8000000000"))]
    assert [row[2] for row in alert_rows(contract)] == [50, 80, 100]
    # Delivered after commit (tasks run in-process): no webhook to send to.
    assert set(SpendAlert.objects.values_list("delivered_at", "last_error")) == {
        (None, "no webhook_url")
    }


# Delivery ------------------------------------------------------------------


class Webhook:
    """A real HTTP server on 127.0.0.1 that records what it receives and
    answers each request with the next status of ``statuses`` (then 200)."""

    def __init__(self, statuses: list[int]):
        self.received: list[tuple[str, str, dict]] = []
        self.statuses = list(statuses)
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                webhook.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
                self.send_response(webhook.statuses.pop(0) if webhook.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/spend"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_factory():
    servers = []

    def start(statuses=()):
        servers.append(Webhook(list(statuses)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def one_alert(contract):
    """The 50% alert of a day limit of 10, crossed at 6.5; not delivered."""
    SpendLimitFactory(contract=contract, window="day", amount=Decimal("10"))
    record(contract, calls("6.5"))
    return SpendAlert.objects.get(contract=contract)


def test_an_alert_is_posted_to_the_webhook_as_json_once_the_ingestion_commits(
    contract, webhook_factory, django_capture_on_commit_callbacks
):
    hook = webhook_factory()
    contract.webhook_url = hook.url
    contract.save()
    SpendLimitFactory(contract=contract, window="week", amount=Decimal("10"))
    with django_capture_on_commit_callbacks(execute=True):
        record(contract, calls("6.5"))
    assert hook.received == [
        (
            "/hooks/spend",
            "application/json",
            {
                "contract": "acme-agent",
                "window": "week",
                "window_start": "2026-11-02",
                "threshold_percent": 50,
                "limit": "10.0000000000",
                "charges": "6.5000000000",
                "currency": "USD",
            },
        )
    ]
    alert = SpendAlert.objects.get(contract=contract)
    assert alert.delivered_at is not None
    assert (alert.attempts, alert.last_error) == (1, "")


def test_a_webhook_failing_after_the_ingestion_commits_never_fails_the_ingestion(
    vendor_client, contract, webhook_factory, django_capture_on_commit_callbacks
):
    hook = webhook_factory(statuses=[500] * 10)
    contract.webhook_url = hook.url
    contract.save()
    SpendLimitFactory(contract=contract, window="day", amount=Decimal("1"))
    with django_capture_on_commit_callbacks(execute=True):
        response = vendor_client.post(CALLS, {"records": calls("0.6")}, format="json")
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    alert = SpendAlert.objects.get(contract=contract)
    assert (alert.delivered_at, alert.attempts) == (None, 1)


def test_a_failing_webhook_records_the_attempt_and_raises_then_a_retry_delivers(
    contract, one_alert, webhook_factory
):
    hook = webhook_factory(statuses=[500])
    contract.webhook_url = hook.url
    contract.save()
    with pytest.raises(WebhookDeliveryFailed):
        alerts.spend_alert_deliver(alert_id=one_alert.id)
    one_alert.refresh_from_db()
    assert (one_alert.delivered_at, one_alert.attempts) == (None, 1)
    assert "500" in one_alert.last_error
    alerts.spend_alert_deliver(alert_id=one_alert.id)
    one_alert.refresh_from_db()
    assert one_alert.delivered_at is not None
    assert (one_alert.attempts, one_alert.last_error) == (2, "")
    assert len(hook.received) == 2


def test_delivering_a_delivered_alert_again_sends_nothing(contract, one_alert, webhook_factory):
    hook = webhook_factory()
    contract.webhook_url = hook.url
    contract.save()
    alerts.spend_alert_deliver(alert_id=one_alert.id)
    alerts.spend_alert_deliver(alert_id=one_alert.id)
    one_alert.refresh_from_db()
    assert len(hook.received) == 1
    assert one_alert.attempts == 1


def test_an_unreachable_webhook_is_recorded_as_a_failed_attempt(contract, one_alert):
    contract.webhook_url = "http://127.0.0.1:9/unreachable"
    contract.save()
    with pytest.raises(WebhookDeliveryFailed):
        alerts.spend_alert_deliver(alert_id=one_alert.id)
    one_alert.refresh_from_db()
    assert (one_alert.delivered_at, one_alert.attempts) == (None, 1)
    assert "refused" in one_alert.last_error.lower()


def test_without_a_webhook_url_the_alert_stays_undelivered_and_is_not_retried(one_alert):
    alerts.spend_alert_deliver(alert_id=one_alert.id)
    one_alert.refresh_from_db()
    assert (one_alert.delivered_at, one_alert.attempts, one_alert.last_error) == (
        None,
        0,
        "no webhook_url",
    )


def test_the_task_retries_a_failing_webhook_and_the_retry_delivers(
    contract, one_alert, webhook_factory
):
    """In-process (no broker), Celery runs a retry at once, without backoff."""
    hook = webhook_factory(statuses=[500])
    contract.webhook_url = hook.url
    contract.save()
    tasks.spend_alert_deliver.apply(args=[one_alert.id], throw=False)
    one_alert.refresh_from_db()
    assert one_alert.delivered_at is not None
    assert one_alert.attempts == 2
    assert len(hook.received) == 2


def test_the_task_is_named_acknowledged_late_and_retried_with_backoff():
    task = tasks.spend_alert_deliver
    assert (task.name, task.acks_late, task.max_retries, task.retry_backoff) == (
        "billing.spend_alert_deliver",
        True,
        8,
        True,
    )


# Reads ---------------------------------------------------------------------


def test_every_role_within_reach_lists_the_contracts_alerts(
    contract, one_alert, vendor_client, customer_client, admin_client
):
    expected = [
        {
            "window": "day",
            "window_start": "2026-11-03",
            "threshold_percent": 50,
            "limit": "10.0000000000",
            "charges": "6.5000000000",
            "currency": "USD",
            "delivered_at": None,
            "attempts": 0,
            "last_error": "",
        }
    ]
    for client in (vendor_client, customer_client, admin_client):
        response = client.get("/api/v1/contracts/acme-agent/alerts")
        assert response.status_code == 200
        body = response.json()
        assert body["next"] is None
        assert [{k: v for k, v in a.items() if k != "created_at"} for a in body["results"]] == (
            expected
        )


def test_another_tenant_gets_404_for_the_alerts(one_alert):
    stranger = OrganizationFactory(slug="globex")
    ContractFactory(code="globex-agent", vendor=stranger)
    client = client_for(api_key_create(organization=stranger, role="vendor"))
    assert client.get("/api/v1/contracts/acme-agent/alerts").status_code == 404


def test_the_admin_lists_alerts_read_only(client, django_user_model, one_alert):
    client.force_login(django_user_model.objects.create_superuser("root", "r@x.io", "pw"))
    listing = client.get("/admin/billing/spendalert/")
    assert listing.status_code == 200
    assert b"acme-agent" in listing.content
    assert client.get("/admin/billing/spendalert/add/").status_code == 403
    page = client.get(f"/admin/billing/spendalert/{one_alert.id}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content


def test_outcome_fees_count_toward_the_limit_with_call_charges(vendor_client, contract):
    """The fixture's fee is 0.99 per accepted task_completed: calls of 2.00
    plus three fees of 0.99 (4.97) cross 50% and 80% of a daily 6.00."""
    SpendLimitFactory(contract=contract, window="day", amount=Decimal("6"))
    outcomes = [
        {
            "external_id": f"o-{i}",
            "occurred_at": "2026-11-03T17:00:00Z",
            "kind": "task_completed",
            "task_type": "code_review",
            "quantity": "1",
        }
        for i in range(3)
    ]

    record(contract, calls("2.00"))
    posted = vendor_client.post(
        "/api/v1/contracts/acme-agent/outcomes", {"records": outcomes}, format="json"
    )

    assert posted.json()["accepted"] == 3
    assert counters(contract) == [("day", date(2026, 11, 3), Decimal("4.9700000000"))]
    assert [row[2] for row in alert_rows(contract)] == [50, 80]
