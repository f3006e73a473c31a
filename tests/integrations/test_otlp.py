"""OTLP/HTTP traces ingestion with the real OpenTelemetry SDK exporter."""

import gzip
import json
from decimal import Decimal

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from ledger.models import Call
from tests.conftest import client_for
from tests.factories import (
    ContractFactory,
    ModelAliasFactory,
    OrganizationFactory,
    api_key_create,
)
from tests.helpers import assert_error

PATH = "/api/v1/contracts/acme-agent/otlp/v1/traces"


def _exporting_tracer(url: str, secret: str):
    exporter = OTLPSpanExporter(endpoint=url, headers={"Authorization": f"Bearer {secret}"})
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, provider.get_tracer("test")


@pytest.mark.django_db(transaction=True)
def test_sdk_exporter_spans_become_calls_with_their_token_buckets(
    live_server, contract, light_model
):
    secret = api_key_create(organization=contract.vendor, role="vendor")
    ModelAliasFactory(llm_model=light_model, alias="gpt-4o-mini-2024-07-18")
    provider, tracer = _exporting_tracer(live_server.url + PATH, secret)
    with tracer.start_as_current_span("chat gpt-4o-mini") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.input_tokens": 1200,
                "gen_ai.usage.output_tokens": 300,
                "gen_ai.usage.cache_read.input_tokens": 1000,
                "gen_ai.usage.reasoning.output_tokens": 100,
                "outcome_ledger.task_type": "code_review",
                "outcome_ledger.task_ref": "PR-812",
            }
        )
        span_id = format(span.get_span_context().span_id, "016x")
    with tracer.start_as_current_span("legacy") as span:
        span.set_attributes(
            {
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.prompt_tokens": 10,
                "gen_ai.usage.completion_tokens": 20,
                "gen_ai.operation.name": "chat",
            }
        )
        span.set_status(Status(StatusCode.ERROR))
        legacy_trace = format(span.get_span_context().trace_id, "032x")
    with tracer.start_as_current_span("not an llm call"):
        pass
    provider.shutdown()

    call = Call.objects.get(external_id=span_id)
    assert (call.input_tokens, call.output_tokens, call.cache_read_tokens) == (1200, 300, 1000)
    assert call.reasoning_tokens == 100
    assert (call.task_type, call.task_ref) == ("code_review", "PR-812")
    # 200 x 0.15 + 1000 x 0.075 + 300 x 0.60 per million = 0.000285
    assert call.cost_usd == Decimal("0.0002850000")
    legacy = Call.objects.exclude(external_id=span_id).get()
    assert (legacy.input_tokens, legacy.output_tokens, legacy.success) == (10, 20, False)
    assert (legacy.task_type, legacy.task_ref) == ("chat", legacy_trace)


def _json_span(**attributes) -> dict:
    def value(v):
        return {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}

    return {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "chat",
                                "startTimeUnixNano": "1793697300000000000",
                                "endTimeUnixNano": "1793697300820000000",
                                "attributes": [
                                    {"key": k, "value": value(v)} for k, v in attributes.items()
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }


def test_otlp_json_with_gzip_is_ingested_at_the_exact_instant(vendor_client, contract):
    body = _json_span(
        **{
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 5,
        }
    )
    response = vendor_client.generic(
        "POST",
        PATH,
        gzip.compress(json.dumps(body).encode()),
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    call = Call.objects.get(external_id="eee19b7ec3c1b174")
    assert call.occurred_at.isoformat() == "2026-11-03T09:15:00+00:00"
    assert (call.latency_ms, call.task_ref) == (820, "5b8efff798038103d269b633813fc60c")


def test_a_span_with_an_unknown_model_is_a_partial_success(vendor_client, contract):
    body = _json_span(
        **{
            "gen_ai.request.model": "gpt-9",
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 5,
        }
    )
    response = vendor_client.post(PATH, body, format="json")
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "gpt-9" in response.json()["partialSuccess"]["errorMessage"]
    assert Call.objects.count() == 0


def test_malformed_payloads_get_a_clear_400(vendor_client, contract):
    protobuf = vendor_client.generic(
        "POST", PATH, b"\xff\xff\xff not protobuf", content_type="application/x-protobuf"
    )
    json_shape = vendor_client.post(
        PATH, {"resourceSpans": [{"scopeSpans": [{"spans": [{}]}]}]}, format="json"
    )
    assert_error(protobuf, 400, "malformed")
    assert "traceId" in assert_error(json_shape, 400, "malformed")["message"]


def test_another_tenant_and_a_customer_cannot_post_traces(contract):
    other = ContractFactory(vendor=OrganizationFactory(slug="rival"))
    rival = client_for(api_key_create(organization=other.vendor, role="vendor"))
    customer = client_for(api_key_create(organization=contract.customer, role="customer"))
    body = _json_span(
        **{
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 1,
            "gen_ai.operation.name": "chat",
        }
    )
    assert rival.post(PATH, body, format="json").status_code == 404
    assert customer.post(PATH, body, format="json").status_code == 404
    assert Call.objects.count() == 0


def test_a_gzip_body_that_expands_past_the_upload_limit_is_refused(vendor_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    bomb = gzip.compress(b" " * 1_000_000)

    response = vendor_client.generic(
        "POST", PATH, bomb, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )

    assert len(bomb) < 10_000
    assert_error(response, 413, "batch_too_large")
