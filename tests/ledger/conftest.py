"""Fixtures of the ingestion tests. Records go through the real decoder
(core.batch) and the real services, against real PostgreSQL."""

import msgspec
import pytest
from django.db import connection

from core.batch import decode_batch
from ledger import services
from ledger.models import Call
from ledger.records import CallIn, OutcomeIn


def _encoded(records: list[dict]) -> bytes:
    return msgspec.json.encode({"records": records})


@pytest.fixture
def ingest_calls(db):
    """Ingest call records (dicts, as a client sends them); returns the report."""

    def ingest(contract, records: list[dict]) -> services.IngestReport:
        batch = decode_batch(_encoded(records), record_type=CallIn)
        return services.calls_ingest(contract=contract, batch=batch)

    return ingest


@pytest.fixture
def ingest_outcomes(db):
    """Ingest outcome records (dicts, as a client sends them); returns the report."""

    def ingest(contract, records: list[dict]) -> services.IngestReport:
        batch = decode_batch(_encoded(records), record_type=OutcomeIn)
        return services.outcomes_ingest(contract=contract, batch=batch)

    return ingest


@pytest.fixture
def ingest_one_call(ingest_calls):
    """Ingest one call that must be accepted; returns the stored row."""

    def ingest(contract, record: dict) -> Call:
        report = ingest_calls(contract, [record])
        assert report.as_dict() == {"accepted": 1, "duplicates": 0, "rejected": []}
        return Call.objects.select_related("llm_model").get(
            contract=contract, external_id=record["external_id"]
        )

    return ingest


@pytest.fixture
def stored_rows(db):
    """Every stored row of ``table`` for a contract, each as PostgreSQL's own
    text of the whole row (every column, byte for byte), in id order."""

    def rows(table: str, contract) -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t::text FROM {table} t WHERE t.contract_id = %s ORDER BY t.id",
                [contract.id],
            )
            return [text for (text,) in cursor.fetchall()]

    return rows
