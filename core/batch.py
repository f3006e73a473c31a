"""Decoding of ingestion batches (DESIGN.md "Ingestion rules", API.md "Ingestion").

The fast path decodes the whole batch straight into typed records with
msgspec. Only when that fails is the batch decoded again record by record and
field by field, so that every bad record is reported by index with every
reason, and every good record is kept.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

import msgspec

from core.errors import BatchTooLarge, ErrorCode, InvalidInput

MAX_RECORDS = 5000
# docs/INGESTION.md "Limits": a record's metadata, as JSON, holds at most
# 16 KiB and nests at most 32 levels (the metadata object is level 1); the
# body limit (settings.DATA_UPLOAD_MAX_MEMORY_SIZE) bounds a batch as a whole.
METADATA_MAX_BYTES = 16 * 1024
MAX_DEPTH = 32

R = TypeVar("R", bound=msgspec.Struct)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One thing wrong with submitted input, as every 400 lists it: an
    ingested record's field, a price row's, a contract term's. ``field`` is
    the wire name (``occurred_at``, ``routing.epsilon``,
    ``value_schedule[2]``)."""

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

INVISIBLE_MESSAGE = (
    "must not hold control, format (zero-width, bidi, U+FEFF) or line/paragraph "
    "separator characters"
)


def _error_code(message: str) -> ErrorCode:
    # Length first: "Expected `str` of length >= 1" is a length, not a range.
    if "timezone component" in message:
        return ErrorCode.NAIVE_DATETIME
    if message.startswith("Number out of range"):
        return ErrorCode.OUT_OF_RANGE
    if message.startswith("Expected") and "length" in message:
        return ErrorCode.INVALID_LENGTH
    if message.startswith("Expected") and ("<=" in message or ">=" in message):
        return ErrorCode.OUT_OF_RANGE
    if message.startswith("Expected") and "matching regex" in message:
        return ErrorCode.INVALID_FORMAT
    if message.startswith("Expected"):
        return ErrorCode.INVALID_TYPE
    return ErrorCode.INVALID


def field_error(name: str, exc: msgspec.ValidationError) -> FieldError:
    """The field's error for a msgspec validation error, with its code."""
    message = _MSGSPEC_PATH.sub("", str(exc))
    code = _error_code(message)
    if code == "invalid_format":
        # The record types' only patterns are the visible-text rule of
        # ledger.records; the regex itself would tell a client nothing.
        message = f"{name} {INVISIBLE_MESSAGE}"
    elif message.startswith("Number out of range"):
        message = f"{name} holds a number beyond the range of a 64-bit float"
    return FieldError(name, code, message)


def too_deep(name: str) -> FieldError:
    return FieldError(
        name, ErrorCode.TOO_DEEP, f"{name or 'the record'} is nested deeper than {MAX_DEPTH} levels"
    )


