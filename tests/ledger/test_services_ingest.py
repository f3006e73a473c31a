"""Ingestion (ledger/ingestion.py over the storage step of ledger/services.py)
through the real decoder: DESIGN.md "Price book", "Call", "Outcome",
"Charges", "Ingestion rules"."""

import unicodedata
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.models import Call, Outcome, RouteDecision
from ledger.records import CallIn, OutcomeIn
from ledger.services import CALL_COLUMNS, OUTCOME_COLUMNS
from tests.factories import (
    CallRecordFactory,
    ContractFactory,
    FeeScheduleRowFactory,
    LlmModelFactory,
    OutcomeRecordFactory,
    PriceFactory,
    ValueScheduleRowFactory,
)

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def rejection(index: int, external_id: str | None, *errors: tuple[str, str]) -> dict:
    """The report of one rejected record, (field, code) per reason; messages
    are checked for being present, not for their wording."""
    return {"index": index, "external_id": external_id, "errors": list(errors)}


def reasons(report) -> list[dict]:
    return [
        rejection(r.index, r.external_id, *[(e.field, e.code) for e in r.errors if e.message])
        for r in report.rejected
    ]


# Catalog and price book ----------------------------------------------------


def test_a_call_of_a_model_not_in_the_catalog_is_rejected_as_unknown_model(
    light_model, ingest_calls
):
    contract = ContractFactory()
    report = ingest_calls(contract, [CallRecordFactory(external_id="c-1", model="gpt-9")])
    assert report.accepted == 0
    assert reasons(report) == [rejection(0, "c-1", ("model", "unknown_model"))]
    assert not Call.objects.filter(contract=contract).exists()


def test_a_call_of_a_known_model_with_no_price_in_force_is_rejected_as_no_price(
    ingest_calls,
):
    model = LlmModelFactory(name="future-priced")
    PriceFactory(llm_model=model, effective_from=datetime(2027, 1, 1, tzinfo=UTC))
    contract = ContractFactory()
    report = ingest_calls(contract, [CallRecordFactory(external_id="c-1", model="future-priced")])
    assert reasons(report) == [rejection(0, "c-1", ("model", "no_price"))]
    assert not Call.objects.filter(contract=contract).exists()


def test_a_call_with_no_price_in_force_that_reports_its_cost_is_stored_at_that_cost(
    ingest_one_call,
):
    """No price row: cost = reported = 0.25, computed is null, charge at fx 1,
    markup 0.20 = 0.25 x 1.20 = 0.3."""
    LlmModelFactory(name="unpriced")
    contract = ContractFactory(markup=Decimal("0.20"))
    stored = ingest_one_call(
        contract, CallRecordFactory(model="unpriced", reported_cost_usd="0.25")
    )
    assert stored.computed_cost_usd is None
    assert stored.price_id is None
    assert stored.cost_usd == Decimal("0.2500000000")
    assert stored.charge == Decimal("0.3000000000")


@PROPERTY
@given(
    input_tokens=st.integers(0, 10**9),
    output_tokens=st.integers(0, 10**9),
    service_tier=st.sampled_from(["standard", "batch", "flex", "priority"]),
)
def test_calls_of_an_unpriced_model_are_never_stored_at_zero_cost(
    ingest_calls, input_tokens, output_tokens, service_tier
):
    LlmModelFactory(name="unpriced")
    contract = ContractFactory()
    record = CallRecordFactory(
        model="unpriced",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        service_tier=service_tier,
    )
    report = ingest_calls(contract, [record])
    assert reasons(report) == [rejection(0, record["external_id"], ("model", "no_price"))]
    assert not Call.objects.filter(contract=contract).exists()


# Record rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "field", "code"),
    [
        (
            {"input_tokens": 100, "cache_read_tokens": 60, "cache_write_tokens": 41},
            "cache_read_tokens",
            "cache_exceeds_input",
        ),
        (
            {"input_tokens": 100, "cache_write_tokens": 10, "cache_write_1h_tokens": 11},
            "cache_write_1h_tokens",
            "exceeds_cache_write",
        ),
        ({"output_tokens": 10, "reasoning_tokens": 11}, "reasoning_tokens", "exceeds_output"),
    ],
)
def test_inconsistent_token_buckets_are_rejected_with_their_code(
    light_model, ingest_calls, tokens, field, code
):
    contract = ContractFactory()
    report = ingest_calls(contract, [CallRecordFactory(external_id="c-1", **tokens)])
    assert reasons(report) == [rejection(0, "c-1", (field, code))]
    assert not Call.objects.filter(contract=contract).exists()


