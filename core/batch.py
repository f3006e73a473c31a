"""Decoding of ingestion batches (DESIGN.md "Ingestion rules", API.md "Ingestion").

The fast path decodes the whole batch straight into typed records with
msgspec. Only when that fails is the batch decoded again record by record and
field by field, so that every bad record is reported by index with every
reason, and every good record is kept.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from core.errors import BatchTooLarge, InvalidInput

MAX_RECORDS = 5000

R = TypeVar("R", bound=msgspec.Struct)


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass(slots=True)
class Rejection:
    index: int
    external_id: str | None
    errors: list[FieldError]

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "external_id": self.external_id,
            "errors": [e.as_dict() for e in self.errors],
        }


@dataclass(slots=True)
class DecodedBatch(Generic[R]):
    """Records that passed the schema, with their index in the batch."""

    records: list[tuple[int, R]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @classmethod
    def of(cls, records: list[R]) -> "DecodedBatch[R]":
        return cls(records=list(enumerate(records)))


class _Envelope(msgspec.Struct, Generic[R]):
    records: list[R]


class _RawEnvelope(msgspec.Struct):
    records: list[msgspec.Raw]


_MSGSPEC_PATH = re.compile(r" - at `\$[^`]*`$")


def _error_code(message: str) -> str:
    # Length first: "Expected `str` of length >= 1" is a length, not a range.
    if "timezone component" in message:
        return "naive_datetime"
    if message.startswith("Expected") and "length" in message:
        return "invalid_length"
    if message.startswith("Expected") and ("<=" in message or ">=" in message):
        return "out_of_range"
    if message.startswith("Expected") and "matching regex" in message:
        return "invalid_format"
    if message.startswith("Expected"):
        return "invalid_type"
    return "invalid"


def _field_errors(raw: Any, record_type: type[R]) -> list[FieldError]:
    if not isinstance(raw, dict):
        return [FieldError("", "invalid_type", "a record must be a JSON object")]
    errors: list[FieldError] = []
    known = set()
    for info in msgspec.structs.fields(record_type):
        known.add(info.name)
        if info.name not in raw:
            if info.required:
                errors.append(FieldError(info.name, "required", "this field is required"))
            continue
        try:
            msgspec.convert(raw[info.name], info.type)
        except msgspec.ValidationError as exc:
            message = _MSGSPEC_PATH.sub("", str(exc))
            errors.append(FieldError(info.name, _error_code(message), message))
    errors.extend(
        FieldError(name, "unknown_field", f"unknown field '{name}'")
        for name in sorted(set(raw) - known)
    )
    return errors


def _external_id_of(raw: Any) -> str | None:
    value = raw.get("external_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def _split_ndjson(body: bytes) -> list[bytes]:
    return [line for line in body.splitlines() if line.strip()]


def decode_batch(body: bytes, *, record_type: type[R], ndjson: bool = False) -> DecodedBatch[R]:
    """Decode a JSON ``{"records": [...]}`` body or an NDJSON body.

    Raises InvalidInput when the batch itself does not parse and BatchTooLarge
    (nothing is stored) above MAX_RECORDS records.
    """
    batch = _decode(body, record_type=record_type, ndjson=ndjson)
    # JSON can only carry U+0000 escaped; most batches skip the walk.
    return _reject_nul(batch) if b"\\u0000" in body else batch


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _reject_nul(batch: DecodedBatch[R]) -> DecodedBatch[R]:
    """PostgreSQL text and jsonb cannot hold U+0000: such a record is rejected
    on its own here, instead of failing the COPY of the whole batch."""
    kept: list[tuple[int, R]] = []
    for index, record in batch.records:
        errors = [
            FieldError(name, "nul_character", f"{name} contains U+0000, which cannot be stored")
            for name in record.__struct_fields__
            if _holds_nul(getattr(record, name))
        ]
        if errors:
            batch.rejected.append(Rejection(index, getattr(record, "external_id", None), errors))
        else:
            kept.append((index, record))
    batch.records = kept
    batch.rejected.sort(key=lambda r: r.index)
    return batch


def _decode(body: bytes, *, record_type: type[R], ndjson: bool) -> DecodedBatch[R]:
    if ndjson:
        lines = _split_ndjson(body)
        check_size(len(lines))
        try:
            return DecodedBatch.of(
                msgspec.json.decode(b"[" + b",".join(lines) + b"]", type=list[record_type])
            )
        except msgspec.DecodeError:
            for number, line in enumerate(lines, start=1):
                try:
                    msgspec.json.decode(line)
                except msgspec.DecodeError as exc:
                    raise InvalidInput(
                        f"line {number} is not JSON: {exc}", code="malformed"
                    ) from exc
            return _decode_slowly(lines, record_type)
    try:
        decoded = msgspec.json.decode(body, type=_Envelope[record_type])
        check_size(len(decoded.records))
        return DecodedBatch.of(decoded.records)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}", code="malformed") from exc
    try:
        envelope = msgspec.json.decode(body, type=_RawEnvelope)
    except msgspec.ValidationError as exc:
        raise InvalidInput('the body must be {"records": [...]}', code="malformed") from exc
    check_size(len(envelope.records))
    return _decode_slowly(envelope.records, record_type)


def check_size(count: int) -> None:
    if count > MAX_RECORDS:
        raise BatchTooLarge(
            f"a batch holds at most {MAX_RECORDS} records; this one has {count}",
            details={"max_records": MAX_RECORDS, "records": count},
        )


def _decode_slowly(raws: list[bytes | msgspec.Raw], record_type: type[R]) -> DecodedBatch[R]:
    """Each record from its own JSON text, as the fast path reads it (a JSON
    number amount keeps every digit; through a float it would not); a bad
    record is then taken apart field by field to report every reason."""
    batch: DecodedBatch[R] = DecodedBatch()
    decoder = msgspec.json.Decoder(record_type)
    for index, raw in enumerate(raws):
        try:
            batch.records.append((index, decoder.decode(raw)))
        except msgspec.ValidationError as exc:
            value = msgspec.json.decode(raw)
            message = _MSGSPEC_PATH.sub("", str(exc))
            errors = _field_errors(value, record_type) or [
                FieldError("", _error_code(message), message)
            ]
            batch.rejected.append(Rejection(index, _external_id_of(value), errors))
    return batch


def amount_errors(name: str, value: Decimal | None, *, places: int = 10) -> list[FieldError]:
    """An amount must be finite, not negative, and have at most ``places`` decimals."""
    if value is None:
        return []
    if not value.is_finite():
        return [FieldError(name, "invalid", f"{name} must be a finite number")]
    if value < 0:
        return [FieldError(name, "out_of_range", f"{name} must not be negative")]
    if value.as_tuple().exponent < -places:
        return [FieldError(name, "too_precise", f"{name} has more than {places} decimal places")]
    if value >= Decimal(10) ** 19:
        return [FieldError(name, "out_of_range", f"{name} is too large")]
    return []
