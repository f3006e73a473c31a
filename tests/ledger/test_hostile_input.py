"""Hostile input at ingestion, over HTTP against real PostgreSQL
(docs/INGESTION.md "Limits", DESIGN.md "Trust between the parties"): each
bad record answers a specific per-record rejection, nothing bad is stored,
and the good records of the batch are kept."""

import sys
import unicodedata
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest
from django.db import connection
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

from core.api import PAGE_JSON_BUDGET_BYTES
from core.batch import METADATA_MAX_BYTES
from ledger.models import Call, Outcome
from ledger.records import INVISIBLE_RANGES
from tests.conftest import client_for
from tests.factories import (
    CallRecordFactory,
    ContractFactory,
    OutcomeRecordFactory,
    api_key_create,
)
from tests.helpers import assert_error
from tests.ledger.test_api_ingest import CALLS, NDJSON, OUTCOMES, codes, ndjson, stored_calls

OTLP = "/api/v1/contracts/acme-agent/otlp/v1/traces"


def post_json(client, path: str, body: bytes):
    return client.generic("POST", path, body, content_type="application/json")


def post_records(client, path: str, records: list, *, as_ndjson: bool):
    if as_ndjson:
        return client.generic("POST", path, ndjson(records), content_type=NDJSON)
    return post_json(client, path, msgspec.json.encode({"records": records}))


def nested(depth: int) -> bytes:
    """A JSON array nested ``depth`` levels."""
    return b"[" * depth + b"]" * depth


def with_metadata(record: dict, metadata_json: bytes) -> bytes:
    """The record's JSON with raw ``metadata`` text (which msgspec would not
    encode, e.g. 1e400)."""
    return msgspec.json.encode({**record, "metadata": 0}).replace(
        b'"metadata":0', b'"metadata":' + metadata_json
    )


def raw_batch(records: list[bytes], *, as_ndjson: bool) -> tuple[bytes, str]:
    if as_ndjson:
        return b"\n".join(records), NDJSON
    return b'{"records":[' + b",".join(records) + b"]}", "application/json"


FORMATS = pytest.mark.parametrize("as_ndjson", [False, True], ids=["json", "ndjson"])


# Numbers and nesting ------------------------------------------------------------


@FORMATS
def test_metadata_holding_1e400_is_rejected_out_of_range_and_the_good_record_is_kept(
    vendor_client, contract, as_ndjson
):
    body, content_type = raw_batch(
        [
            msgspec.json.encode(CallRecordFactory(external_id="good")),
            with_metadata(CallRecordFactory(external_id="huge"), b'{"x": 1e400}'),
        ],
        as_ndjson=as_ndjson,
    )
    response = vendor_client.generic("POST", CALLS, body, content_type=content_type)
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 1, "external_id": "huge", "errors": [("metadata", "out_of_range")]}
    ]
    assert stored_calls(contract) == ["good"]


@FORMATS
@pytest.mark.parametrize("depth", [2_000, 10_000])
def test_metadata_nested_thousands_of_levels_is_rejected_too_deep_and_the_rest_is_kept(
    vendor_client, contract, as_ndjson, depth
):
    """Deeper than the decoder reads (the interpreter's recursion limit): the
    record cannot even be taken apart, so its id is unknown."""
    assert depth > sys.getrecursionlimit()
    body, content_type = raw_batch(
        [
            msgspec.json.encode(CallRecordFactory(external_id="before")),
            with_metadata(CallRecordFactory(external_id="deep"), b'{"x":' + nested(depth) + b"}"),
            msgspec.json.encode(CallRecordFactory(external_id="after")),
        ],
        as_ndjson=as_ndjson,
    )
    response = vendor_client.generic("POST", CALLS, body, content_type=content_type)
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 2
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 1, "external_id": None, "errors": [("", "too_deep")]}
    ]
    assert stored_calls(contract) == ["after", "before"]


@FORMATS
def test_metadata_may_nest_32_levels_and_not_33(vendor_client, contract, as_ndjson):
    """The metadata object is level 1."""
    body, content_type = raw_batch(
        [
            with_metadata(CallRecordFactory(external_id="at-32"), b'{"x":' + nested(31) + b"}"),
            with_metadata(CallRecordFactory(external_id="at-33"), b'{"x":' + nested(32) + b"}"),
        ],
        as_ndjson=as_ndjson,
    )
    response = vendor_client.generic("POST", CALLS, body, content_type=content_type)
    assert response.json()["accepted"] == 1
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 1, "external_id": "at-33", "errors": [("metadata", "too_deep")]}
    ]
    assert stored_calls(contract) == ["at-32"]