def test_token_buckets_exactly_at_their_limits_are_accepted(light_model, ingest_one_call):
    stored = ingest_one_call(
        ContractFactory(),
        CallRecordFactory(
            input_tokens=100,
            cache_read_tokens=60,
            cache_write_tokens=40,
            cache_write_1h_tokens=40,
            output_tokens=10,
            reasoning_tokens=10,
        ),
    )
    assert (stored.cache_read_tokens, stored.cache_write_1h_tokens) == (60, 40)
    assert stored.reasoning_tokens == 10


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"occurred_at": "2026-11-03T09:15:00"}, "occurred_at", "naive_datetime"),
        ({"input_tokens": -1}, "input_tokens", "out_of_range"),
        ({"cache_read_tokens": -5}, "cache_read_tokens", "out_of_range"),
        ({"output_tokens": 10**15 + 1}, "output_tokens", "out_of_range"),
        ({"latency_ms": 2**31}, "latency_ms", "out_of_range"),
        ({"task_type": ""}, "task_type", "invalid_length"),
        ({"task_type": "t" * 101}, "task_type", "invalid_length"),
        ({"input_tokens": "12"}, "input_tokens", "invalid_type"),
        ({"colour": "blue"}, "colour", "unknown_field"),
        ({"service_tier": "economy"}, "service_tier", "invalid"),
        ({"reported_cost_usd": "-0.01"}, "reported_cost_usd", "out_of_range"),
        ({"reported_cost_usd": "0.00000000001"}, "reported_cost_usd", "too_precise"),
        ({"reported_cost_usd": "NaN"}, "reported_cost_usd", "invalid"),
    ],
)
def test_a_bad_call_field_is_rejected_with_its_code(light_model, ingest_calls, change, field, code):
    contract = ContractFactory()
    report = ingest_calls(contract, [{**CallRecordFactory(external_id="c-1"), **change}])
    assert reasons(report) == [rejection(0, "c-1", (field, code))]
    assert not Call.objects.filter(contract=contract).exists()


@pytest.mark.parametrize(
    ("external_id", "code"),
    [("", "invalid_length"), ("x" * 201, "invalid_length"), ("a\tb", "invalid_format")],
)
def test_a_bad_external_id_is_rejected_with_its_code(light_model, ingest_calls, external_id, code):
    report = ingest_calls(ContractFactory(), [CallRecordFactory(external_id=external_id)])
    assert reasons(report) == [rejection(0, external_id, ("external_id", code))]


def test_a_missing_required_field_is_rejected_as_required(light_model, ingest_calls):
    record = CallRecordFactory(external_id="c-1")
    del record["task_type"]
    report = ingest_calls(ContractFactory(), [record])
    assert reasons(report) == [rejection(0, "c-1", ("task_type", "required"))]


def test_text_holding_nul_is_rejected_per_record_and_the_rest_of_the_batch_is_kept(
    light_model, ingest_calls
):
    """PostgreSQL text and jsonb cannot store U+0000 (in task_ref it is a
    control character, refused by the schema before)."""
    contract = ContractFactory()
    report = ingest_calls(
        contract,
        [
            CallRecordFactory(external_id="c-0", task_type="review\x00"),
            CallRecordFactory(external_id="c-1"),
            CallRecordFactory(external_id="c-2", metadata={"k\x00": ["v"]}),
            CallRecordFactory(external_id="c-3", task_ref="\x00"),
        ],
    )
    assert report.accepted == 1
    assert reasons(report) == [
        rejection(0, "c-0", ("task_type", "nul_character")),
        rejection(2, "c-2", ("metadata", "nul_character")),
        rejection(3, "c-3", ("task_ref", "invalid_format")),
    ]
    assert list(Call.objects.filter(contract=contract).values_list("external_id", flat=True)) == [
        "c-1"
    ]


@pytest.mark.parametrize("occurred_at", ["9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00"])
def test_a_time_whose_utc_instant_falls_off_the_calendar_is_rejected_on_its_own(
    light_model, ingest_calls, ingest_outcomes, scheduled_contract, occurred_at
):
    bad_call = CallRecordFactory(
        external_id="c-0", occurred_at=occurred_at, reported_cost_usd="0.01"
    )
    bad_outcome = OutcomeRecordFactory(external_id="o-0", occurred_at=occurred_at)
    calls = ingest_calls(scheduled_contract, [bad_call, CallRecordFactory(external_id="c-1")])
    outcomes = ingest_outcomes(
        scheduled_contract, [bad_outcome, OutcomeRecordFactory(external_id="o-1")]
    )
    assert (calls.accepted, outcomes.accepted) == (1, 1)
    assert reasons(calls) == [rejection(0, "c-0", ("occurred_at", "out_of_range"))]
    assert reasons(outcomes) == [rejection(0, "o-0", ("occurred_at", "out_of_range"))]


