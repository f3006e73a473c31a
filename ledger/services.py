"""Writes to the ledger: the storage step of ingestion (calls and outcomes
judged, costed or valued, fingerprinted and stored: DESIGN.md "Call",
"Outcome", "Ingestion rules") and disputes; route decisions are stored by
ledger.decision_log.

Ingestion enters through ledger.ingestion, which meters what the storage
step added to the charges in the same transaction."""

import hashlib
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

import msgspec
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.models import Contract
from billing.selectors import Schedules, contract_schedules
from core.batch import DecodedBatch, FieldError, Rejection, amount_errors, metadata_encoded
from core.errors import Conflict, ErrorCode, InvalidInput, NotFound
from core.money import (
    AMOUNT_LIMIT,
    AMOUNT_LIMIT_UNITS,
    div_half_even,
    exact_context,
    from_units,
    quantize_amount,
    to_units,
    units_text,
)
from ledger.bulk import store_new
from ledger.models import ContractModelUsed, DirtyDay, Outcome, OutcomeEvent, OutcomeStatus
from ledger.records import ID_MAX_LENGTH, CallIn, OutcomeIn
from ledger.route_ids import route_id_verifies
from ledger.selectors import models_used
from routing.models import Tier
from routing.pricing import PriceRow, call_cost_units
from routing.selectors import PriceBook, price_book_load


@dataclass(slots=True)
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    # What the records inserted add to the contract's charges (a call's
    # charge, an outcome's fee), per contract-local day, in the contract's
    # currency: what ledger.ingestion meters against the spend limits
    # (DESIGN.md "Spend limits and alerts"). Not part of the answer.
    charges_by_day: dict[date, Decimal] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.as_dict() for r in self.rejected],
        }


# The rows COPY writes (ledger.bulk): a row type's fields are its table's
# columns, in the order COPY names them. They hold scalars only, never a
# cycle, so they stay out of the garbage collector (gc=False): 5,000 are made
# per batch. Rows are built with positional arguments, in field order: with
# 25 keyword arguments a call's row took about 1.5 µs more to build, over a
# tenth of the CPU the storage step spends on a call.


class CallRow(msgspec.Struct, array_like=True, gc=False):
    """One ``ledger_call`` row: costs in USD and the charge in the contract's
    currency as text (core.money.units_text), ``metadata`` as JSON text."""

    contract_id: int
    external_id: str
    occurred_at: datetime
    llm_model_id: int
    price_id: int | None
    task_type: str
    task_ref: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int
    service_tier: str
    reported_cost_usd: Decimal | None
    computed_cost_usd: str | None
    cost_usd: str
    charge: str
    baseline_cost_usd: str
    latency_ms: int | None
    success: bool
    policy_version: int | None
    route_id: str | None
    metadata: str
    fingerprint: bytes


class OutcomeRow(msgspec.Struct, array_like=True, gc=False):
    """One ``ledger_outcome`` row: amounts in the contract's currency,
    ``metadata`` as JSON text."""

    contract_id: int
    external_id: str
    occurred_at: datetime
    kind: str
    task_type: str
    task_ref: str | None
    quantity: Decimal
    unit_value: Decimal
    value: Decimal
    unit_fee: Decimal
    fee: Decimal
    source: str
    metadata: str
    fingerprint: bytes


CALL_COLUMNS = CallRow.__struct_fields__
OUTCOME_COLUMNS = OutcomeRow.__struct_fields__


def _fingerprint(content: tuple) -> bytes:
    return hashlib.blake2b(
        msgspec.json.encode(content, order="deterministic"), digest_size=16
    ).digest()


# What a fingerprint covers (docs/INGESTION.md "Duplicates and conflicts"):
# every field of the normalized record, hashed as one JSON array in the
# order below. Each stored row keeps its fingerprint, so a change of these
# arrays makes every record stored before read as a conflict when re-sent.