@FORMATS
def test_outcome_metadata_nested_10000_levels_is_rejected_and_the_rest_is_kept(
    vendor_client, contract, as_ndjson
):
    body, content_type = raw_batch(
        [
            with_metadata(
                OutcomeRecordFactory(external_id="deep"), b'{"x":' + nested(10_000) + b"}"
            ),
            msgspec.json.encode(OutcomeRecordFactory(external_id="good")),
        ],
        as_ndjson=as_ndjson,
    )
    response = vendor_client.generic("POST", OUTCOMES, body, content_type=content_type)
    assert response.status_code == 200, response.content
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 0, "external_id": None, "errors": [("", "too_deep")]}
    ]
    assert list(Outcome.objects.values_list("external_id", flat=True)) == ["good"]


def test_outcome_metadata_nested_too_deep_is_rejected_as_well(vendor_client, contract):
    response = post_records(
        vendor_client,
        OUTCOMES,
        [OutcomeRecordFactory(external_id="o-deep", metadata={"x": _deep(32)})],
        as_ndjson=False,
    )
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 0, "external_id": "o-deep", "errors": [("metadata", "too_deep")]}
    ]
    assert not Outcome.objects.exists()


def _deep(levels: int) -> list:
    """A list nested ``levels`` levels (as a metadata value: levels + 1)."""
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_metadata_of_16_kib_is_accepted_and_one_byte_more_is_too_large(vendor_client, contract):
    def padded(size: int) -> dict:
        # {"p":"..."} is 8 bytes around the padding.
        return {"p": "x" * (size - 8)}

    assert len(msgspec.json.encode(padded(METADATA_MAX_BYTES))) == METADATA_MAX_BYTES
    response = post_records(
        vendor_client,
        CALLS,
        [
            CallRecordFactory(external_id="at-limit", metadata=padded(METADATA_MAX_BYTES)),
            CallRecordFactory(external_id="over", metadata=padded(METADATA_MAX_BYTES + 1)),
        ],
        as_ndjson=False,
    )
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 1, "external_id": "over", "errors": [("metadata", "too_large")]}
    ]
    assert stored_calls(contract) == ["at-limit"]


@pytest.mark.parametrize("depth", [2_000, 10_000])
def test_a_body_nested_thousands_of_levels_is_a_400(vendor_client, contract, depth):
    response = post_json(vendor_client, CALLS, nested(depth))
    assert_error(response, 400, "malformed")
    assert not Call.objects.exists()


@pytest.mark.parametrize("depth", [2_000, 10_000])
def test_a_record_that_is_an_array_nested_thousands_of_levels_is_rejected_as_not_an_object(
    vendor_client, contract, depth
):
    body = b'{"records":[' + nested(depth) + b"," + msgspec.json.encode(CallRecordFactory()) + b"]}"
    response = post_json(vendor_client, CALLS, body)
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 0, "external_id": None, "errors": [("", "invalid_type")]}
    ]


def test_a_49_mb_body_is_refused_with_413_and_nothing_is_stored(vendor_client, contract):
    record = CallRecordFactory(external_id="big", metadata={"blob": "x" * (49 * 1024 * 1024)})
    response = post_records(vendor_client, CALLS, [record], as_ndjson=False)
    assert_error(response, 413, "batch_too_large")
    assert not Call.objects.exists()


def test_a_batch_of_5000_calls_with_ordinary_metadata_fits_the_body_limit(vendor_client, contract):
    metadata = {"session": "s-1234", "user": "u-5678", "trace": "5b8efff798038103d269b633813fc60c"}
    records = [
        CallRecordFactory(external_id=f"c-{i:05}", metadata={**metadata, "n": i})
        for i in range(5_000)
    ]
    response = post_records(vendor_client, CALLS, records, as_ndjson=False)
    assert response.status_code == 200
    assert response.json() == {"accepted": 5_000, "duplicates": 0, "rejected": []}


# Times ------------------------------------------------------------------------


@FORMATS
def test_sub_microsecond_digits_are_truncated_never_rounded_into_the_next_month(
    vendor_client, contract, as_ndjson
):
    records = [
        CallRecordFactory(external_id="last", occurred_at="2026-10-31T23:59:59.9999995Z"),
        OutcomeRecordFactory(external_id="o-last", occurred_at="2026-10-31T23:59:59.999999999Z"),
    ]
    post_records(vendor_client, CALLS, records[:1], as_ndjson=as_ndjson)
    post_records(vendor_client, OUTCOMES, records[1:], as_ndjson=as_ndjson)
    last_instant = datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert Call.objects.get(external_id="last").occurred_at == last_instant
    assert Outcome.objects.get(external_id="o-last").occurred_at == last_instant