def test_a_time_off_the_calendar_in_the_contracts_zone_only_is_rejected(light_model, ingest_calls):
    """23:30 UTC on 9999-12-31 is already year 10000 in Pacific/Kiritimati (+14)."""
    contract = ContractFactory(timezone="Pacific/Kiritimati")
    report = ingest_calls(
        contract, [CallRecordFactory(external_id="c-0", occurred_at="9999-12-31T23:30:00Z")]
    )
    assert reasons(report) == [rejection(0, "c-0", ("occurred_at", "out_of_range"))]


def test_a_reported_cost_with_exactly_ten_decimal_places_is_kept_exactly(
    light_model, ingest_one_call
):
    stored = ingest_one_call(ContractFactory(), CallRecordFactory(reported_cost_usd="0.0000000001"))
    assert stored.cost_usd == Decimal("0.0000000001")


# Outcomes -------------------------------------------------------------------


@pytest.fixture
def scheduled_contract(db):
    """Values: task_completed any 40, task_completed/code_review 55.
    Fees: task_completed any 0.99, task_completed/code_review 1.50.
    hourly_rate 150."""
    contract = ContractFactory(hourly_rate=Decimal("150"))
    ValueScheduleRowFactory(contract=contract, kind="task_completed", unit_value=Decimal(40))
    ValueScheduleRowFactory(
        contract=contract, kind="task_completed", task_type="code_review", unit_value=Decimal(55)
    )
    FeeScheduleRowFactory(contract=contract, kind="task_completed", fee=Decimal("0.99"))
    FeeScheduleRowFactory(
        contract=contract, kind="task_completed", task_type="code_review", fee=Decimal("1.50")
    )
    return contract


def stored_outcome(contract, external_id: str) -> Outcome:
    return Outcome.objects.get(contract=contract, external_id=external_id)


def test_an_outcome_kind_with_no_value_is_rejected_as_no_value(scheduled_contract, ingest_outcomes):
    report = ingest_outcomes(
        scheduled_contract, [OutcomeRecordFactory(external_id="o-1", kind="bugs_found")]
    )
    assert reasons(report) == [rejection(0, "o-1", ("kind", "no_value"))]
    assert not Outcome.objects.filter(contract=scheduled_contract).exists()


def test_hours_saved_without_a_schedule_row_are_valued_at_the_hourly_rate(
    scheduled_contract, ingest_outcomes
):
    """2.5 hours x 150 = 375; no fee row for hours_saved: fee 0."""
    report = ingest_outcomes(
        scheduled_contract,
        [OutcomeRecordFactory(external_id="o-1", kind="hours_saved", quantity="2.5")],
    )
    assert report.accepted == 1
    outcome = stored_outcome(scheduled_contract, "o-1")
    assert outcome.unit_value == Decimal("150.0000000000")
    assert outcome.value == Decimal("375.0000000000")
    assert outcome.fee == Decimal("0E-10")


def test_hours_saved_without_a_row_or_an_hourly_rate_are_rejected_as_no_value(ingest_outcomes):
    contract = ContractFactory(hourly_rate=None)
    report = ingest_outcomes(
        contract, [OutcomeRecordFactory(external_id="o-1", kind="hours_saved")]
    )
    assert reasons(report) == [rejection(0, "o-1", ("kind", "no_value"))]


def test_value_and_fee_come_from_the_task_type_row_before_the_any_row(
    scheduled_contract, ingest_outcomes
):
    """code_review: 2 x 55 = 110, fee 2 x 1.50 = 3; support (any row):
    2 x 40 = 80, fee 2 x 0.99 = 1.98."""
    report = ingest_outcomes(
        scheduled_contract,
        [
            OutcomeRecordFactory(external_id="review", task_type="code_review", quantity="2"),
            OutcomeRecordFactory(external_id="support", task_type="support", quantity="2"),
        ],
    )
    assert report.accepted == 2
    review = stored_outcome(scheduled_contract, "review")
    support = stored_outcome(scheduled_contract, "support")
    assert (review.unit_value, review.value) == (Decimal(55), Decimal("110.0000000000"))
    assert (review.unit_fee, review.fee) == (Decimal("1.5"), Decimal("3.0000000000"))
    assert (support.unit_value, support.value) == (Decimal(40), Decimal("80.0000000000"))
    assert (support.unit_fee, support.fee) == (Decimal("0.99"), Decimal("1.9800000000"))


