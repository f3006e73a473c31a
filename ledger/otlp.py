"""OpenTelemetry GenAI spans as calls (API.md "Ingestion": OpenTelemetry).

OTLP/HTTP arrives as protobuf (what the SDK exporters send) or as OTLP/JSON
(camelCase, ids in hex, 64-bit integers as strings). Both are read into one
plain span view, then each span with ``gen_ai.*`` usage becomes a CallIn:
``external_id`` = span id; ``task_type`` / ``task_ref`` from the
``outcome_ledger.*`` attributes, else ``gen_ai.operation.name`` and the trace
id. docs/OTLP.md lists every attribute read, current and deprecated names.
"""

import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from django.conf import settings
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from core.batch import DecodedBatch, FieldError, Rejection, check_size, field_error
from core.errors import BatchTooLarge, ErrorCode, InvalidInput
from ledger.records import CallIn
from routing.models import ServiceTier

# First name present wins: the current semantic convention, then older ones.
INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.input_tokens.cached",
)
CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.cache_write_input_tokens",
)
REASONING = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.output_tokens.reasoning",
    "gen_ai.usage.reasoning_tokens",
)
MODEL = ("gen_ai.response.model", "gen_ai.request.model")
SERVICE_TIER = ("gen_ai.openai.response.service_tier", "openai.response.service_tier")
STATUS_ERROR = 2


@dataclass(frozen=True, slots=True)
class Span:
    trace_id: str
    span_id: str
    start_ns: int
    end_ns: int
    failed: bool
    attributes: dict[str, Any]


def _value_from_proto(value) -> Any:
    """A plain Python value: an array or a key-value list becomes a list or
    a dict (not a protobuf message), so that a field given one where a
    string is expected is rejected by the record's schema like any value."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value_from_proto(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value_from_proto(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return None if kind is None else getattr(value, kind)


def _spans_from_protobuf(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise InvalidInput(
            f"the body is not an OTLP protobuf request: {exc}", code=ErrorCode.MALFORMED
        ) from exc
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value_from_proto(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = resource | {a.key: _value_from_proto(a.value) for a in span.attributes}
                spans.append(
                    Span(
                        span.trace_id.hex(),
                        span.span_id.hex(),
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        span.status.code == STATUS_ERROR,
                        attributes,
                    )
                )
    return spans


def _value_from_json(value: dict) -> Any:
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_value_from_json(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _attributes_from_json(value["kvlistValue"].get("values", []))
    return None


def _attributes_from_json(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        raise InvalidInput("attributes must be a list of {key, value}", code=ErrorCode.MALFORMED)
    return {item["key"]: _value_from_json(item.get("value") or {}) for item in items}


def _spans_from_json(body: bytes) -> list[Span]:
    try:
        data = msgspec.json.decode(body)
        spans = []
        for resource_spans in data.get("resourceSpans", []):
            resource = _attributes_from_json(
                (resource_spans.get("resource") or {}).get("attributes", [])
            )
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    spans.append(
                        Span(
                            str(span["traceId"]).lower(),
                            str(span["spanId"]).lower(),
                            int(span["startTimeUnixNano"]),
                            int(span.get("endTimeUnixNano", 0)),
                            (span.get("status") or {}).get("code")
                            in (STATUS_ERROR, "STATUS_CODE_ERROR"),
                            resource | _attributes_from_json(span.get("attributes", [])),
                        )
                    )
        return spans
    except msgspec.ValidationError as exc:
        raise InvalidInput(
            f"the body holds a number out of range: {exc}", code=ErrorCode.OUT_OF_RANGE
        ) from exc
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}", code=ErrorCode.MALFORMED) from exc
    except RecursionError as exc:
        raise InvalidInput("the body is nested too deep to read", code=ErrorCode.TOO_DEEP) from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(
            f"the body is not an OTLP/JSON traces request: {exc!r}", code=ErrorCode.MALFORMED
        ) from exc


def _gunzip(body: bytes) -> bytes:
    """Decompressed, but never past the size an uncompressed body may have:
    a few KB of gzip can otherwise expand to gigabytes."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput("the body is not valid gzip", code=ErrorCode.MALFORMED) from exc
    if len(data) > limit:
        raise BatchTooLarge(f"the body decompresses to more than {limit} bytes")
    return data