def call_fingerprint(call: CallIn) -> bytes:
    """The fingerprint of a normalized call (_call_normalized)."""
    return _fingerprint(
        (
            call.external_id,
            call.occurred_at,
            call.model,
            call.task_type,
            call.task_ref,
            call.input_tokens,
            call.output_tokens,
            call.cache_read_tokens,
            call.cache_write_tokens,
            call.cache_write_1h_tokens,
            call.reasoning_tokens,
            call.service_tier,
            call.reported_cost_usd,
            call.latency_ms,
            call.success,
            call.policy_version,
            call.route_id,
            call.metadata,
        )
    )


def outcome_fingerprint(outcome: OutcomeIn) -> bytes:
    """The fingerprint of a normalized outcome (_outcome_normalized)."""
    return _fingerprint(
        (
            outcome.external_id,
            outcome.occurred_at,
            outcome.kind,
            outcome.task_type,
            outcome.task_ref,
            outcome.quantity,
            outcome.source,
            outcome.metadata,
        )
    )


def _call_normalized(record: CallIn, occurred_at: datetime, model_name: str) -> CallIn:
    """The call as one content whatever way it was written: its UTC instant,
    the canonical model name (not an alias) and the reported cost at 10
    places ("1.5" and "1.50" are the same amount, as the stored NUMERIC
    says: a duplicate, not a conflict)."""
    reported = record.reported_cost_usd
    return msgspec.structs.replace(
        record,
        occurred_at=occurred_at,
        model=model_name,
        reported_cost_usd=None if reported is None else quantize_amount(reported),
    )


def _outcome_normalized(record: OutcomeIn, occurred_at: datetime) -> OutcomeIn:
    """The outcome as one content: its UTC instant and its quantity at 10
    places."""
    return msgspec.structs.replace(
        record, occurred_at=occurred_at, quantity=quantize_amount(record.quantity)
    )


# One valid record, ready to store: its row, the contract-local day it falls
# on, and what it adds to the contract's charges in units of 10^-10
# (core.money): a call's charge, an outcome's fee. A plain tuple: one is
# made per record on the hot path.
_Prepared = tuple[CallRow | OutcomeRow, date, int]


def _token_errors(record: CallIn) -> list[FieldError]:
    errors = []
    if record.cache_read_tokens + record.cache_write_tokens > record.input_tokens:
        errors.append(
            FieldError(
                "cache_read_tokens",
                ErrorCode.CACHE_EXCEEDS_INPUT,
                "cache_read_tokens + cache_write_tokens must not exceed input_tokens "
                "(input_tokens counts cached tokens too)",
            )
        )
    if record.cache_write_1h_tokens > record.cache_write_tokens:
        errors.append(
            FieldError(
                "cache_write_1h_tokens",
                ErrorCode.EXCEEDS_CACHE_WRITE,
                "cache_write_1h_tokens must not exceed cache_write_tokens",
            )
        )
    if record.reasoning_tokens > record.output_tokens:
        errors.append(
            FieldError(
                "reasoning_tokens",
                ErrorCode.EXCEEDS_OUTPUT,
                "reasoning_tokens are part of output_tokens and must not exceed them",
            )
        )
    return errors


TIME_OUT_OF_RANGE = FieldError(
    "occurred_at",
    ErrorCode.OUT_OF_RANGE,
    "occurred_at must fall within the years 1 to 9999, in UTC and in the contract's time zone",
)
AMOUNT_TOO_LARGE = "an amount of this record would reach 10^20, more than the ledger holds"


# DESIGN.md "Trust between the parties": no record before this instant (no
# LLM call or outcome of this ledger is older; a typo such as year 0202 is).
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def latest_time() -> datetime:
    """The latest ``occurred_at`` ingestion accepts now: a record more than
    MAX_CLOCK_SKEW in the future is refused (DESIGN.md "Trust between the
    parties")."""
    return timezone.now() + settings.MAX_CLOCK_SKEW