@pytest.mark.parametrize(
    ("quantity", "code"),
    [("0.00000000001", "too_precise"), ("-1", "out_of_range"), ("Infinity", "invalid")],
)
def test_a_bad_quantity_is_rejected_with_its_code(
    scheduled_contract, ingest_outcomes, quantity, code
):
    report = ingest_outcomes(
        scheduled_contract, [OutcomeRecordFactory(external_id="o-1", quantity=quantity)]
    )
    assert reasons(report) == [rejection(0, "o-1", ("quantity", code))]


def test_a_quantity_with_ten_decimal_places_is_valued_to_ten_places(
    scheduled_contract, ingest_outcomes
):
    """0.3333333333 x 40 (support: any row) = 13.3333333320; fee
    0.3333333333 x 0.99 = 0.329999999967 -> 0.3300000000 (10 places)."""
    ingest_outcomes(
        scheduled_contract,
        [OutcomeRecordFactory(external_id="o-1", task_type="support", quantity="0.3333333333")],
    )
    outcome = stored_outcome(scheduled_contract, "o-1")
    assert outcome.quantity == Decimal("0.3333333333")
    assert outcome.value == Decimal("13.3333333320")
    assert outcome.fee == Decimal("0.3300000000")


# Idempotency -----------------------------------------------------------------

OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
# Within the contract's life (tests.factories: from 2026-01-01, open-ended).
TIMES = st.datetimes(
    min_value=datetime(2026, 1, 2), max_value=datetime(2030, 1, 1), timezones=OFFSETS
)
# Any text UTF-8 JSON carries and PostgreSQL stores (it refuses U+0000, tested above).
STORABLE = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
TEXT = st.text(STORABLE, max_size=12)
# Task refs: visible characters only, in NFC (DESIGN.md "Trust between the parties").
REF_TEXT = st.text(
    st.characters(exclude_categories=["Cs", "Cc", "Cf", "Zl", "Zp"]), max_size=12
).map(lambda text: unicodedata.normalize("NFC", text))
METADATA = st.dictionaries(
    TEXT, st.none() | st.booleans() | st.integers(-(10**6), 10**6) | TEXT, max_size=3
)
AMOUNTS = st.decimals(min_value=0, max_value=10**6, places=10).map(str)


@st.composite
def call_records(draw) -> dict:
    input_tokens = draw(st.integers(0, 10**7))
    cache_read = draw(st.integers(0, input_tokens))
    cache_write = draw(st.integers(0, input_tokens - cache_read))
    output_tokens = draw(st.integers(0, 10**6))
    return {
        "occurred_at": draw(TIMES).isoformat(),
        "model": "gpt-4o-mini",
        "task_type": draw(st.text(STORABLE, min_size=1, max_size=20)),
        "task_ref": draw(st.none() | REF_TEXT),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "cache_write_1h_tokens": draw(st.integers(0, cache_write)),
        "reasoning_tokens": draw(st.integers(0, output_tokens)),
        "service_tier": draw(st.sampled_from(["standard", "batch", "flex", "priority"])),
        "reported_cost_usd": draw(st.none() | AMOUNTS),
        "latency_ms": draw(st.none() | st.integers(0, 10**6)),
        "success": draw(st.booleans()),
        "policy_version": draw(st.none() | st.integers(0, 1000)),
        "metadata": draw(METADATA),
    }


@st.composite
def outcome_records(draw) -> dict:
    return {
        "occurred_at": draw(TIMES).isoformat(),
        "kind": draw(st.sampled_from(["task_completed", "hours_saved"])),
        "task_type": draw(st.sampled_from(["code_review", "support"])),
        "task_ref": draw(st.none() | REF_TEXT),
        "quantity": draw(AMOUNTS),
        "source": draw(st.sampled_from(["vendor", "customer"])),
        "metadata": draw(METADATA),
    }


def numbered(records: list[dict]) -> list[dict]:
    return [{"external_id": f"r-{i}", **record} for i, record in enumerate(records)]


