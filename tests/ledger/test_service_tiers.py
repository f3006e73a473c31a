"""A call's service tier is one of the price book's (routing.models.ServiceTier,
DESIGN.md "Price book"), whether it comes as a record or as an OTLP span."""

import msgspec

from core.batch import decode_batch
from ledger.otlp import Span, spans_to_calls
from ledger.records import CallIn
from routing.models import ServiceTier

NOV_3 = 1793697300000000000  # 2026-11-03T09:15:00Z


def call(external_id: str, **change) -> dict:
    return {
        "external_id": external_id,
        "occurred_at": "2026-11-03T09:15:00Z",
        "model": "gpt-4o-mini",
        "task_type": "code_review",
        "input_tokens": 1200,
        "output_tokens": 300,
        **change,
    }


def decoded(records: list[dict]):
    return decode_batch(msgspec.json.encode({"records": records}), record_type=CallIn)


def test_every_tier_of_the_price_book_is_a_tier_a_call_may_carry_as_plain_text():
    batch = decoded([call(f"c-{tier}", service_tier=tier) for tier in ServiceTier.values])

    assert batch.rejected == []
    assert [(type(r.service_tier), r.service_tier) for _, r in batch.records] == [
        (str, "standard"),
        (str, "batch"),
        (str, "flex"),
        (str, "priority"),
    ]


def test_a_call_without_a_tier_is_standard():
    [(_, record)] = decoded([call("c-1")]).records

    assert (type(record.service_tier), record.service_tier) == (str, "standard")


def test_a_tier_the_price_book_does_not_know_is_refused_naming_the_field_and_the_value():
    batch = decoded([call("c-1", service_tier="economy")])

    assert [r.as_dict() for r in batch.rejected] == [
        {
            "index": 0,
            "external_id": "c-1",
            "errors": [
                {
                    "field": "service_tier",
                    "code": "invalid",
                    "message": "Invalid enum value 'economy'",
                }
            ],
        }
    ]


def span(number: int, tier) -> Span:
    return Span(
        trace_id="01" * 16,
        span_id=f"{number:016x}",
        start_ns=NOV_3,
        end_ns=NOV_3,
        failed=False,
        attributes={
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.openai.response.service_tier": tier,
        },
    )


def test_a_span_keeps_a_price_book_tier_and_reads_any_other_as_standard():
    """docs/OTLP.md: OpenAI's "default", or an array, is no tier of the price book."""
    tiers = [*ServiceTier.values, "default", ["flex"]]

    batch = spans_to_calls([span(n, tier) for n, tier in enumerate(tiers)])

    assert batch.rejected == []
    assert [r.service_tier for _, r in batch.records] == [
        "standard",
        "batch",
        "flex",
        "priority",
        "standard",
        "standard",
    ]
