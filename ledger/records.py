"""The wire shape of ingested records (API.md "Ingestion"), as msgspec
structs: the fast schema of the hot path. Field rules beyond types (token
buckets, amounts, catalog and schedules) are checked in ledger.services."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from routing.models import ServiceTier

# DESIGN.md "Trust between the parties": no control (Cc, U+0085 included),
# format (Cf: zero-width, bidi, U+FEFF) or line/paragraph separator (Zl, Zp)
# characters, which would make two ids look alike in an audit view, and no
# tab or newline in a digest line (API.md "Digest"). The ranges are those
# categories in the Unicode database of Python 3.11 (a test recomputes them).
INVISIBLE_RANGES = (
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)


def _escape(code_point: int) -> str:
    return f"\\u{code_point:04x}" if code_point <= 0xFFFF else f"\\U{code_point:08x}"


_INVISIBLE_CLASS = "".join(
    _escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in INVISIBLE_RANGES
)
VISIBLE_TEXT = f"^[^{_INVISIBLE_CLASS}]*$"
ID_MAX_LENGTH = 200

ExternalId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=ID_MAX_LENGTH, pattern=VISIBLE_TEXT)
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Ref = Annotated[str, msgspec.Meta(max_length=ID_MAX_LENGTH, pattern=VISIBLE_TEXT)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
Tokens = Annotated[int, msgspec.Meta(ge=0, le=10**15)]
# The price book's tiers (routing.models.ServiceTier), as plain strings: a
# tier it does not know is refused at decoding ("Invalid enum value").
ServiceTierName = Literal[tuple(ServiceTier.values)]


# gc=False: a batch decodes 5,000 records at once, and records hold plain
# data (their metadata as decoded JSON), never a cycle, so the garbage
# collector need not track them: about 0.3 µs less per record on ingestion.


class CallIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    external_id: ExternalId
    occurred_at: AwareTime
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    task_type: Name
    input_tokens: Tokens
    output_tokens: Tokens
    task_ref: Ref | None = None
    cache_read_tokens: Tokens = 0
    cache_write_tokens: Tokens = 0
    cache_write_1h_tokens: Tokens = 0
    reasoning_tokens: Tokens = 0
    service_tier: ServiceTierName = ServiceTier.STANDARD.value
    reported_cost_usd: Decimal | None = None
    latency_ms: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None
    success: bool = True
    policy_version: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None
    route_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    metadata: dict[str, Any] = {}


class OutcomeIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    external_id: ExternalId
    occurred_at: AwareTime
    kind: Name
    task_type: Name
    quantity: Decimal
    task_ref: Ref | None = None
    source: Literal["vendor", "customer"] = "vendor"
    metadata: dict[str, Any] = {}
