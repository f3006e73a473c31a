"""Ingestion and audit reads of calls and outcomes over HTTP (API.md
"Conventions", "Ingestion", "Audit reads"), against real PostgreSQL."""

from decimal import Decimal

import msgspec
import pytest

from ledger.models import Call
from tests.factories import (
    CallRecordFactory,
    ContractFactory,
    LlmModelFactory,
    ModelAliasFactory,
    OutcomeRecordFactory,
    PriceFactory,
)
from tests.helpers import assert_error

CALLS = "/api/v1/contracts/acme-agent/calls"
OUTCOMES = "/api/v1/contracts/acme-agent/outcomes"
NDJSON = "application/x-ndjson"


def stored_calls(contract) -> list[str]:
    return list(
        Call.objects.filter(contract=contract)
        .order_by("external_id")
        .values_list("external_id", flat=True)
    )


def codes(rejected: dict) -> dict:
    """A rejected record with each reason as (field, code); every reason
    must carry a message."""
    assert all(error["message"] for error in rejected["errors"])
    return {
        "index": rejected["index"],
        "external_id": rejected["external_id"],
        "errors": [(error["field"], error["code"]) for error in rejected["errors"]],
    }


def ndjson(records: list) -> bytes:
    return b"\n".join(msgspec.json.encode(record) for record in records) + b"\n"


# Batches ----------------------------------------------------------------------


def test_a_mixed_batch_keeps_every_good_record_and_reports_each_bad_one(vendor_client, contract):
    records = [
        CallRecordFactory(external_id="c-0"),
        CallRecordFactory(
            external_id="c-1",
            model="gpt-9",
            input_tokens=10,
            cache_read_tokens=11,
            output_tokens=1,
            reasoning_tokens=2,
        ),
        CallRecordFactory(external_id="c-2"),
        {
            **CallRecordFactory(external_id="c-3", input_tokens=-1, task_type=None),
            "colour": "blue",
        },
        "not a record",
        CallRecordFactory(external_id="c-5"),
    ]
    del records[3]["task_type"]
    response = vendor_client.post(CALLS, {"records": records}, format="json")
    assert response.status_code == 200
    report = response.json()
    assert (report["accepted"], report["duplicates"]) == (3, 0)
    assert [codes(rejected) for rejected in report["rejected"]] == [
        {
            "index": 1,
            "external_id": "c-1",
            "errors": [
                ("cache_read_tokens", "cache_exceeds_input"),
                ("reasoning_tokens", "exceeds_output"),
                ("model", "unknown_model"),
            ],
        },
        {
            "index": 3,
            "external_id": "c-3",
            "errors": [
                ("task_type", "required"),
                ("input_tokens", "out_of_range"),
                ("colour", "unknown_field"),
            ],
        },
        {"index": 4, "external_id": None, "errors": [("", "invalid_type")]},
    ]
    assert stored_calls(contract) == ["c-0", "c-2", "c-5"]


@pytest.mark.parametrize(
    ("content_type", "join"),
    [("application/json", '{{"records": [{good}, {bad}]}}'), (NDJSON, "{good}\n{bad}\n")],
)
def test_an_amount_sent_as_a_json_number_keeps_every_digit_beside_a_bad_record(
    vendor_client, contract, content_type, join
):
    """A batch with a bad record is decoded record by record; the good
    record's number 123456789.0123456789 (19 digits, more than a float
    holds) must still be read from its text, as in an all-good batch."""
    good = msgspec.json.encode(CallRecordFactory(external_id="c-0")).replace(
        b"}", b', "reported_cost_usd": 123456789.0123456789}'
    )
    bad = msgspec.json.encode(CallRecordFactory(external_id="c-1", input_tokens=-1))
    body = join.format(good=good.decode(), bad=bad.decode()).encode()
    response = vendor_client.post(CALLS, body, content_type=content_type)
    assert response.json()["accepted"] == 1
    stored = Call.objects.get(contract=contract, external_id="c-0")
    assert stored.reported_cost_usd == Decimal("123456789.0123456789")


