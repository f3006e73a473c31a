"""The wire shape of ingested records (API.md "Ingestion"), as msgspec
structs: the fast schema of the hot path. Field rules beyond types (token
buckets, amounts, catalog and schedules) are checked in ledger.services."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

# No control characters: an external id is one field of a digest line
# (API.md "Digest"), where a tab or newline would make the text ambiguous.
ExternalId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Ref = Annotated[str, msgspec.Meta(max_length=200)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
Tokens = Annotated[int, msgspec.Meta(ge=0, le=10**15)]
ServiceTierName = Literal["standard", "batch", "flex", "priority"]


class CallIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
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
    service_tier: ServiceTierName = "standard"
    reported_cost_usd: Decimal | None = None
    latency_ms: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None
    success: bool = True
    policy_version: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None
    route_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    metadata: dict[str, Any] = {}


class OutcomeIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    external_id: ExternalId
    occurred_at: AwareTime
    kind: Name
    task_type: Name
    quantity: Decimal
    task_ref: Ref | None = None
    source: Literal["vendor", "customer"] = "vendor"
    metadata: dict[str, Any] = {}