def _rejection(index: int, raw: bytes | msgspec.Raw, record_type: type[R]) -> Rejection:
    """A record that failed the schema, taken apart field by field (each
    field decoded from its own JSON text) to report every reason."""
    try:
        raw_fields = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    except msgspec.ValidationError:
        return Rejection(
            index, None, [FieldError("", ErrorCode.INVALID_TYPE, "a record must be a JSON object")]
        )
    except RecursionError:
        return Rejection(index, None, [too_deep("")])
    errors: list[FieldError] = []
    known = set()
    for info in msgspec.structs.fields(record_type):
        known.add(info.name)
        if info.name not in raw_fields:
            if info.required:
                errors.append(FieldError(info.name, ErrorCode.REQUIRED, "this field is required"))
            continue
        try:
            msgspec.json.decode(raw_fields[info.name], type=info.type)
        except msgspec.ValidationError as exc:
            errors.append(field_error(info.name, exc))
        except RecursionError:
            errors.append(too_deep(info.name))
    errors.extend(
        FieldError(name, ErrorCode.UNKNOWN_FIELD, f"unknown field '{name}'")
        for name in sorted(set(raw_fields) - known)
    )
    external_id = None
    if "external_id" in raw_fields:
        try:
            external_id = msgspec.json.decode(raw_fields["external_id"], type=str)
        except msgspec.ValidationError:
            external_id = None
    return Rejection(index, external_id, errors)


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
            FieldError(
                name, ErrorCode.NUL_CHARACTER, f"{name} contains U+0000, which cannot be stored"
            )
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
    # A time with sub-microsecond digits anywhere: the records are read one
    # by one, so that such times are truncated (_decode_slowly).
    fast = not _has_sub_microsecond(body)
    if ndjson:
        lines = _split_ndjson(body)
        check_size(len(lines))
        if fast:
            try:
                return DecodedBatch.of(
                    msgspec.json.decode(b"[" + b",".join(lines) + b"]", type=list[record_type])
                )
            except (msgspec.DecodeError, RecursionError):
                pass
        for number, line in enumerate(lines, start=1):
            try:
                msgspec.json.decode(line)
            except (msgspec.ValidationError, RecursionError):
                # JSON, but with a number out of range or nested too deep to
                # read: that record alone is rejected (_decode_slowly).
                continue
            except msgspec.DecodeError as exc:
                raise InvalidInput(
                    f"line {number} is not JSON: {exc}", code=ErrorCode.MALFORMED
                ) from exc
        return _decode_slowly(lines, record_type)
    if fast:
        try:
            decoded = msgspec.json.decode(body, type=_Envelope[record_type])
            check_size(len(decoded.records))
            return DecodedBatch.of(decoded.records)
        except (msgspec.ValidationError, RecursionError):
            pass
        except msgspec.DecodeError as exc:
            raise InvalidInput(f"the body is not JSON: {exc}", code=ErrorCode.MALFORMED) from exc
    raws: list[bytes] | list[msgspec.Raw]
    try:
        raws = msgspec.json.decode(body, type=_RawEnvelope).records
    except msgspec.ValidationError as exc:
        raise InvalidInput('the body must be {"records": [...]}', code=ErrorCode.MALFORMED) from exc
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}", code=ErrorCode.MALFORMED) from exc
    except RecursionError:
        raws = _split_records(body)
    check_size(len(raws))
    return _decode_slowly(raws, record_type)


# One JSON token that matters to nesting: a whole string, or a structural
# character.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{}:,]')


def _split_records(body: bytes) -> list[bytes]:
    """The record texts of a ``{"records": [...]}`` body nested deeper than
    the decoder reads (the interpreter's recursion limit), split by structure
    alone, so that every other record is still judged on its own. Only such
    a body pays for this scan."""
    records: list[bytes] = []
    depth, start, found, in_records = 0, 0, False, False
    key = previous = b""
    for match in _JSON_TOKEN.finditer(body):
        token = match.group()
        if token.startswith(b'"'):
            previous = token
            continue
        if token in (b"[", b"{"):
            if depth == 1 and token == b"[" and previous == b":" and key == b'"records"':
                in_records, found, start = True, True, match.end()
            depth += 1
        elif token in (b"]", b"}"):
            depth -= 1
            if in_records and depth == 1:
                last = body[start : match.start()]
                if records or last.strip():
                    records.append(last)
                in_records = False
        elif token == b":" and depth == 1:
            key = previous
        elif token == b"," and in_records and depth == 2:
            records.append(body[start : match.start()])
            start = match.end()
        previous = token
    if not found or depth != 0:
        raise InvalidInput('the body must be {"records": [...]}', code=ErrorCode.MALFORMED)
    return records


def check_size(count: int) -> None:
    if count > MAX_RECORDS:
        raise BatchTooLarge(
            f"a batch holds at most {MAX_RECORDS} records; this one has {count}",
            details={"max_records": MAX_RECORDS, "records": count},
        )