@pytest.mark.parametrize("encoding", ["json", "ndjson"])
def test_a_batch_of_5001_records_answers_413_and_stores_nothing(vendor_client, contract, encoding):
    records = [CallRecordFactory(external_id=f"c-{i}") for i in range(5001)]
    bodies = {
        "json": (msgspec.json.encode({"records": records}), "application/json"),
        "ndjson": (ndjson(records), NDJSON),
    }
    body, content_type = bodies[encoding]
    response = vendor_client.post(CALLS, body, content_type=content_type)
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "batch_too_large",
            "message": "a batch holds at most 5000 records; this one has 5001",
            "details": {"max_records": 5000, "records": 5001},
        }
    }
    assert stored_calls(contract) == []


def test_a_batch_of_5001_records_with_a_bad_one_also_answers_413(vendor_client, contract):
    records = [CallRecordFactory(external_id=f"c-{i}") for i in range(5000)]
    records.append({"external_id": "bad"})
    response = vendor_client.post(CALLS, {"records": records}, format="json")
    assert response.status_code == 413
    assert stored_calls(contract) == []


def test_a_batch_of_exactly_5000_records_is_accepted(vendor_client, contract):
    records = [CallRecordFactory(external_id=f"c-{i:04}") for i in range(5000)]
    response = vendor_client.post(CALLS, {"records": records}, format="json")
    assert response.json() == {"accepted": 5000, "duplicates": 0, "rejected": []}
    assert Call.objects.filter(contract=contract).count() == 5000


def test_an_ndjson_body_is_ingested_one_record_a_line(vendor_client, contract):
    body = ndjson(
        [
            CallRecordFactory(external_id="c-0"),
            CallRecordFactory(external_id="c-1", input_tokens=-1),
            CallRecordFactory(external_id="c-2"),
        ]
    )
    response = vendor_client.post(CALLS, body, content_type=NDJSON)
    assert response.status_code == 200
    report = response.json()
    assert report["accepted"] == 2
    assert [codes(rejected) for rejected in report["rejected"]] == [
        {"index": 1, "external_id": "c-1", "errors": [("input_tokens", "out_of_range")]}
    ]
    assert stored_calls(contract) == ["c-0", "c-2"]


def test_an_ndjson_outcome_body_is_ingested(vendor_client, contract):
    body = ndjson([OutcomeRecordFactory(external_id="o-0")])
    response = vendor_client.post(OUTCOMES, body, content_type=f"{NDJSON}; charset=utf-8")
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}


def test_a_malformed_ndjson_line_answers_400_naming_the_line(vendor_client, contract):
    body = ndjson([CallRecordFactory(external_id="c-0")]) + b'{"external_id": "c-1",\n'
    response = vendor_client.post(CALLS, body, content_type=NDJSON)
    error = assert_error(response, 400, "malformed")
    assert error["message"].startswith("line 2 is not JSON")
    assert stored_calls(contract) == []


