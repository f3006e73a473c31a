"""Concurrent ingestion through the real HTTP stack against real PostgreSQL
(DESIGN.md "Ingestion rules": idempotency). Each thread has its own client
and its own database connection; batches overlap and arrive in different
orders, as retries from several workers would."""

import random
import threading
from collections import Counter

import pytest
from django.db import connection

from ledger.models import Call
from tests.conftest import client_for
from tests.factories import CallRecordFactory, api_key_create

THREADS = 16
ROUNDS = 5
DISTINCT = 60
BATCH = 30


@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_posting_overlapping_batches_store_every_call_exactly_once(contract):
    secret = api_key_create(organization=contract.vendor, role="vendor")
    records = [CallRecordFactory(external_id=f"c-{i}") for i in range(DISTINCT)]
    url = f"/api/v1/contracts/{contract.code}/calls"
    start = threading.Barrier(THREADS)
    responses: list[tuple[int, dict | bytes]] = []
    sent: set[str] = set()
    lock = threading.Lock()

    def post_batches(seed: int) -> None:
        try:
            client = client_for(secret)
            # A server error is a response to count, not an exception.
            client.raise_request_exception = False
            shuffle = random.Random(seed)
            start.wait()
            for _ in range(ROUNDS):
                batch = shuffle.sample(records, BATCH)
                response = client.post(url, {"records": batch}, format="json")
                body = response.json() if response.status_code == 200 else response.content
                with lock:
                    responses.append((response.status_code, body))
                    sent.update(record["external_id"] for record in batch)
        finally:
            connection.close()

    threads = [threading.Thread(target=post_batches, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _ in responses] == [200] * (THREADS * ROUNDS), responses
    reports = [body for _, body in responses]
    stored = Counter(Call.objects.filter(contract=contract).values_list("external_id", flat=True))
    assert all(report["rejected"] == [] for report in reports)
    assert set(stored) == sent
    assert set(stored.values()) == {1}
    assert sum(report["accepted"] for report in reports) == len(sent)
    assert sum(r["accepted"] + r["duplicates"] for r in reports) == THREADS * ROUNDS * BATCH
