"""Every operation of the published OpenAPI schema (/api/schema/), fuzzed
with schemathesis through the WSGI app against real PostgreSQL, with a
vendor, a customer and an admin key: no answer is a server error, and every
answer (status, content type, body) is one the schema describes.

A bounded, deterministic run (derandomized, SCHEMA_FUZZ_EXAMPLES examples per
operation and key, default 3); ``python -m bench.schema_fuzz`` runs many more
and prints its figures."""

import io
import json
import os
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from billing.models import Statement
from config.wsgi import application
from ledger.api.ingest import NDJSON
from ledger.api.otlp import PROTOBUF
from tests.factories import (
    CallRecordFactory,
    OrganizationFactory,
    OutcomeRecordFactory,
    api_key_create,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schemathesis.serializer(NDJSON)
def ndjson_serializer(ctx, value) -> dict:
    """One record a line (API.md "Ingestion"); the schema describes a line."""
    lines = value if isinstance(value, list) else [value]
    return {"data": b"".join(json.dumps(line).encode() + b"\n" for line in lines)}


schemathesis.serializer.alias(PROTOBUF, "application/octet-stream")

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

JANUARY = "2026-01-13T09:15:00Z"
# The contract, model and statement (January's) that the fixture stores;
# other path parameters (an outcome's id) are generated.
FIXED_PATH = {"code": "acme-agent", "name": "gpt-4o-mini", "number": 1}


@contextmanager
def connection_kept():
    """Requests through the WSGI app keep the test's database connection (as
    Django's test client does): closing it would end the test transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["vendor", "customer", "admin"])
def key(request, contract, vendor_client, customer_client):
    """A key of the role, and a contract with calls, outcomes (one
    disputed) and statements issued for January, so that the
    answers carry real figures."""
    for records, path in (
        (
            [CallRecordFactory(external_id=f"c-{i}", occurred_at=JANUARY) for i in range(3)],
            "calls",
        ),
        (
            [OutcomeRecordFactory(external_id=f"o-{i}", occurred_at=JANUARY) for i in range(3)],
            "outcomes",
        ),
    ):
        vendor_client.post(
            f"/api/v1/contracts/acme-agent/{path}", {"records": records}, format="json"
        )
    customer_client.post(
        "/api/v1/contracts/acme-agent/outcomes/o-0/disputes", {"reason": "reverted"}, format="json"
    )
    call_command("nightly", as_of="2026-02-15T00:00:00Z", stdout=io.StringIO())
    assert Statement.objects.get(contract=contract, number=FIXED_PATH["number"]).calls == 3
    owner = {"vendor": contract.vendor, "customer": contract.customer}.get(request.param)
    if owner is None:
        owner = OrganizationFactory(slug="operator")
    return api_key_create(organization=owner, role=request.param)


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "3")),
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_the_schema_and_never_a_server_error(case, key):
    for name, value in FIXED_PATH.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    with connection_kept():
        case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