@pytest.mark.parametrize(
    "body", [b"records: [1, 2]", b"", b'{"records": [', b'{"records": 5}', b"[]", b"{}"]
)
def test_a_body_that_is_not_a_json_batch_answers_400_malformed(vendor_client, contract, body):
    response = vendor_client.post(CALLS, body, content_type="application/json")
    assert_error(response, 400, "malformed")
    assert stored_calls(contract) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_of_another_content_type_answers_415(vendor_client, contract, content_type):
    body = msgspec.json.encode({"records": [CallRecordFactory()]})
    response = vendor_client.post(CALLS, body, content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")
    assert stored_calls(contract) == []


def test_posting_the_same_batch_twice_reports_duplicates(vendor_client, contract):
    batch = {"records": [CallRecordFactory(external_id=f"c-{i}") for i in range(3)]}
    vendor_client.post(CALLS, batch, format="json")
    response = vendor_client.post(CALLS, batch, format="json")
    assert response.json() == {"accepted": 0, "duplicates": 3, "rejected": []}


def test_a_conflicting_record_is_rejected_with_code_conflict(vendor_client, contract):
    vendor_client.post(CALLS, {"records": [CallRecordFactory(external_id="c-1")]}, format="json")
    changed = CallRecordFactory(external_id="c-1", output_tokens=1)
    response = vendor_client.post(CALLS, {"records": [changed]}, format="json")
    assert [codes(rejected) for rejected in response.json()["rejected"]] == [
        {"index": 0, "external_id": "c-1", "errors": [("external_id", "conflict")]}
    ]
    assert Call.objects.get(contract=contract, external_id="c-1").output_tokens == 300


# Read back ------------------------------------------------------------------


def test_a_call_reads_back_costed_in_the_contract_currency(vendor_client, contract, light_model):
    """gpt-4o-mini (input 0.15, cache read 0.075, output 0.60), addressed by
    alias: (200 x 0.15 + 1000 x 0.075 + 300 x 0.60) / 1e6 = 0.000285 USD;
    EUR charge = 0.000285 x 0.92 x 1.20 = 0.00031464."""
    ModelAliasFactory(llm_model=light_model, alias="gpt-4o-mini-2024-07-18")
    ContractFactory(
        code="acme-eur",
        vendor=contract.vendor,
        currency="EUR",
        fx_rate=Decimal("0.92"),
        markup=Decimal("0.20"),
    )
    record = CallRecordFactory(
        external_id="c-1",
        model="gpt-4o-mini-2024-07-18",
        input_tokens=1200,
        cache_read_tokens=1000,
        output_tokens=300,
        reasoning_tokens=100,
        latency_ms=820,
        metadata={"route": "a"},
    )
    url = "/api/v1/contracts/acme-eur/calls"
    vendor_client.post(url, {"records": [record]}, format="json")
    (call,) = vendor_client.get(url).json()["results"]
    assert call["model"] == "gpt-4o-mini"
    assert call["tier"] == "light"
    assert call["occurred_at"] == "2026-11-03T09:15:00Z"
    assert call["computed_cost_usd"] == "0.0002850000"
    assert call["cost_usd"] == "0.0002850000"
    assert call["reported_cost_usd"] is None
    assert call["charge"] == "0.0003146400"
    assert call["currency"] == "EUR"
    assert (call["reasoning_tokens"], call["latency_ms"]) == (100, 820)
    assert call["metadata"] == {"route": "a"}


def test_an_outcome_reads_back_valued_with_its_fee_and_status(vendor_client, contract):
    """task_completed: unit value 40, fee 0.99; quantity 2: value 80, fee 1.98."""
    record = OutcomeRecordFactory(external_id="o-1", quantity="2")
    vendor_client.post(OUTCOMES, {"records": [record]}, format="json")
    outcome = vendor_client.get(f"{OUTCOMES}/o-1").json()
    assert outcome["quantity"] == "2.0000000000"
    assert (outcome["unit_value"], outcome["value"]) == ("40.0000000000", "80.0000000000")
    assert (outcome["unit_fee"], outcome["fee"]) == ("0.9900000000", "1.9800000000")
    assert (outcome["status"], outcome["source"], outcome["events"]) == ("accepted", "vendor", [])
    assert vendor_client.get(OUTCOMES).json()["results"] == [outcome]


def test_an_unknown_outcome_answers_404(vendor_client, contract):
    response = vendor_client.get(f"{OUTCOMES}/nope")
    assert_error(response, 404, "not_found")


# Lists ------------------------------------------------------------------------

MINUTES = [0, 0, 0, 1, 1, 2, 3, 3, 3, 4]


@pytest.fixture
def ten_calls(vendor_client, contract, light_model):
    """c-0 .. c-9 at 09:00 + MINUTES[i]; c-0..c-4 on gpt-4o-mini, c-5..c-9 on
    claude-haiku (alias haiku-latest); task_type review for even i, else
    support; task_ref PR-(i mod 3)."""
    haiku = LlmModelFactory(name="claude-haiku", provider="anthropic")
    PriceFactory(llm_model=haiku)
    ModelAliasFactory(llm_model=haiku, alias="haiku-latest")
    records = [
        CallRecordFactory(
            external_id=f"c-{i}",
            occurred_at=f"2026-11-03T09:0{minute}:00Z",
            model="gpt-4o-mini" if i < 5 else "haiku-latest",
            task_type="review" if i % 2 == 0 else "support",
            task_ref=f"PR-{i % 3}",
        )
        for i, minute in enumerate(MINUTES)
    ]
    response = vendor_client.post(CALLS, {"records": records}, format="json")
    assert response.json()["accepted"] == 10


def listed(client, params: dict) -> list[str]:
    response = client.get(CALLS, params)
    assert response.status_code == 200, response.content
    return [call["external_id"] for call in response.json()["results"]]


def test_cursor_pages_walk_every_call_exactly_once_in_time_order(vendor_client, ten_calls):
    pages = []
    response = vendor_client.get(CALLS, {"limit": 3})
    pages.append(response.json()["results"])
    while response.json()["next"]:
        response = vendor_client.get(response.json()["next"])
        pages.append(response.json()["results"])
    walked = [call["external_id"] for page in pages for call in page]
    assert [len(page) for page in pages] == [3, 3, 3, 1]
    assert sorted(walked) == sorted(f"c-{i}" for i in range(10))
    assert len(set(walked)) == 10
    times = [call["occurred_at"] for page in pages for call in page]
    assert times == sorted(times)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"from": "2026-11-03T09:01:00Z", "to": "2026-11-03T09:03:00Z"}, ["c-3", "c-4", "c-5"]),
        ({"from": "2026-11-03T14:33:00+05:30"}, ["c-6", "c-7", "c-8", "c-9"]),
        ({"to": "2026-11-03T09:01:00Z"}, ["c-0", "c-1", "c-2"]),
        ({"model": "claude-haiku"}, ["c-5", "c-6", "c-7", "c-8", "c-9"]),
        ({"model": "haiku-latest"}, ["c-5", "c-6", "c-7", "c-8", "c-9"]),
        ({"task_type": "support"}, ["c-1", "c-3", "c-5", "c-7", "c-9"]),
        ({"task_ref": "PR-1"}, ["c-1", "c-4", "c-7"]),
        ({"model": "gpt-4o-mini", "task_type": "review", "task_ref": "PR-0"}, ["c-0"]),
        ({"model": "gpt-9"}, []),
    ],
)
def test_call_list_filters(vendor_client, ten_calls, params, expected):
    assert sorted(listed(vendor_client, params)) == expected


@pytest.mark.parametrize("name", ["from", "to"])
def test_a_time_filter_without_an_offset_answers_400(vendor_client, ten_calls, name):
    response = vendor_client.get(CALLS, {name: "2026-11-03T09:01:00"})
    assert_error(response, 400, "invalid")


def test_outcome_list_filters_by_half_open_time_range_and_kind(vendor_client, contract):
    records = [
        OutcomeRecordFactory(external_id="o-0", occurred_at="2026-11-03T09:00:00Z"),
        OutcomeRecordFactory(external_id="o-1", occurred_at="2026-11-03T10:00:00Z"),
        OutcomeRecordFactory(
            external_id="o-2", occurred_at="2026-11-03T10:00:00Z", kind="hours_saved"
        ),
    ]
    vendor_client.post(OUTCOMES, {"records": records}, format="json")
    in_range = vendor_client.get(
        OUTCOMES, {"from": "2026-11-03T09:00:00Z", "to": "2026-11-03T10:00:00Z"}
    )
    hours = vendor_client.get(OUTCOMES, {"kind": "hours_saved"})
    assert [o["external_id"] for o in in_range.json()["results"]] == ["o-0"]
    assert [o["external_id"] for o in hours.json()["results"]] == ["o-2"]