def charges_by_local_day(model, contract, amount: str) -> dict:
    """The stored ``amount`` of the contract's records, summed per day in the
    contract's time zone: what ingestion meters (DESIGN.md "Spend limits and
    alerts")."""
    sums = defaultdict(Decimal)
    for occurred_at, value in model.objects.filter(contract=contract).values_list(
        "occurred_at", amount
    ):
        sums[occurred_at.astimezone(contract.tz).date()] += value
    return dict(sums)


@PROPERTY
@given(records=st.lists(call_records(), min_size=1, max_size=8))
def test_ingesting_a_batch_of_calls_twice_equals_ingesting_it_once(
    light_model, ingest_calls, stored_rows, records
):
    contract = ContractFactory()
    batch = numbered(records)
    first = ingest_calls(contract, batch)
    once = stored_rows("ledger_call", contract)
    second = ingest_calls(contract, batch)
    assert first.as_dict() == {"accepted": len(batch), "duplicates": 0, "rejected": []}
    assert second.as_dict() == {"accepted": 0, "duplicates": len(batch), "rejected": []}
    assert stored_rows("ledger_call", contract) == once
    assert len(once) == len(batch)
    assert first.charges_by_day == charges_by_local_day(Call, contract, "charge")
    assert second.charges_by_day == {}


@PROPERTY
@given(records=st.lists(outcome_records(), min_size=1, max_size=8))
def test_ingesting_a_batch_of_outcomes_twice_equals_ingesting_it_once(
    ingest_outcomes, stored_rows, records
):
    contract = ContractFactory(hourly_rate=Decimal("150"))
    ValueScheduleRowFactory(contract=contract, kind="task_completed", unit_value=Decimal(40))
    batch = numbered(records)
    first = ingest_outcomes(contract, batch)
    once = stored_rows("ledger_outcome", contract)
    second = ingest_outcomes(contract, batch)
    assert first.as_dict() == {"accepted": len(batch), "duplicates": 0, "rejected": []}
    assert second.as_dict() == {"accepted": 0, "duplicates": len(batch), "rejected": []}
    assert stored_rows("ledger_outcome", contract) == once
    assert first.charges_by_day == charges_by_local_day(Outcome, contract, "fee")
    assert second.charges_by_day == {}


def with_room(record: dict) -> dict:
    """The call with room for one more token in every count: input and
    output above their parts, cache writes above their 1-hour part."""
    return {
        **record,
        "input_tokens": record["input_tokens"] + 2,
        "cache_write_tokens": record["cache_write_tokens"] + 1,
        "output_tokens": record["output_tokens"] + 1,
    }


def one_more(name: str):
    return lambda r: {**r, name: r[name] + 1}


# One change per field of a record but its external id, each keeping the
# record valid.
CALL_CHANGES = {
    "occurred_at": lambda r: {
        **r,
        "occurred_at": (
            datetime.fromisoformat(r["occurred_at"]) + timedelta(microseconds=1)
        ).isoformat(),
    },
    "model": lambda r: {**r, "model": "other-model"},
    "task_type": lambda r: {**r, "task_type": r["task_type"] + "!"},
    "task_ref": lambda r: {**r, "task_ref": (r["task_ref"] or "") + "!"},
    "input_tokens": one_more("input_tokens"),
    "output_tokens": one_more("output_tokens"),
    "cache_read_tokens": one_more("cache_read_tokens"),
    "cache_write_tokens": one_more("cache_write_tokens"),
    "cache_write_1h_tokens": one_more("cache_write_1h_tokens"),
    "reasoning_tokens": one_more("reasoning_tokens"),
    "service_tier": lambda r: {
        **r,
        "service_tier": "flex" if r["service_tier"] != "flex" else "standard",
    },
    "reported_cost_usd": lambda r: {
        **r,
        "reported_cost_usd": str(Decimal(r["reported_cost_usd"] or 0) + Decimal("1E-10")),
    },
    "latency_ms": lambda r: {**r, "latency_ms": (r["latency_ms"] or 0) + 1},
    "success": lambda r: {**r, "success": not r["success"]},
    "policy_version": lambda r: {**r, "policy_version": (r["policy_version"] or 0) + 1},
    "route_id": lambda r: {**r, "route_id": "rt-2" if r["route_id"] == "rt-1" else "rt-1"},
    "metadata": lambda r: {**r, "metadata": {**r["metadata"], "changed": True}},
}