def _decode_slowly(raws: list[bytes] | list[msgspec.Raw], record_type: type[R]) -> DecodedBatch[R]:
    """Each record from its own JSON text, as the fast path reads it (a JSON
    number amount keeps every digit; through a float it would not); a bad
    record is then taken apart field by field to report every reason."""
    batch: DecodedBatch[R] = DecodedBatch()
    decoder = msgspec.json.Decoder(record_type)
    for index, raw in enumerate(raws):
        try:
            record = decoder.decode(raw)
        except (msgspec.ValidationError, RecursionError):
            batch.rejected.append(_rejection(index, raw, record_type))
            continue
        except msgspec.DecodeError as exc:
            raise InvalidInput(
                f"record {index} is not JSON: {exc}", code=ErrorCode.MALFORMED
            ) from exc
        if _has_sub_microsecond(raw):
            record = _truncated(record, raw)
        batch.records.append((index, record))
    return batch


# Seven or more fractional digits (RFC 3339 allows any number): those of a
# second follow ":ss". Searched from the "." (a fast literal scan; a pattern
# starting with a digit class costs a batch tens of ms), and the few amounts
# with seven decimals are told apart by what precedes them.
_SEVEN_DECIMALS = re.compile(rb"\.\d{7}")
_SECONDS = re.compile(rb":\d\d")


def _has_sub_microsecond(text: bytes | msgspec.Raw) -> bool:
    data = bytes(text) if isinstance(text, msgspec.Raw) else text
    return any(
        _SECONDS.fullmatch(data, match.start() - 3, match.start())
        for match in _SEVEN_DECIMALS.finditer(data)
    )


_BEYOND_MICROSECOND = re.compile(r"(:\d\d\.\d{6})\d+")
_AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class _TimeText(msgspec.Struct):
    occurred_at: str


def _truncated(record: R, raw: bytes | msgspec.Raw) -> R:
    """The record with ``occurred_at`` truncated to the microsecond, never
    rounded (DESIGN.md "Trust between the parties"): 23:59:59.9999995 on a
    month's last day stays on that day. The decoder rounds, so the time is
    read again from its text."""
    text = msgspec.json.decode(raw, type=_TimeText).occurred_at
    truncated = _BEYOND_MICROSECOND.sub(r"\1", text, count=1)
    return msgspec.structs.replace(record, occurred_at=msgspec.convert(truncated, _AwareTime))


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def nesting_errors(value: Any, name: str) -> list[FieldError]:
    return [too_deep(name)] if _depth_exceeds(value, MAX_DEPTH) else []


def metadata_encoded(metadata: dict[str, Any]) -> bytes | FieldError:
    """The metadata as stored (JSON), or why it is refused (docs/INGESTION.md
    "Limits"): too large, or nested too deep."""
    encoded = msgspec.json.encode(metadata)
    if len(encoded) > METADATA_MAX_BYTES:
        return FieldError(
            "metadata",
            ErrorCode.TOO_LARGE,
            f"metadata is {len(encoded)} bytes as JSON; at most {METADATA_MAX_BYTES}",
        )
    # Each level of nesting takes a bracket: most metadata skips the walk.
    if encoded.count(b"{") + encoded.count(b"[") > MAX_DEPTH and _depth_exceeds(
        metadata, MAX_DEPTH
    ):
        return too_deep("metadata")
    return encoded


def amount_errors(name: str, value: Decimal | None, *, places: int = 10) -> list[FieldError]:
    """An amount must be finite, not negative, and have at most ``places`` decimals."""
    if value is None:
        return []
    if not value.is_finite():
        return [FieldError(name, ErrorCode.INVALID, f"{name} must be a finite number")]
    if value < 0:
        return [FieldError(name, ErrorCode.OUT_OF_RANGE, f"{name} must not be negative")]
    if value.as_tuple().exponent < -places:
        return [
            FieldError(name, ErrorCode.TOO_PRECISE, f"{name} has more than {places} decimal places")
        ]
    if value >= Decimal(10) ** 19:
        return [FieldError(name, ErrorCode.OUT_OF_RANGE, f"{name} is too large")]
    return []