def test_sub_microsecond_truncation_leaves_the_other_records_of_the_batch_alone(
    vendor_client, contract
):
    response = post_records(
        vendor_client,
        CALLS,
        [
            CallRecordFactory(external_id="plain", occurred_at="2026-11-03T09:15:00.25Z"),
            CallRecordFactory(external_id="fine", occurred_at="2026-11-03T09:15:00.1234567+01:00"),
            CallRecordFactory(external_id="bad", occurred_at="2026-11-03T09:15:00.1234567"),
        ],
        as_ndjson=False,
    )
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 2, "external_id": "bad", "errors": [("occurred_at", "naive_datetime")]}
    ]
    stored = dict(Call.objects.values_list("external_id", "occurred_at"))
    assert stored == {
        "plain": datetime(2026, 11, 3, 9, 15, 0, 250000, tzinfo=UTC),
        "fine": datetime(2026, 11, 3, 8, 15, 0, 123456, tzinfo=UTC),
    }


@pytest.fixture
def clock_skew(settings):
    settings.MAX_CLOCK_SKEW = timedelta(minutes=5)


@pytest.mark.parametrize(
    "path, factory", [(CALLS, CallRecordFactory), (OUTCOMES, OutcomeRecordFactory)]
)
def test_a_record_more_than_the_clock_skew_in_the_future_is_rejected_in_future(
    vendor_client, contract, clock_skew, path, factory
):
    now = datetime.now(UTC)
    response = post_records(
        vendor_client,
        path,
        [
            factory(external_id="soon", occurred_at=(now + timedelta(minutes=4)).isoformat()),
            factory(external_id="later", occurred_at=(now + timedelta(minutes=6)).isoformat()),
            factory(external_id="far", occurred_at="9999-12-31T00:00:00Z"),
        ],
        as_ndjson=False,
    )
    assert response.json()["accepted"] == 1
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 1, "external_id": "later", "errors": [("occurred_at", "in_future")]},
        {"index": 2, "external_id": "far", "errors": [("occurred_at", "in_future")]},
    ]


def test_a_record_before_the_year_2000_is_rejected_too_early(vendor_client, light_model):
    contract = ContractFactory(code="old-agent", starts_on=date(1990, 1, 1))
    client = client_for(api_key_create(organization=contract.vendor, role="vendor"))
    response = post_records(
        client,
        "/api/v1/contracts/old-agent/calls",
        [
            CallRecordFactory(
                external_id="y2k", occurred_at="2000-01-01T00:00:00Z", reported_cost_usd="0.01"
            ),
            CallRecordFactory(
                external_id="y1999",
                occurred_at="1999-12-31T23:59:59.999999Z",
                reported_cost_usd="0.01",
            ),
        ],
        as_ndjson=False,
    )
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 1, "external_id": "y1999", "errors": [("occurred_at", "too_early")]}
    ]
    assert stored_calls(contract) == ["y2k"]


# Ids ----------------------------------------------------------------------------

INVISIBLE = ["\u0085", "\u202e", "\u200b", "\ufeff", "\u2028", "\u2029", "\u00ad", "\U000e0041"]


@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_ids_and_task_refs_holding_an_invisible_character_are_refused(
    vendor_client, contract, char
):
    response = post_records(
        vendor_client,
        CALLS,
        [
            CallRecordFactory(external_id=f"c{char}1"),
            CallRecordFactory(external_id="c-2", task_ref=f"PR{char}812"),
            CallRecordFactory(external_id="c-3"),
        ],
        as_ndjson=False,
    )
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 0, "external_id": f"c{char}1", "errors": [("external_id", "invalid_format")]},
        {"index": 1, "external_id": "c-2", "errors": [("task_ref", "invalid_format")]},
    ]
    assert stored_calls(contract) == ["c-3"]


def test_the_invisible_ranges_are_the_control_format_and_separator_categories():
    categories = {"Cc", "Cf", "Zl", "Zp"}
    refused = {cp for low, high in INVISIBLE_RANGES for cp in range(low, high + 1)}
    expected = {
        cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) in categories
    }
    assert refused == expected