OUTCOME_CHANGES = {
    "occurred_at": CALL_CHANGES["occurred_at"],
    "kind": lambda r: {
        **r,
        "kind": "hours_saved" if r["kind"] == "task_completed" else "task_completed",
    },
    "task_type": lambda r: {**r, "task_type": r["task_type"] + "!"},
    "task_ref": CALL_CHANGES["task_ref"],
    "quantity": lambda r: {**r, "quantity": str(Decimal(r["quantity"]) + Decimal("1E-10"))},
    "source": lambda r: {**r, "source": "vendor" if r["source"] == "customer" else "customer"},
    "metadata": CALL_CHANGES["metadata"],
}


def test_the_conflict_properties_change_every_field_of_a_record():
    """DESIGN.md "Ingestion rules": other content is a conflict, and every
    field of a record is content (the fingerprint covers each one); the
    properties below change each field on its own."""
    assert set(CALL_CHANGES) == set(CallIn.__struct_fields__) - {"external_id"}
    assert set(OUTCOME_CHANGES) == set(OutcomeIn.__struct_fields__) - {"external_id"}


@pytest.fixture
def other_model(db):
    return PriceFactory(llm_model=LlmModelFactory(name="other-model")).llm_model


def routed_contract(model, route_ids: tuple[str, ...] = ("rt-1", "rt-2"), **terms) -> object:
    """A contract with routing decisions that its calls may name."""
    contract = ContractFactory(**terms)
    for route_id in route_ids:
        RouteDecision.objects.create(
            contract=contract,
            route_id=route_id,
            task_type="code_review",
            key="",
            policy_version=1,
            llm_model=model,
            probability=Decimal("0.5"),
            explored=False,
        )
    return contract


@PROPERTY
@given(
    record=call_records().map(with_room),
    route_id=st.none() | st.just("rt-1"),
    change=st.sampled_from(sorted(CALL_CHANGES)),
)
def test_a_call_with_a_known_external_id_is_a_duplicate_when_identical_else_a_conflict(
    light_model, other_model, ingest_calls, stored_rows, record, route_id, change
):
    contract = routed_contract(light_model)
    original = {"external_id": "c-1", **record, "route_id": route_id}
    changed = CALL_CHANGES[change](original)
    ingest_calls(contract, [original])
    before = stored_rows("ledger_call", contract)

    conflict = ingest_calls(contract, [changed])
    resent = ingest_calls(contract, [original])
    in_one_batch = ingest_calls(routed_contract(light_model), [original, changed])

    assert (conflict.accepted, conflict.duplicates) == (0, 0)
    assert reasons(conflict) == [rejection(0, "c-1", ("external_id", "conflict"))]
    assert resent.as_dict() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert stored_rows("ledger_call", contract) == before
    assert (in_one_batch.accepted, in_one_batch.duplicates) == (1, 0)
    assert reasons(in_one_batch) == [rejection(1, "c-1", ("external_id", "conflict"))]


def valued_contract() -> object:
    contract = ContractFactory(hourly_rate=Decimal("150"))
    ValueScheduleRowFactory(contract=contract, kind="task_completed", unit_value=Decimal(40))
    return contract


@PROPERTY
@given(record=outcome_records(), change=st.sampled_from(sorted(OUTCOME_CHANGES)))
def test_an_outcome_with_a_known_external_id_is_a_duplicate_when_identical_else_a_conflict(
    ingest_outcomes, stored_rows, record, change
):
    contract = valued_contract()
    original = {"external_id": "o-1", **record}
    changed = OUTCOME_CHANGES[change](original)
    ingest_outcomes(contract, [original])
    before = stored_rows("ledger_outcome", contract)

    conflict = ingest_outcomes(contract, [changed])
    resent = ingest_outcomes(contract, [original])
    in_one_batch = ingest_outcomes(valued_contract(), [original, changed])

    assert (conflict.accepted, conflict.duplicates) == (0, 0)
    assert reasons(conflict) == [rejection(0, "o-1", ("external_id", "conflict"))]
    assert resent.as_dict() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert stored_rows("ledger_outcome", contract) == before
    assert (in_one_batch.accepted, in_one_batch.duplicates) == (1, 0)
    assert reasons(in_one_batch) == [rejection(1, "o-1", ("external_id", "conflict"))]