def spans_decode(body: bytes, *, content_type: str, content_encoding: str = "") -> list[Span]:
    if content_encoding == "gzip":
        body = _gunzip(body)
    if content_type == "application/x-protobuf":
        return _spans_from_protobuf(body)
    return _spans_from_json(body)


def _first(attributes: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((attributes[n] for n in names if attributes.get(n) is not None), None)


def _instant(unix_nano: int) -> datetime | None:
    """Exact to the microsecond (a float of nanoseconds is not), truncated
    below it; None when the instant lies outside the calendar (years 1 to
    9999)."""
    seconds, nanos = divmod(unix_nano, 1_000_000_000)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC) + timedelta(microseconds=nanos // 1000)
    except (OverflowError, ValueError, OSError):
        return None


def _call_from_span(span: Span) -> dict[str, Any] | None:
    """A call record (wire shape) for a span with gen_ai token usage; None
    for any other span."""
    a = span.attributes
    input_tokens, output_tokens = _first(a, INPUT_TOKENS), _first(a, OUTPUT_TOKENS)
    if input_tokens is None and output_tokens is None:
        return None
    tier = _first(a, SERVICE_TIER)
    policy_version = a.get("outcome_ledger.policy_version")
    started = _instant(span.start_ns)
    raw = {
        "external_id": span.span_id,
        "occurred_at": None if started is None else started.isoformat(),
        "model": _first(a, MODEL),
        "task_type": a.get("outcome_ledger.task_type") or a.get("gen_ai.operation.name"),
        "task_ref": a.get("outcome_ledger.task_ref") or span.trace_id,
        "input_tokens": input_tokens or 0,
        "output_tokens": output_tokens or 0,
        "cache_read_tokens": _first(a, CACHE_READ) or 0,
        "cache_write_tokens": _first(a, CACHE_WRITE) or 0,
        "reasoning_tokens": _first(a, REASONING) or 0,
        # docs/OTLP.md: an unknown or non-string tier reads as standard.
        "service_tier": tier if tier in ServiceTier.values else ServiceTier.STANDARD.value,
        "latency_ms": max(0, (span.end_ns - span.start_ns) // 1_000_000) if span.end_ns else None,
        "success": not span.failed,
        "policy_version": policy_version,
        "route_id": a.get("outcome_ledger.route_id"),
        "metadata": {
            "trace_id": span.trace_id,
            "gen_ai.provider.name": a.get("gen_ai.provider.name") or a.get("gen_ai.system"),
        },
    }
    return raw


_FIELD_PATH = re.compile(r" - at `\$\.(\w+)")


def _span_error(exc: msgspec.ValidationError) -> FieldError:
    """The field a span's value failed, with the code an ingested record
    would get (e.g. an array attribute where the record has a string)."""
    path = _FIELD_PATH.search(str(exc))
    return field_error(path.group(1) if path else "", exc)


def spans_to_calls(spans: list[Span]) -> DecodedBatch[CallIn]:
    """Every gen_ai span as a call record, validated like any ingested record."""
    check_size(len(spans))
    batch: DecodedBatch[CallIn] = DecodedBatch()
    for index, span in enumerate(spans):
        raw = _call_from_span(span)
        if raw is None:
            continue
        missing = [
            FieldError(field, ErrorCode.REQUIRED, f"the span has no {source}")
            for field, source in (
                ("model", "gen_ai.request.model"),
                ("task_type", "outcome_ledger.task_type or gen_ai.operation.name"),
            )
            if not raw[field]
        ]
        if raw["occurred_at"] is None:
            missing.append(
                FieldError(
                    "occurred_at",
                    ErrorCode.OUT_OF_RANGE,
                    f"startTimeUnixNano {span.start_ns} lies outside the years 1 to 9999",
                )
            )
        if missing:
            batch.rejected.append(Rejection(index, raw["external_id"], missing))
            continue
        try:
            batch.records.append((index, msgspec.convert(raw, CallIn)))
        except msgspec.ValidationError as exc:
            batch.rejected.append(Rejection(index, raw["external_id"], [_span_error(exc)]))
    return batch