@dataclass(frozen=True, slots=True)
class _Terms:
    """What every record of one batch is judged against."""

    contract: Contract
    tz: tzinfo  # the contract's time zone, read once per batch
    latest: datetime  # latest_time() when the batch arrived


def _placed(occurred_at: datetime, terms: _Terms) -> tuple[datetime, date] | FieldError:
    """The instant in UTC and the contract-local day it falls on, or why the
    record cannot be placed: an offset that pushes a time at the edge of the
    calendar out of Python's range, a time before EARLIEST_TIME or after
    ``terms.latest``, or a day outside the contract's life, which no period
    (and so no statement) would ever count."""
    contract, latest = terms.contract, terms.latest
    try:
        placed = occurred_at.astimezone(UTC), occurred_at.astimezone(terms.tz).date()
    except OverflowError:
        return TIME_OUT_OF_RANGE
    if placed[0] > latest:
        return FieldError(
            "occurred_at",
            ErrorCode.IN_FUTURE,
            f"occurred_at is more than {settings.MAX_CLOCK_SKEW} ahead of the ledger's clock "
            f"({latest.isoformat()})",
        )
    if placed[0] < EARLIEST_TIME:
        return FieldError(
            "occurred_at", ErrorCode.TOO_EARLY, f"occurred_at is before {EARLIEST_TIME.isoformat()}"
        )
    day = placed[1]
    if day < contract.starts_on or (contract.ends_on is not None and day > contract.ends_on):
        return FieldError(
            "occurred_at",
            ErrorCode.OUTSIDE_CONTRACT,
            f"occurred_at falls on {day} in {contract.timezone}, outside the contract's life "
            f"({contract.starts_on} to {contract.ends_on or 'open'})",
        )
    return placed


CHARGE_FACTOR_SCALE = 10**20


def _cost_units(price: PriceRow, record: CallIn) -> int:
    return call_cost_units(
        price,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cache_read_tokens=record.cache_read_tokens,
        cache_write_tokens=record.cache_write_tokens,
        cache_write_1h_tokens=record.cache_write_1h_tokens,
    )


def routes_known(*, contract_id: int, route_ids: set[str]) -> set[str]:
    """Which of ``route_ids`` are decisions of this contract: minted for it
    (ledger.route_ids), else stored."""
    known = {r for r in route_ids if route_id_verifies(contract_id, r)}
    if len(known) == len(route_ids):
        return known
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT route_id FROM ledger_routedecision "
            "WHERE contract_id = %s AND route_id = ANY(%s)",
            [contract_id, list(route_ids - known)],
        )
        return known | {row[0] for row in cursor.fetchall()}


def _baseline_candidates(contract: Contract, used: set[int]) -> dict:
    """DESIGN.md "Routing savings": without a contract baseline model, the
    default is the most expensive frontier model among the contract's
    routing models, else among the models its calls used (stored ones and
    this batch's), never a model the contract has nothing to do with: a
    catalog import cannot move it."""
    if contract.baseline_model_id is not None:
        return {}
    routing = set(contract.routing_models.filter(tier=Tier.FRONTIER).values_list("id", flat=True))
    if routing:
        return {"baseline_among": routing}
    return {"baseline_among": used, "baseline_among_named": True}


def _models_used_record(contract: Contract, used: set[int], inserted: list[_Prepared]) -> None:
    """Append the (contract, model) pairs of the calls just stored that are
    new (ledger.models.ContractModelUsed). Only a model new to the contract
    is written, so concurrent batches wait on each other only then."""
    new = {row.llm_model_id for row, _, _ in inserted} - used
    ContractModelUsed.objects.bulk_create(
        (ContractModelUsed(contract=contract, llm_model_id=model_id) for model_id in new),
        ignore_conflicts=True,
    )


