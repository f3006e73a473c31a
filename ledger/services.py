"""Writes to the ledger: ingestion of calls and outcomes (DESIGN.md "Call",
"Outcome", "Ingestion rules")."""

import hashlib
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import msgspec
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.models import Contract
from billing.selectors import contract_schedules
from core.batch import DecodedBatch, FieldError, Rejection, amount_errors, metadata_encoded
from core.errors import Conflict, InvalidInput, NotFound
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
from ledger.selectors import models_used
from routing.models import Tier
from routing.pricing import PriceRow, call_cost_units
from routing.selectors import price_book_load


@dataclass(slots=True)
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.as_dict() for r in self.rejected],
        }


@dataclass(slots=True)
class _Prepared:
    """One valid record, ready to store."""

    row: tuple
    fingerprint: bytes
    day: date
    # What the record adds to the contract's charges, in units of 10^-10
    # (core.money): a call's charge, an outcome's fee.
    charge_units: int = 0


def _fingerprint(values: list[Any]) -> bytes:
    return hashlib.blake2b(
        msgspec.json.encode(values, order="deterministic"), digest_size=16
    ).digest()


CALL_COLUMNS = (
    "contract_id",
    "external_id",
    "occurred_at",
    "llm_model_id",
    "price_id",
    "task_type",
    "task_ref",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "service_tier",
    "reported_cost_usd",
    "computed_cost_usd",
    "cost_usd",
    "charge",
    "baseline_cost_usd",
    "latency_ms",
    "success",
    "policy_version",
    "route_id",
    "metadata",
    "fingerprint",
)

OUTCOME_COLUMNS = (
    "contract_id",
    "external_id",
    "occurred_at",
    "kind",
    "task_type",
    "task_ref",
    "quantity",
    "unit_value",
    "value",
    "unit_fee",
    "fee",
    "source",
    "metadata",
    "fingerprint",
)


def _token_errors(record: CallIn) -> list[FieldError]:
    errors = []
    if record.cache_read_tokens + record.cache_write_tokens > record.input_tokens:
        errors.append(
            FieldError(
                "cache_read_tokens",
                "cache_exceeds_input",
                "cache_read_tokens + cache_write_tokens must not exceed input_tokens "
                "(input_tokens counts cached tokens too)",
            )
        )
    if record.cache_write_1h_tokens > record.cache_write_tokens:
        errors.append(
            FieldError(
                "cache_write_1h_tokens",
                "exceeds_cache_write",
                "cache_write_1h_tokens must not exceed cache_write_tokens",
            )
        )
    if record.reasoning_tokens > record.output_tokens:
        errors.append(
            FieldError(
                "reasoning_tokens",
                "exceeds_output",
                "reasoning_tokens are part of output_tokens and must not exceed them",
            )
        )
    return errors