# A call and an outcome with every field set (NFD ids, an offset, an amount
# written with a trailing zero, nested metadata), and the rows the previous
# version of ledger.services stored for them, fingerprints included: rows
# already in a database must still be recognised when they are re-sent.
PINNED_CALL = {
    "external_id": "pin-e\u0301",
    "occurred_at": "2026-11-03T11:15:00.123456+02:00",
    "model": "gpt-4o-mini",
    "task_type": "code_review",
    "task_ref": "PR-8\u0301",
    "input_tokens": 1200,
    "output_tokens": 300,
    "cache_read_tokens": 100,
    "cache_write_tokens": 50,
    "cache_write_1h_tokens": 20,
    "reasoning_tokens": 40,
    "service_tier": "flex",
    "reported_cost_usd": "0.00150",
    "latency_ms": 830,
    "success": False,
    "policy_version": 3,
    "route_id": "rt-pin",
    "metadata": {"z": [1, "two", None], "a": {"nested": True}, "\u00e9": 1.5},
}
PINNED_CALL_ROW = {
    "external_id": "pin-\u00e9",
    "occurred_at": datetime(2026, 11, 3, 9, 15, 0, 123456, tzinfo=UTC),
    "task_type": "code_review",
    "task_ref": "PR-8\u0301",
    "input_tokens": 1200,
    "output_tokens": 300,
    "cache_read_tokens": 100,
    "cache_write_tokens": 50,
    "cache_write_1h_tokens": 20,
    "reasoning_tokens": 40,
    "service_tier": "flex",
    "reported_cost_usd": Decimal("0.0015000000"),
    "computed_cost_usd": Decimal("0.0003525000"),
    "cost_usd": Decimal("0.0015000000"),
    "charge": Decimal("0.0018000000"),
    "baseline_cost_usd": Decimal("0.0015000000"),
    "latency_ms": 830,
    "success": False,
    "policy_version": 3,
    "route_id": "rt-pin",
    "metadata": {"a": {"nested": True}, "z": [1, "two", None], "\u00e9": 1.5},
    "fingerprint": bytes.fromhex("4b6cbb6e0b82561b753c54ad41465a1d"),
}
PINNED_OUTCOME = {
    "external_id": "pin-o",
    "occurred_at": "2026-11-03T17:00:00-05:00",
    "kind": "task_completed",
    "task_type": "code_review",
    "task_ref": None,
    "quantity": "2.50",
    "source": "customer",
    "metadata": {"b": 2, "a": 1},
}
PINNED_OUTCOME_ROW = {
    "external_id": "pin-o",
    "occurred_at": datetime(2026, 11, 3, 22, 0, tzinfo=UTC),
    "kind": "task_completed",
    "task_type": "code_review",
    "task_ref": None,
    "quantity": Decimal("2.5000000000"),
    "unit_value": Decimal("40.0000000000"),
    "value": Decimal("100.0000000000"),
    "unit_fee": Decimal("0E-10"),
    "fee": Decimal("0E-10"),
    "source": "customer",
    "metadata": {"a": 1, "b": 2},
    "fingerprint": bytes.fromhex("b833c178b42c952f6956f7a71d7c8e56"),
}


def test_a_call_and_an_outcome_are_stored_column_for_column_as_the_previous_version_did(
    light_model, ingest_calls, ingest_outcomes
):
    contract = routed_contract(light_model, ("rt-pin",), markup=Decimal("0.2"))
    ValueScheduleRowFactory(contract=contract, kind="task_completed", unit_value=Decimal(40))

    assert ingest_calls(contract, [PINNED_CALL]).accepted == 1
    assert ingest_outcomes(contract, [PINNED_OUTCOME]).accepted == 1

    call = Call.objects.values(*CALL_COLUMNS).get(contract=contract)
    outcome = Outcome.objects.values(*OUTCOME_COLUMNS).get(contract=contract)
    assert {k: bytes(v) if k == "fingerprint" else v for k, v in call.items()} == {
        "contract_id": contract.id,
        "llm_model_id": light_model.id,
        "price_id": light_model.prices.get().id,
        **PINNED_CALL_ROW,
    }
    assert {k: bytes(v) if k == "fingerprint" else v for k, v in outcome.items()} == {
        "contract_id": contract.id,
        **PINNED_OUTCOME_ROW,
    }