@dataclass(frozen=True, slots=True)
class _CallTerms(_Terms):
    """What every call of one batch is judged and costed against."""

    book: PriceBook
    # DESIGN.md "Decisions are records": the batch's route ids that name a
    # decision of this contract (one lookup per batch).
    routes: set[str]
    # DESIGN.md "Call": charge = cost x fx_rate x (1 + markup), to 10 places.
    # fx_rate and markup have at most 10 places each, so the factor has at
    # most 20: as an integer scaled by 10^20 (CHARGE_FACTOR_SCALE) it is exact.
    charge_factor_units: int


def _call_terms(contract: Contract, batch: DecodedBatch[CallIn], used: set[int]) -> _CallTerms:
    with exact_context():
        charge_factor_units = to_units(contract.fx_rate * (1 + contract.markup), 20)
    return _CallTerms(
        contract=contract,
        tz=contract.tz,
        latest=latest_time(),
        book=price_book_load(
            names={record.model for _, record in batch.records},
            baseline_model_id=contract.baseline_model_id,
            **_baseline_candidates(contract, used),
        ),
        routes=routes_known(
            contract_id=contract.id,
            route_ids={r.route_id for _, r in batch.records if r.route_id is not None},
        ),
        charge_factor_units=charge_factor_units,
    )


def _call_cost_units(
    terms: _CallTerms, record: CallIn, price: PriceRow | None
) -> tuple[int | None, int, int, int]:
    """The call's computed cost (None without a price), cost, baseline cost
    and charge, in units of 10^-10 (core.money): exact integers."""
    computed = None if price is None else _cost_units(price, record)
    # The provider's bill is authoritative when the call reports one.
    reported = record.reported_cost_usd
    cost = computed if reported is None else to_units(reported)
    # DESIGN.md "Routing savings": the same tokens at the baseline model;
    # with no baseline price in force, no savings are claimed.
    baseline_id = terms.book.baseline_model_at(record.occurred_at)
    baseline_price = (
        None
        if baseline_id is None
        else terms.book.price_at(baseline_id, record.service_tier, record.occurred_at)
    )
    if baseline_price is None:
        baseline_cost = cost
    elif baseline_price is price:
        baseline_cost = computed
    else:
        baseline_cost = _cost_units(baseline_price, record)
    charge = div_half_even(cost * terms.charge_factor_units, CHARGE_FACTOR_SCALE)
    return computed, cost, baseline_cost, charge


def _call_prepared(terms: _CallTerms, record: CallIn, errors: list[FieldError]) -> _Prepared | None:
    """The call costed and ready to store, or None with why in ``errors``."""
    placed = _placed(record.occurred_at, terms)
    if isinstance(placed, FieldError):
        errors.append(placed)
    metadata = metadata_encoded(record.metadata)
    if isinstance(metadata, FieldError):
        errors.append(metadata)
    errors += _token_errors(record)
    errors += amount_errors("reported_cost_usd", record.reported_cost_usd)
    model = terms.book.resolve(record.model)
    if model is None:
        errors.append(
            FieldError(
                "model",
                ErrorCode.UNKNOWN_MODEL,
                f"no model or alias '{record.model}' in the catalog",
            )
        )
        return None
    price = terms.book.price_at(model.id, record.service_tier, record.occurred_at)
    if price is None and record.reported_cost_usd is None:
        # Never costed at zero by default (DESIGN.md "Price book").
        errors.append(
            FieldError(
                "model",
                ErrorCode.NO_PRICE,
                f"no price for '{model.name}' in force at {record.occurred_at.isoformat()}; "
                "add a price row or report reported_cost_usd",
            )
        )
    if record.route_id is not None and record.route_id not in terms.routes:
        errors.append(
            FieldError(
                "route_id",
                ErrorCode.UNKNOWN_ROUTE,
                f"no routing decision '{record.route_id}' in this contract",
            )
        )
    if errors:
        return None
    computed, cost, baseline_cost, charge = _call_cost_units(terms, record, price)
    if max(cost, charge, baseline_cost) >= AMOUNT_LIMIT_UNITS:
        errors.append(FieldError("reported_cost_usd", ErrorCode.OUT_OF_RANGE, AMOUNT_TOO_LARGE))
        return None
    occurred_at, day = placed
    call = _call_normalized(record, occurred_at, model.name)
    row = CallRow(
        terms.contract.id,
        call.external_id,
        call.occurred_at,
        model.id,
        None if price is None else price.id,
        call.task_type,
        call.task_ref,
        call.input_tokens,
        call.output_tokens,
        call.cache_read_tokens,
        call.cache_write_tokens,
        call.cache_write_1h_tokens,
        call.reasoning_tokens,
        call.service_tier,
        call.reported_cost_usd,
        None if computed is None else units_text(computed),
        units_text(cost),
        units_text(charge),
        units_text(baseline_cost),
        call.latency_ms,
        call.success,
        call.policy_version,
        call.route_id,
        metadata.decode(),
        call_fingerprint(call),
    )
    return row, day, charge