def test_nfd_and_nfc_spellings_of_one_id_are_one_record_stored_in_nfc(vendor_client, contract):
    nfc, nfd = "caf\u00e9-1", "cafe\u0301-1"
    first = post_records(
        vendor_client,
        OUTCOMES,
        [OutcomeRecordFactory(external_id=nfd, task_ref=nfd)],
        as_ndjson=False,
    )
    again = post_records(
        vendor_client,
        OUTCOMES,
        [OutcomeRecordFactory(external_id=nfc, task_ref=nfc)],
        as_ndjson=True,
    )
    assert (first.json()["accepted"], again.json()["duplicates"]) == (1, 1)
    assert list(Outcome.objects.values_list("external_id", "task_ref")) == [(nfc, nfc)]
    detail = vendor_client.get(f"{OUTCOMES}/{nfd}")
    assert detail.status_code == 200
    assert detail.json()["external_id"] == nfc


# Who records what ---------------------------------------------------------------


def test_a_vendor_key_cannot_record_a_customer_outcome(vendor_client, contract):
    response = post_records(
        vendor_client,
        OUTCOMES,
        [
            OutcomeRecordFactory(external_id="o-vendor", source="vendor"),
            OutcomeRecordFactory(external_id="o-customer", source="customer"),
        ],
        as_ndjson=False,
    )
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 1, "external_id": "o-customer", "errors": [("source", "source_not_allowed")]}
    ]
    assert list(Outcome.objects.values_list("external_id", "source")) == [("o-vendor", "vendor")]


def test_an_admin_key_records_a_customer_outcome(admin_client, contract):
    response = post_records(
        admin_client, OUTCOMES, [OutcomeRecordFactory(source="customer")], as_ndjson=False
    )
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert list(Outcome.objects.values_list("source", flat=True)) == ["customer"]


# Reads ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/disputes", "/decision"])
def test_an_outcome_whose_id_ends_like_an_action_is_readable_and_disputable(
    vendor_client, customer_client, contract, suffix
):
    external_id = f"o-1{suffix}"
    post_records(
        vendor_client, OUTCOMES, [OutcomeRecordFactory(external_id=external_id)], as_ndjson=False
    )
    detail = customer_client.get(f"{OUTCOMES}/{external_id}")
    assert detail.status_code == 200, detail.content
    assert (detail.json()["external_id"], detail.json()["status"]) == (external_id, "accepted")
    disputed = customer_client.post(
        f"{OUTCOMES}/{external_id}/disputes", {"reason": "reverted"}, format="json"
    )
    assert disputed.status_code == 200
    assert disputed.json()["status"] == "disputed"


# Bodies of the other writes -------------------------------------------------------


@pytest.mark.parametrize("depth", [40, 2_000, 10_000])
def test_a_dispute_body_nested_too_deep_is_a_400_too_deep(
    vendor_client, customer_client, contract, depth
):
    post_records(
        vendor_client, OUTCOMES, [OutcomeRecordFactory(external_id="o-1")], as_ndjson=False
    )
    body = b'{"reason": "x", "extra": ' + nested(depth) + b"}"
    response = post_json(customer_client, f"{OUTCOMES}/o-1/disputes", body)
    assert_error(response, 400, "too_deep")
    assert Outcome.objects.get().events.count() == 0


def test_a_dispute_body_holding_1e400_is_a_400_out_of_range(
    vendor_client, customer_client, contract
):
    post_records(
        vendor_client, OUTCOMES, [OutcomeRecordFactory(external_id="o-1")], as_ndjson=False
    )
    response = post_json(customer_client, f"{OUTCOMES}/o-1/disputes", b'{"reason": 1e400}')
    assert_error(response, 400, "out_of_range")


# OpenTelemetry ----------------------------------------------------------------------


def _span(span_id: str, start_ns: int, **attributes) -> dict:
    def value(v):
        return {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}

    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + 820_000_000) if start_ns >= 0 else "0",
        "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()],
    }


USAGE = {
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.operation.name": "chat",
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 5,
}
NOV_3 = 1793697300000000000  # 2026-11-03T09:15:00Z


def test_otlp_spans_starting_at_1e23_ns_or_before_1970_are_rejected_per_span(
    vendor_client, contract
):
    spans = [
        _span("000000000000000a", NOV_3, **USAGE),
        _span("000000000000000b", 10**23, **USAGE),
        _span("000000000000000c", -1, **USAGE),
        _span("000000000000000d", -(10**23), **USAGE),
    ]
    body = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    response = vendor_client.post(OTLP, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert [codes(r) for r in response.json()["rejected"]] == [
        {
            "index": 1,
            "external_id": "000000000000000b",
            "errors": [("occurred_at", "out_of_range")],
        },
        {
            "index": 2,
            "external_id": "000000000000000c",
            "errors": [("occurred_at", "too_early"), ("model", "no_price")],
        },
        {
            "index": 3,
            "external_id": "000000000000000d",
            "errors": [("occurred_at", "out_of_range")],
        },
    ]
    assert stored_calls(contract) == ["000000000000000a"]


def test_an_otlp_span_starting_beyond_the_clock_skew_is_rejected_in_future(
    vendor_client, contract, clock_skew
):
    later = int((datetime.now(UTC) + timedelta(minutes=6)).timestamp()) * 1_000_000_000
    spans = [_span("0000000000000011", NOV_3, **USAGE), _span("0000000000000012", later, **USAGE)]
    body = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    response = vendor_client.post(OTLP, body, format="json")
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 1, "external_id": "0000000000000012", "errors": [("occurred_at", "in_future")]}
    ]
    assert stored_calls(contract) == ["0000000000000011"]