@pytest.mark.parametrize(
    ("first", "again"),
    [
        ({"reported_cost_usd": "1.5"}, {"reported_cost_usd": "1.50"}),
        ({"reported_cost_usd": "2"}, {"reported_cost_usd": 2}),
        ({"occurred_at": "2026-11-03T09:15:00Z"}, {"occurred_at": "2026-11-03T11:15:00+02:00"}),
        ({"metadata": {"a": 1, "b": 2}}, {"metadata": {"b": 2, "a": 1}}),
        ({"model": "gpt-4o-mini"}, {"model": "gpt-4o-mini-2024-07-18"}),
        ({}, {"cache_read_tokens": 0, "service_tier": "standard", "metadata": {}}),
    ],
)
def test_the_same_call_written_another_way_is_a_duplicate(
    light_model, ingest_calls, stored_rows, first, again
):
    light_model.aliases.create(alias="gpt-4o-mini-2024-07-18")
    contract = ContractFactory()
    ingest_calls(contract, [CallRecordFactory(external_id="c-1", **first)])
    before = stored_rows("ledger_call", contract)
    report = ingest_calls(contract, [CallRecordFactory(external_id="c-1", **again)])
    assert report.as_dict() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert stored_rows("ledger_call", contract) == before


def test_a_call_resent_after_a_price_change_is_a_duplicate_and_keeps_its_cost(
    light_model, ingest_calls, stored_rows
):
    contract = ContractFactory()
    record = CallRecordFactory(external_id="c-1", occurred_at="2026-11-03T09:15:00Z")
    ingest_calls(contract, [record])
    before = stored_rows("ledger_call", contract)
    PriceFactory(
        llm_model=light_model,
        effective_from=datetime(2026, 11, 1, tzinfo=UTC),
        input=Decimal(9),
        output=Decimal(9),
    )
    report = ingest_calls(contract, [record])
    assert report.as_dict() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert stored_rows("ledger_call", contract) == before


def test_the_same_outcome_quantity_written_another_way_is_a_duplicate(
    scheduled_contract, ingest_outcomes
):
    ingest_outcomes(scheduled_contract, [OutcomeRecordFactory(external_id="o-1", quantity="1")])
    report = ingest_outcomes(
        scheduled_contract, [OutcomeRecordFactory(external_id="o-1", quantity="1.000")]
    )
    assert report.as_dict() == {"accepted": 0, "duplicates": 1, "rejected": []}


def test_a_repeat_inside_one_batch_is_a_duplicate_and_a_changed_repeat_a_conflict(
    light_model, ingest_calls
):
    contract = ContractFactory()
    original = CallRecordFactory(external_id="c-1", output_tokens=300)
    report = ingest_calls(contract, [original, dict(original), {**original, "output_tokens": 301}])
    assert (report.accepted, report.duplicates) == (1, 1)
    assert reasons(report) == [rejection(2, "c-1", ("external_id", "conflict"))]
    assert Call.objects.get(contract=contract, external_id="c-1").output_tokens == 300


def test_the_same_external_id_in_two_contracts_is_two_records(light_model, ingest_calls):
    first, second = ContractFactory(), ContractFactory()
    record = CallRecordFactory(external_id="shared")
    assert ingest_calls(first, [record]).accepted == 1
    assert ingest_calls(second, [{**record, "output_tokens": 1}]).accepted == 1


def test_a_record_outside_the_contracts_life_is_rejected_on_its_own(
    light_model, ingest_calls, ingest_outcomes, scheduled_contract
):
    """No period would ever count it: the contract starts on 2026-01-01."""
    calls = ingest_calls(
        scheduled_contract,
        [
            CallRecordFactory(external_id="c-before", occurred_at="2025-12-31T23:59:59Z"),
            CallRecordFactory(external_id="c-in", occurred_at="2026-01-01T00:00:00Z"),
        ],
    )
    outcomes = ingest_outcomes(
        scheduled_contract,
        [OutcomeRecordFactory(external_id="o-before", occurred_at="2025-06-01T00:00:00Z")],
    )

    assert calls.accepted == 1
    assert reasons(calls) == [rejection(0, "c-before", ("occurred_at", "outside_contract"))]
    assert reasons(outcomes) == [rejection(0, "o-before", ("occurred_at", "outside_contract"))]


def test_an_amount_too_large_to_store_rejects_only_its_record(
    light_model, ingest_outcomes, scheduled_contract
):
    """quantity 10^18 x unit value 40 is 4 x 10^19 (stored); x 1000 is not."""
    report = ingest_outcomes(
        scheduled_contract,
        [
            OutcomeRecordFactory(external_id="o-big", quantity="1000000000000000000"),
            OutcomeRecordFactory(external_id="o-bigger", quantity="9000000000000000000"),
            OutcomeRecordFactory(external_id="o-small", quantity="1"),
        ],
    )

    assert report.accepted == 2
    assert reasons(report) == [rejection(1, "o-bigger", ("quantity", "out_of_range"))]