def calls_store(*, contract: Contract, batch: DecodedBatch[CallIn]) -> IngestReport:
    """The ledger's storage step for calls: judge, cost and store a batch,
    every record on its own. Ingestion goes through ledger.ingestion, which
    meters the report's ``charges_by_day`` in the same transaction."""
    used = models_used(contract=contract)
    judged = _judged(batch, _call_prepared, _call_terms(contract, batch, used))
    with transaction.atomic(savepoint=False):
        inserted = _stored(
            contract=contract, table="ledger_call", columns=CALL_COLUMNS, judged=judged
        )
        _models_used_record(contract, used, inserted)
    return judged.report


OUTCOME_SOURCES = ("vendor", "customer")


@dataclass(frozen=True, slots=True)
class _OutcomeTerms(_Terms):
    """What every outcome of one batch is judged and valued against."""

    schedules: Schedules
    # DESIGN.md "Trust between the parties": the ``source`` values the caller
    # may record (a vendor records vendor outcomes only).
    sources: Collection[str]


def _outcome_prepared(
    terms: _OutcomeTerms, record: OutcomeIn, errors: list[FieldError]
) -> _Prepared | None:
    """The outcome valued and ready to store, or None with why in ``errors``."""
    placed = _placed(record.occurred_at, terms)
    if isinstance(placed, FieldError):
        errors.append(placed)
    if record.source not in terms.sources:
        errors.append(
            FieldError(
                "source",
                ErrorCode.SOURCE_NOT_ALLOWED,
                f"this key may record outcomes with source {' or '.join(sorted(terms.sources))} "
                f"only, not '{record.source}'",
            )
        )
    metadata = metadata_encoded(record.metadata)
    if isinstance(metadata, FieldError):
        errors.append(metadata)
    errors += amount_errors("quantity", record.quantity)
    unit_value = terms.schedules.unit_value(record.kind, record.task_type)
    if unit_value is None:
        errors.append(
            FieldError(
                "kind",
                ErrorCode.NO_VALUE,
                f"the contract's value schedule has no row for kind '{record.kind}' "
                f"(task type '{record.task_type}' or any)",
            )
        )
    if errors:
        return None
    unit_fee = terms.schedules.unit_fee(record.kind, record.task_type)
    occurred_at, day = placed
    outcome = _outcome_normalized(record, occurred_at)
    value = quantize_amount(outcome.quantity * unit_value)
    fee = quantize_amount(outcome.quantity * unit_fee)
    if max(value, fee) >= AMOUNT_LIMIT:
        errors.append(FieldError("quantity", ErrorCode.OUT_OF_RANGE, AMOUNT_TOO_LARGE))
        return None
    row = OutcomeRow(
        terms.contract.id,
        outcome.external_id,
        outcome.occurred_at,
        outcome.kind,
        outcome.task_type,
        outcome.task_ref,
        outcome.quantity,
        unit_value,
        value,
        unit_fee,
        fee,
        outcome.source,
        metadata.decode(),
        outcome_fingerprint(outcome),
    )
    return row, day, to_units(fee)