def test_an_otlp_protobuf_array_attribute_where_a_string_is_expected_is_rejected_per_span(
    vendor_client, contract
):
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add()
    for span_id, model in ((b"\x00" * 7 + b"\x01", None), (b"\x00" * 7 + b"\x02", ["a", "b"])):
        span = spans.spans.add(
            trace_id=b"\x01" * 16,
            span_id=span_id,
            start_time_unix_nano=NOV_3,
            end_time_unix_nano=NOV_3,
        )
        for key, value in USAGE.items():
            if key == "gen_ai.request.model" and model is not None:
                any_value = AnyValue(
                    array_value=ArrayValue(values=[AnyValue(string_value=m) for m in model])
                )
            elif isinstance(value, int):
                any_value = AnyValue(int_value=value)
            else:
                any_value = AnyValue(string_value=value)
            span.attributes.append(KeyValue(key=key, value=any_value))
        span.attributes.append(
            KeyValue(
                key="gen_ai.openai.response.service_tier",
                value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="flex")])),
            )
        )
    response = vendor_client.generic(
        "POST", OTLP, request.SerializeToString(), content_type="application/x-protobuf"
    )
    assert response.status_code == 200
    assert stored_calls(contract) == ["0000000000000001"]
    assert "span 0000000000000002" in response.content.decode("latin-1")


def test_a_page_of_rows_with_large_metadata_stops_at_the_json_budget_and_goes_on(
    vendor_client, contract
):
    """docs/INGESTION.md "Limits": a read holds at most 1 MiB of metadata
    JSON (plus one row), whatever ?limit= asks."""
    metadata = {"p": "x" * (METADATA_MAX_BYTES - 8)}
    records = [CallRecordFactory(external_id=f"c-{i:03}", metadata=metadata) for i in range(70)]
    post_records(vendor_client, CALLS, records, as_ndjson=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT octet_length(metadata::text) FROM ledger_call")
        [(stored_bytes,)] = cursor.fetchall()
    per_page = PAGE_JSON_BUDGET_BYTES // stored_bytes
    first = vendor_client.get(f"{CALLS}?limit=1000").json()
    second = vendor_client.get(first["next"]).json()
    assert (len(first["results"]), len(second["results"])) == (per_page, 70 - per_page)
    assert second["next"] is None
    assert [r["external_id"] for r in first["results"] + second["results"]] == [
        f"c-{i:03}" for i in range(70)
    ]


def test_a_dispute_reason_longer_than_2000_characters_is_a_400(
    vendor_client, customer_client, contract
):
    post_records(
        vendor_client, OUTCOMES, [OutcomeRecordFactory(external_id="o-1")], as_ndjson=False
    )
    response = customer_client.post(
        f"{OUTCOMES}/o-1/disputes", {"reason": "x" * 2001}, format="json"
    )
    assert list(assert_error(response, 400, "invalid")["details"]) == ["reason"]
    assert Outcome.objects.get().events.count() == 0


def test_otlp_json_attributes_of_the_wrong_shape_are_rejected_per_span_with_the_field(
    vendor_client, contract
):
    array_model = _span("000000000000000e", NOV_3, **USAGE)
    array_model["attributes"][0]["value"] = {
        "arrayValue": {"values": [{"stringValue": "gpt-4o-mini"}]}
    }
    hidden_ref = _span(
        "000000000000000f", NOV_3, **USAGE, **{"outcome_ledger.task_ref": "PR\u202e1"}
    )
    spans = [_span("0000000000000010", NOV_3, **USAGE), array_model, hidden_ref]
    body = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    response = vendor_client.post(OTLP, body, format="json")
    assert response.status_code == 200, response.content
    assert [codes(r) for r in response.json()["rejected"]] == [
        {"index": 1, "external_id": "000000000000000e", "errors": [("model", "invalid_type")]},
        {"index": 2, "external_id": "000000000000000f", "errors": [("task_ref", "invalid_format")]},
    ]
    assert stored_calls(contract) == ["0000000000000010"]