TIME_OUT_OF_RANGE = FieldError(
    "occurred_at",
    "out_of_range",
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


def _placed(
    occurred_at: datetime, contract: Contract, latest: datetime
) -> tuple[datetime, date] | FieldError:
    """The instant in UTC and the contract-local day it falls on, or why the
    record cannot be placed: an offset that pushes a time at the edge of the
    calendar out of Python's range, a time before EARLIEST_TIME or after
    ``latest``, or a day outside the contract's life, which no period (and so
    no statement) would ever count."""
    try:
        placed = occurred_at.astimezone(UTC), occurred_at.astimezone(contract.tz).date()
    except OverflowError:
        return TIME_OUT_OF_RANGE
    if placed[0] > latest:
        return FieldError(
            "occurred_at",
            "in_future",
            f"occurred_at is more than {settings.MAX_CLOCK_SKEW} ahead of the ledger's clock "
            f"({latest.isoformat()})",
        )
    if placed[0] < EARLIEST_TIME:
        return FieldError(
            "occurred_at", "too_early", f"occurred_at is before {EARLIEST_TIME.isoformat()}"
        )
    day = placed[1]
    if day < contract.starts_on or (contract.ends_on is not None and day > contract.ends_on):
        return FieldError(
            "occurred_at",
            "outside_contract",
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


DECISION_SQL = (
    "INSERT INTO ledger_routedecision (contract_id, route_id, decided_at, task_type, key, "
    "features, policy_version, llm_model_id, probability, explored) "
    "VALUES (%s, %s, now(), %s, %s, %s, %s, %s, %s, %s)"
)


def decision_record(
    *,
    contract_id: int,
    route_id: str,
    task_type: str,
    key: str,
    features: bytes | None,
    policy_version: int,
    llm_model_id: int,
    probability: Decimal,
    explored: bool,
) -> None:
    """Append one routing decision (DESIGN.md "Decisions are records"): one
    statement, on the hot path of routers."""
    with connection.cursor() as cursor:
        cursor.execute(
            DECISION_SQL,
            [
                contract_id,
                route_id,
                task_type,
                key,
                features,
                policy_version,
                llm_model_id,
                probability,
                explored,
            ],
        )


def routes_known(*, contract_id: int, route_ids: set[str]) -> set[str]:
    """Which of ``route_ids`` are decisions of this contract."""
    if not route_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT route_id FROM ledger_routedecision "
            "WHERE contract_id = %s AND route_id = ANY(%s)",
            [contract_id, list(route_ids)],
        )
        return {row[0] for row in cursor.fetchall()}


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


def _models_used_record(contract: Contract, used: set[int], inserted: list[tuple]) -> None:
    """Append the (contract, model) pairs of the calls just stored that are
    new (ledger.models.ContractModelUsed). Only a model new to the contract
    is written, so concurrent batches wait on each other only then."""
    model_ids = {row[CALL_COLUMNS.index("llm_model_id")] for row in inserted}
    new = model_ids - used
    ContractModelUsed.objects.bulk_create(
        (ContractModelUsed(contract=contract, llm_model_id=model_id) for model_id in new),
        ignore_conflicts=True,
    )


def calls_ingest(
    *,
    contract: Contract,
    batch: DecodedBatch[CallIn],
    on_stored: Callable[[dict[date, Decimal]], None] | None = None,
) -> IngestReport:
    """Cost and store a batch of calls; every record is judged on its own.

    ``on_stored`` is called inside the ingestion transaction, right after the
    rows are stored, with the charges of the calls inserted, per local day:
    a layer above (billing's spend limits) meters them without the ledger
    importing it."""
    used = models_used(contract=contract)
    book = price_book_load(
        names={record.model for _, record in batch.records},
        baseline_model_id=contract.baseline_model_id,
        **_baseline_candidates(contract, used),
    )
    # DESIGN.md "Call": charge = cost x fx_rate x (1 + markup), to 10 places.
    # fx_rate and markup have at most 10 places each, so the factor has at
    # most 20: as an integer scaled by 10^20 it is exact.
    with exact_context():
        charge_factor_units = to_units(contract.fx_rate * (1 + contract.markup), 20)
    # DESIGN.md "Decisions are records": a call names a decision of its own
    # contract (one lookup per batch).
    routes = routes_known(
        contract_id=contract.id,
        route_ids={r.route_id for _, r in batch.records if r.route_id is not None},
    )

    latest = latest_time()

    def prepare(record: CallIn, errors: list[FieldError]) -> _Prepared | None:
        placed = _placed(record.occurred_at, contract, latest)
        if isinstance(placed, FieldError):
            errors.append(placed)
        metadata = metadata_encoded(record.metadata)
        if isinstance(metadata, FieldError):
            errors.append(metadata)
        errors += _token_errors(record)
        errors += amount_errors("reported_cost_usd", record.reported_cost_usd)
        model = book.resolve(record.model)
        if model is None:
            errors.append(
                FieldError(
                    "model", "unknown_model", f"no model or alias '{record.model}' in the catalog"
                )
            )
            return None
        price = book.price_at(model.id, record.service_tier, record.occurred_at)
        if price is None and record.reported_cost_usd is None:
            # Never costed at zero by default (DESIGN.md "Price book").
            errors.append(
                FieldError(
                    "model",
                    "no_price",
                    f"no price for '{model.name}' in force at {record.occurred_at.isoformat()}; "
                    "add a price row or report reported_cost_usd",
                )
            )
        if record.route_id is not None and record.route_id not in routes:
            errors.append(
                FieldError(
                    "route_id",
                    "unknown_route",
                    f"no routing decision '{record.route_id}' in this contract",
                )
            )
        if errors:
            return None
        # Amounts in units of 10^-10 USD (core.money): exact integers.
        computed = None if price is None else _cost_units(price, record)
        # The provider's bill is authoritative when the call reports one.
        reported = record.reported_cost_usd
        cost = computed if reported is None else to_units(reported)
        # DESIGN.md "Routing savings": the same tokens at the baseline model;
        # with no baseline price in force, no savings are claimed.
        baseline_id = book.baseline_model_at(record.occurred_at)
        baseline_price = (
            None
            if baseline_id is None
            else book.price_at(baseline_id, record.service_tier, record.occurred_at)
        )
        if baseline_price is None:
            baseline_cost = cost
        elif baseline_price is price:
            baseline_cost = computed
        else:
            baseline_cost = _cost_units(baseline_price, record)
        charge = div_half_even(cost * charge_factor_units, CHARGE_FACTOR_SCALE)
        if max(cost, charge, baseline_cost) >= AMOUNT_LIMIT_UNITS:
            errors.append(FieldError("reported_cost_usd", "out_of_range", AMOUNT_TOO_LARGE))
            return None
        occurred_utc, day = placed
        fingerprint = _fingerprint(
            [
                record.external_id,
                occurred_utc,
                model.name,
                record.task_type,
                record.task_ref,
                record.input_tokens,
                record.output_tokens,
                record.cache_read_tokens,
                record.cache_write_tokens,
                record.cache_write_1h_tokens,
                record.reasoning_tokens,
                record.service_tier,
                # "1.5" and "1.50" are the same amount, as the stored NUMERIC
                # says: the same content, so a duplicate, not a conflict.
                None
                if record.reported_cost_usd is None
                else quantize_amount(record.reported_cost_usd),
                record.latency_ms,
                record.success,
                record.policy_version,
                record.route_id,
                record.metadata,
            ]
        )
        row = (
            contract.id,
            record.external_id,
            occurred_utc,
            model.id,
            price.id if price else None,
            record.task_type,
            record.task_ref,
            record.input_tokens,
            record.output_tokens,
            record.cache_read_tokens,
            record.cache_write_tokens,
            record.cache_write_1h_tokens,
            record.reasoning_tokens,
            record.service_tier,
            reported,
            None if computed is None else units_text(computed),
            units_text(cost),
            units_text(charge),
            units_text(baseline_cost),
            record.latency_ms,
            record.success,
            record.policy_version,
            record.route_id,
            metadata.decode(),
            fingerprint,
        )
        return _Prepared(row, fingerprint, day, charge)

    return _ingest(
        contract=contract,
        batch=batch,
        table="ledger_call",
        columns=CALL_COLUMNS,
        prepare=prepare,
        on_stored=on_stored,
        on_inserted=lambda rows: _models_used_record(contract, used, rows),
    )


OUTCOME_SOURCES = ("vendor", "customer")


def outcomes_ingest(
    *,
    contract: Contract,
    batch: DecodedBatch[OutcomeIn],
    on_stored: Callable[[dict[date, Decimal]], None] | None = None,
    sources: Collection[str] = OUTCOME_SOURCES,
) -> IngestReport:
    """Value and store a batch of outcomes; every record is judged on its own.
    ``on_stored`` gets the outcome fees of the outcomes inserted, per local
    day, as calls_ingest gives their charges. ``sources``: the ``source``
    values the caller may record (DESIGN.md "Trust between the parties": a
    vendor records vendor outcomes only)."""
    schedules = contract_schedules(contract=contract)
    latest = latest_time()

    def prepare(record: OutcomeIn, errors: list[FieldError]) -> _Prepared | None:
        placed = _placed(record.occurred_at, contract, latest)
        if isinstance(placed, FieldError):
            errors.append(placed)
        if record.source not in sources:
            errors.append(
                FieldError(
                    "source",
                    "source_not_allowed",
                    f"this key may record outcomes with source {' or '.join(sorted(sources))} "
                    f"only, not '{record.source}'",
                )
            )
        metadata = metadata_encoded(record.metadata)
        if isinstance(metadata, FieldError):
            errors.append(metadata)
        errors += amount_errors("quantity", record.quantity)
        unit_value = schedules.unit_value(record.kind, record.task_type)
        if unit_value is None:
            errors.append(
                FieldError(
                    "kind",
                    "no_value",
                    f"the contract's value schedule has no row for kind '{record.kind}' "
                    f"(task type '{record.task_type}' or any)",
                )
            )
        if errors:
            return None
        unit_fee = schedules.unit_fee(record.kind, record.task_type)
        value = quantize_amount(record.quantity * unit_value)
        fee = quantize_amount(record.quantity * unit_fee)
        if max(value, fee) >= AMOUNT_LIMIT:
            errors.append(FieldError("quantity", "out_of_range", AMOUNT_TOO_LARGE))
            return None
        occurred_utc, day = placed
        fingerprint = _fingerprint(
            [
                record.external_id,
                occurred_utc,
                record.kind,
                record.task_type,
                record.task_ref,
                quantize_amount(record.quantity),
                record.source,
                record.metadata,
            ]
        )
        row = (
            contract.id,
            record.external_id,
            occurred_utc,
            record.kind,
            record.task_type,
            record.task_ref,
            record.quantity,
            unit_value,
            value,
            unit_fee,
            fee,
            record.source,
            metadata.decode(),
            fingerprint,
        )
        return _Prepared(row, fingerprint, day, to_units(fee))

    return _ingest(
        contract=contract,
        batch=batch,
        table="ledger_outcome",
        columns=OUTCOME_COLUMNS,
        prepare=prepare,
        on_stored=on_stored,
    )


def _conflict(index: int, external_id: str, where: str) -> Rejection:
    return Rejection(
        index,
        external_id,
        [
            FieldError(
                "external_id",
                "conflict",
                f"external_id '{external_id}' {where} with other content; "
                "the stored record is kept",
            )
        ],
    )


def _nfc(record: CallIn | OutcomeIn, errors: list[FieldError]) -> CallIn | OutcomeIn:
    """The record with ``external_id`` and ``task_ref`` in NFC (DESIGN.md
    "Trust between the parties"): the NFD and NFC spellings of one id are one
    record. ASCII, nearly every id, is answered by a quick check."""
    external_id, task_ref = record.external_id, record.task_ref
    if unicodedata.is_normalized("NFC", external_id) and (
        task_ref is None or unicodedata.is_normalized("NFC", task_ref)
    ):
        return record
    external_id = unicodedata.normalize("NFC", external_id)
    task_ref = None if task_ref is None else unicodedata.normalize("NFC", task_ref)
    errors.extend(
        FieldError(name, "invalid_length", f"{name} is longer than {ID_MAX_LENGTH} in NFC")
        for name, value in (("external_id", external_id), ("task_ref", task_ref))
        if value is not None and len(value) > ID_MAX_LENGTH
    )
    return msgspec.structs.replace(record, external_id=external_id, task_ref=task_ref)


def _ingest(
    *,
    contract: Contract,
    batch: DecodedBatch,
    table: str,
    columns: tuple[str, ...],
    prepare: Callable[[Any, list[FieldError]], _Prepared | None],
    on_stored: Callable[[dict[date, Decimal]], None] | None = None,
    on_inserted: Callable[[list[tuple]], None] | None = None,
) -> IngestReport:
    """``on_inserted``: called in the storing transaction with the rows
    inserted (tuples in ``columns`` order)."""
    report = IngestReport(rejected=list(batch.rejected))
    firsts: dict[str, _Prepared] = {}
    first_index: dict[str, int] = {}
    repeats: list[tuple[int, str, bytes]] = []
    with exact_context():
        for index, record in batch.records:
            errors: list[FieldError] = []
            record = _nfc(record, errors)
            prepared = None if errors else prepare(record, errors)
            if prepared is None:
                report.rejected.append(Rejection(index, record.external_id, errors))
            elif record.external_id in firsts:
                repeats.append((index, record.external_id, prepared.fingerprint))
            else:
                firsts[record.external_id] = prepared
                first_index[record.external_id] = index
    with transaction.atomic():
        stored = store_new(
            table=table,
            columns=columns,
            rows=[p.row for p in firsts.values()],
            contract_id=contract.id,
            fingerprints={e: p.fingerprint for e, p in firsts.items()},
        )
        days = sorted({firsts[e].day for e in stored.inserted})
        DirtyDay.objects.bulk_create(DirtyDay(contract=contract, day=d) for d in days)
        if on_inserted is not None:
            on_inserted([firsts[e].row for e in stored.inserted])
        if on_stored is not None:
            charge_units: dict[date, int] = defaultdict(int)
            for external_id in stored.inserted:
                charge_units[firsts[external_id].day] += firsts[external_id].charge_units
            on_stored({day: from_units(units) for day, units in charge_units.items()})
    report.accepted = len(stored.inserted)
    report.duplicates = len(stored.duplicates)
    report.rejected += [_conflict(first_index[e], e, "already exists") for e in stored.conflicts]
    for index, external_id, fingerprint in repeats:
        if external_id in stored.conflicts:
            report.rejected.append(_conflict(index, external_id, "already exists"))
        elif fingerprint != firsts[external_id].fingerprint:
            report.rejected.append(_conflict(index, external_id, "appears earlier in this batch"))
        else:
            report.duplicates += 1
    report.rejected.sort(key=lambda r: r.index)
    return report


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
        raise InvalidInput("a reason is required", code="reason_required")
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
                code="invalid_transition",
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