def outcomes_store(
    *,
    contract: Contract,
    batch: DecodedBatch[OutcomeIn],
    sources: Collection[str] = OUTCOME_SOURCES,
) -> IngestReport:
    """The ledger's storage step for outcomes: judge, value and store a
    batch, every record on its own; the report's ``charges_by_day`` holds
    the fees. ``sources``: the ``source`` values the caller may record."""
    terms = _OutcomeTerms(
        contract=contract,
        tz=contract.tz,
        latest=latest_time(),
        schedules=contract_schedules(contract=contract),
        sources=sources,
    )
    judged = _judged(batch, _outcome_prepared, terms)
    with transaction.atomic(savepoint=False):
        _stored(contract=contract, table="ledger_outcome", columns=OUTCOME_COLUMNS, judged=judged)
    return judged.report


def _conflict(index: int, external_id: str, where: str) -> Rejection:
    return Rejection(
        index,
        external_id,
        [
            FieldError(
                "external_id",
                ErrorCode.CONFLICT,
                f"external_id '{external_id}' {where} with other content; "
                "the stored record is kept",
            )
        ],
    )


def _nfc(record: CallIn | OutcomeIn, errors: list[FieldError]) -> CallIn | OutcomeIn:
    """The record with ``external_id`` and ``task_ref`` in NFC (DESIGN.md
    "Trust between the parties"): the NFD and NFC spellings of one id are one
    record. ASCII, nearly every id, is NFC as it is: answered without a
    scan of the text."""
    external_id, task_ref = record.external_id, record.task_ref
    if (external_id.isascii() or unicodedata.is_normalized("NFC", external_id)) and (
        task_ref is None or task_ref.isascii() or unicodedata.is_normalized("NFC", task_ref)
    ):
        return record
    external_id = unicodedata.normalize("NFC", external_id)
    task_ref = None if task_ref is None else unicodedata.normalize("NFC", task_ref)
    errors.extend(
        FieldError(name, ErrorCode.INVALID_LENGTH, f"{name} is longer than {ID_MAX_LENGTH} in NFC")
        for name, value in (("external_id", external_id), ("task_ref", task_ref))
        if value is not None and len(value) > ID_MAX_LENGTH
    )
    return msgspec.structs.replace(record, external_id=external_id, task_ref=task_ref)


@dataclass(slots=True)
class _Judged:
    """A batch judged record by record (DESIGN.md "Ingestion rules"): the
    first valid record of each external id, with its index in the batch, and
    the later records with an id seen before, with their fingerprint."""

    report: IngestReport
    firsts: dict[str, _Prepared] = field(default_factory=dict)
    first_index: dict[str, int] = field(default_factory=dict)
    repeats: list[tuple[int, str, bytes]] = field(default_factory=list)


def _judged(
    batch: DecodedBatch,
    prepare: Callable[[Any, Any, list[FieldError]], _Prepared | None],
    terms: _Terms,
) -> _Judged:
    """Each record of ``batch`` through ``prepare(terms, record, errors)``."""
    judged = _Judged(IngestReport(rejected=list(batch.rejected)))
    firsts, first_index = judged.firsts, judged.first_index
    with exact_context():
        for index, record in batch.records:
            errors: list[FieldError] = []
            record = _nfc(record, errors)
            prepared = None if errors else prepare(terms, record, errors)
            if prepared is None:
                judged.report.rejected.append(Rejection(index, record.external_id, errors))
            elif record.external_id in firsts:
                judged.repeats.append((index, record.external_id, prepared[0].fingerprint))
            else:
                firsts[record.external_id] = prepared
                first_index[record.external_id] = index
    return judged


def _stored(
    *, contract: Contract, table: str, columns: tuple[str, ...], judged: _Judged
) -> list[_Prepared]:
    """Store the first records of a judged batch (ledger.bulk), mark their
    days for the nightly run and complete the report: counts, conflicts and
    the charges per day. Returns the records inserted; call inside the
    storing transaction."""
    report, firsts = judged.report, judged.firsts
    stored = store_new(
        table=table,
        columns=columns,
        rows=[msgspec.structs.astuple(row) for row, _, _ in firsts.values()],
        contract_id=contract.id,
        fingerprints={e: row.fingerprint for e, (row, _, _) in firsts.items()},
    )
    inserted = [firsts[e] for e in stored.inserted]
    days = sorted({day for _, day, _ in inserted})
    DirtyDay.objects.bulk_create(DirtyDay(contract=contract, day=d) for d in days)
    charge_units: dict[date, int] = defaultdict(int)
    for _, day, units in inserted:
        charge_units[day] += units
    report.charges_by_day = {day: from_units(units) for day, units in charge_units.items()}
    report.accepted = len(stored.inserted)
    report.duplicates = len(stored.duplicates)
    first_index = judged.first_index
    report.rejected += [_conflict(first_index[e], e, "already exists") for e in stored.conflicts]
    for index, external_id, fingerprint in judged.repeats:
        if external_id in stored.conflicts:
            report.rejected.append(_conflict(index, external_id, "already exists"))
        elif fingerprint != firsts[external_id][0].fingerprint:
            report.rejected.append(_conflict(index, external_id, "appears earlier in this batch"))
        else:
            report.duplicates += 1
    report.rejected.sort(key=lambda r: r.index)
    return inserted


# Disputes (DESIGN.md "Outcome": only accepted outcomes count; a dispute moves
# an outcome to disputed, a decision to accepted or rejected; every change is
# an appended event with who and why).
OUTCOME_STATUS_LOCK = 0x0C5E
ALLOWED_CHANGES = {
    OutcomeStatus.ACCEPTED: {OutcomeStatus.DISPUTED},
    OutcomeStatus.DISPUTED: {OutcomeStatus.ACCEPTED, OutcomeStatus.REJECTED},
    OutcomeStatus.REJECTED: set(),
}


def outcome_status_change(
    *, contract: Contract, external_id: str, to_status: str, actor: str, reason: str
) -> Outcome:
    """Append one status event to an outcome and mark its day for the
    nightly run. Concurrent changes of one outcome queue on an advisory lock
    (a row lock would need UPDATE on the append-only table, which the
    application's role does not have: docs/DATABASE.md)."""
    if not reason.strip():
        raise InvalidInput("a reason is required", code=ErrorCode.REASON_REQUIRED)
    external_id = unicodedata.normalize("NFC", external_id)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                [OUTCOME_STATUS_LOCK, f"{contract.id}/{external_id}"],
            )
        outcome = Outcome.objects.filter(contract=contract, external_id=external_id).first()
        if outcome is None:
            raise NotFound(f"no outcome '{external_id}' in contract '{contract.code}'")
        last = (
            OutcomeEvent.objects.filter(contract=contract, outcome=outcome).order_by("-seq").first()
        )
        current = last.to_status if last else OutcomeStatus.ACCEPTED
        if to_status not in ALLOWED_CHANGES[current]:
            raise Conflict(
                f"outcome '{external_id}' is {current}; it cannot become {to_status}",
                code=ErrorCode.INVALID_TRANSITION,
            )
        OutcomeEvent.objects.create(
            contract=contract,
            outcome=outcome,
            seq=(last.seq + 1) if last else 1,
            from_status=current,
            to_status=to_status,
            actor=actor,
            reason=reason,
        )
        DirtyDay.objects.create(
            contract=contract, day=outcome.occurred_at.astimezone(contract.tz).date()
        )
    return outcome
