"""Writes to the model catalog and the price book (DESIGN.md "Price book").

Prices are USD per million tokens (``per_request_usd``: USD per call). A
stored price row is never changed: a new price is a new row with a later
``effective_from``, and an import that disagrees with a stored row is
rejected, not applied.
"""

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from core.batch import FieldError, amount_errors
from core.errors import Conflict, DomainError, ErrorCode, InvalidInput
from routing.models import PRICE, LlmModel, ModelAlias, Price, ServiceTier, Tier
from routing.selectors import backdating_errors, models_named, names_taken

# One advisory lock for every writer of the catalog and the price book: a
# name must be unique across model names *and* aliases (two tables, which no
# constraint spans), and an import compares with stored rows before it
# inserts. Writers are rare (admins, a nightly import), so one lock costs
# nothing.
CATALOG_LOCK_KEY = 0x0C47A106

# The price columns hold 10 integer digits (max_digits - decimal_places).
_PRICE_LIMIT = Decimal(10) ** (PRICE["max_digits"] - PRICE["decimal_places"])


def _lock_catalog() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CATALOG_LOCK_KEY])


def _invalid(message: str, errors: list[FieldError]) -> InvalidInput:
    return InvalidInput(message, details=[error.as_dict() for error in errors])


# --- models -----------------------------------------------------------------


def _name_errors(field_name: str, value: str, *, max_length: int) -> list[FieldError]:
    if not value or value != value.strip():
        return [FieldError(field_name, ErrorCode.INVALID, f"{field_name} must be a non-blank name")]
    if len(value) > max_length:
        return [
            FieldError(
                field_name, ErrorCode.INVALID_LENGTH, f"{field_name} is over {max_length} chars"
            )
        ]
    return []


def model_errors(
    *, name: str, provider: str, tier: str, aliases: Sequence[str]
) -> list[FieldError]:
    """What is wrong with a new catalog entry, before the catalog is read."""
    errors = _name_errors("name", name, max_length=200)
    errors += _name_errors("provider", provider, max_length=100)
    if tier not in Tier.values:
        errors.append(
            FieldError(
                "tier", ErrorCode.INVALID_CHOICE, f"tier must be one of {', '.join(Tier.values)}"
            )
        )
    for alias in aliases:
        errors += _name_errors("aliases", alias, max_length=200)
    if name in aliases:
        errors.append(FieldError("aliases", ErrorCode.INVALID, f"'{name}' is the model's own name"))
    if len(set(aliases)) != len(aliases):
        errors.append(FieldError("aliases", ErrorCode.INVALID, "an alias is listed twice"))
    return errors


def model_check(
    *,
    name: str,
    provider: str,
    tier: str,
    aliases: Sequence[str],
    model: LlmModel | None = None,
) -> None:
    """What model_create and model_update refuse, raised: InvalidInput for an
    entry that is not valid, Conflict for a name or alias that another model
    already has (a call names its model by either, so each string means one
    model; ``model``: the entry being edited, whose own names stay free).

    It takes the catalog lock before it reads the catalog, so a write later
    in the same transaction goes in against the catalog as checked: the
    admin checks in its form and writes on save, in one transaction."""
    aliases = list(aliases)
    errors = model_errors(name=name, provider=provider, tier=tier, aliases=aliases)
    if errors:
        raise _invalid("the model is not valid", errors)
    _lock_catalog()
    taken = sorted(
        names_taken(names=[name, *aliases], other_than=model.id if model is not None else None)
    )
    if taken:
        raise Conflict(
            f"already in the catalog as a model name or alias: {', '.join(taken)}",
            details={"taken": taken},
        )


@transaction.atomic
def model_create(*, name: str, provider: str, tier: str, aliases: Sequence[str] = ()) -> LlmModel:
    """A new catalog entry, under model_check's rules."""
    aliases = list(aliases)
    model_check(name=name, provider=provider, tier=tier, aliases=aliases)
    model = LlmModel.objects.create(name=name, provider=provider, tier=tier)
    ModelAlias.objects.bulk_create(ModelAlias(llm_model=model, alias=alias) for alias in aliases)
    return model


@transaction.atomic
def model_update(
    *, model: LlmModel, name: str, provider: str, tier: str, aliases: Sequence[str]
) -> LlmModel:
    """A catalog entry's new name, provider, tier and aliases, under
    model_check's rules; ``aliases`` is the whole new list: aliases left out
    are removed, new ones added. A renamed model keeps its old name as an
    alias unless the same edit gives that name back as its name."""
    aliases = list(aliases)
    if name != model.name and model.name not in aliases:
        # The old name stays an alias: clients, stored policy versions and
        # price imports that name it keep resolving to the same model.
        aliases.append(model.name)
    model_check(name=name, provider=provider, tier=tier, aliases=aliases, model=model)
    model.name, model.provider, model.tier = name, provider, tier
    model.save(update_fields=["name", "provider", "tier"])
    model.aliases.exclude(alias__in=aliases).delete()
    kept = set(model.aliases.values_list("alias", flat=True))
    ModelAlias.objects.bulk_create(
        ModelAlias(llm_model=model, alias=alias) for alias in aliases if alias not in kept
    )
    return model


@transaction.atomic
def model_delete(*, model: LlmModel) -> None:
    """A catalog entry and its aliases. Price rows, calls and contract
    baselines protect the model they name (ProtectedError); the lock keeps an
    import from pricing a model that is going away."""
    _lock_catalog()
    model.delete()


# --- prices -----------------------------------------------------------------


TOKEN_PRICES = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
PRICE_COLUMNS = (
    *TOKEN_PRICES,
    "per_request_usd",
    "long_context_threshold",
    *(f"long_context_{name}" for name in TOKEN_PRICES),
)


@dataclass(frozen=True, slots=True)
class LongContextIn:
    """The second set of prices, used for the whole call above the threshold."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceIn:
    """One price row to store, USD per million tokens."""

    effective_from: datetime
    input: Decimal
    output: Decimal
    service_tier: str = ServiceTier.STANDARD
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    per_request_usd: Decimal = Decimal(0)
    long_context_threshold: int | None = None
    long_context: LongContextIn | None = None

    def columns(self) -> dict[str, Any]:
        """The Price columns this row sets: its key and its prices."""
        return {
            "service_tier": self.service_tier,
            "effective_from": self.effective_from,
            **self.prices(),
        }

    def prices(self) -> dict[str, Any]:
        """The price columns alone, to compare with a stored row."""
        values = {name: getattr(self, name) for name in TOKEN_PRICES}
        values["per_request_usd"] = self.per_request_usd
        values["long_context_threshold"] = self.long_context_threshold
        for name in TOKEN_PRICES:
            values[f"long_context_{name}"] = (
                getattr(self.long_context, name) if self.long_context else None
            )
        return values


def _amount_errors(name: str, value: Decimal | None) -> list[FieldError]:
    errors = amount_errors(name, value, places=PRICE["decimal_places"])
    if not errors and value is not None and value >= _PRICE_LIMIT:
        errors.append(FieldError(name, ErrorCode.OUT_OF_RANGE, f"{name} is too large"))
    return errors


def price_errors(price: PriceIn) -> list[FieldError]:
    """What is wrong with a price row on its own (DESIGN.md "Price book")."""
    errors: list[FieldError] = []
    if price.service_tier not in ServiceTier.values:
        errors.append(
            FieldError(
                "service_tier",
                ErrorCode.INVALID_CHOICE,
                f"service_tier must be one of {', '.join(ServiceTier.values)}",
            )
        )
    if price.effective_from.utcoffset() is None:
        errors.append(
            FieldError("effective_from", ErrorCode.NAIVE_DATETIME, "effective_from needs an offset")
        )
    for name in TOKEN_PRICES:
        errors += _amount_errors(name, getattr(price, name))
    errors += _amount_errors("per_request", price.per_request_usd)
    threshold, long_context = price.long_context_threshold, price.long_context
    if threshold is not None and threshold <= 0:
        errors.append(
            FieldError(
                "long_context_threshold", ErrorCode.OUT_OF_RANGE, "the threshold must be > 0"
            )
        )
    if (threshold is None) != (long_context is None):
        errors.append(
            FieldError(
                "long_context",
                ErrorCode.REQUIRED,
                "long_context_threshold and long_context prices go together",
            )
        )
    if long_context is not None:
        errors += [
            FieldError(
                f"long_context.{name}", ErrorCode.REQUIRED, f"long_context.{name} is required"
            )
            for name in ("input", "output")
            if getattr(long_context, name) is None
        ]
        for name in TOKEN_PRICES:
            errors += _amount_errors(f"long_context.{name}", getattr(long_context, name))
    return errors


def price_check(*, model: LlmModel, price: PriceIn, reprice: bool = False) -> None:
    """What price_create refuses, raised: InvalidInput for a row that is not
    a valid price; Conflict for a row already at the same (model, service
    tier, effective_from), since stored prices are never overwritten; and
    Conflict ``backdated_price`` for a back-dated row (one that calls
    already costed with another row would fall under), unless ``reprice``:
    only a decided reprice (billing.reprice.reprice_apply) passes it, and
    posts the adjustments (DESIGN.md "Cost drift, repricing").

    Like model_check, it takes the catalog lock before it reads."""
    errors = price_errors(price)
    if errors:
        raise _invalid("the price is not valid", errors)
    _lock_catalog()
    if Price.objects.filter(
        llm_model=model, service_tier=price.service_tier, effective_from=price.effective_from
    ).exists():
        raise Conflict(
            f"{model.name} already has a {price.service_tier} price from "
            f"{price.effective_from.isoformat()}; add a row with a later effective_from"
        )
    backdated = (
        []
        if reprice
        else backdating_errors(
            model_id=model.id, service_tier=price.service_tier, effective_from=price.effective_from
        )
    )
    if backdated:
        raise Conflict(backdated[0], code=ErrorCode.BACKDATED_PRICE)


@transaction.atomic
def price_create(
    *,
    model: LlmModel,
    effective_from: datetime,
    input: Decimal,
    output: Decimal,
    service_tier: str = ServiceTier.STANDARD,
    cache_read: Decimal | None = None,
    cache_write: Decimal | None = None,
    cache_write_1h: Decimal | None = None,
    per_request_usd: Decimal = Decimal(0),
    long_context_threshold: int | None = None,
    long_context: LongContextIn | None = None,
    source: str = "",
    reprice: bool = False,
) -> Price:
    """A new price row, under price_check's rules."""
    price = PriceIn(
        effective_from=effective_from,
        input=input,
        output=output,
        service_tier=service_tier,
        cache_read=cache_read,
        cache_write=cache_write,
        cache_write_1h=cache_write_1h,
        per_request_usd=per_request_usd,
        long_context_threshold=long_context_threshold,
        long_context=long_context,
    )
    price_check(model=model, price=price, reprice=reprice)
    return Price.objects.create(llm_model=model, source=source, **price.columns())


# --- imports ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelIn:
    """The catalog entry a price row names; created when missing."""

    name: str
    provider: str
    tier: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PriceRowIn:
    """One row an importer read. ``origin`` says where it came from (a JSON
    key, a CSV line); ``errors`` holds what the importer could not read, in
    which case ``price`` is None and the row is rejected."""

    origin: str
    model: ModelIn
    price: PriceIn | None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RowRef:
    origin: str
    model: str
    service_tier: str | None
    effective_from: datetime | None

    @classmethod
    def of(cls, row: PriceRowIn) -> "RowRef":
        price = row.price
        return cls(
            row.origin,
            row.model.name,
            price.service_tier if price else None,
            price.effective_from if price else None,
        )


@dataclass(frozen=True, slots=True)
class RejectedRow:
    row: RowRef
    reasons: list[str]


@dataclass(slots=True)
class ImportReport:
    added: list[RowRef] = field(default_factory=list)
    unchanged: list[RowRef] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    models_created: list[str] = field(default_factory=list)
    # Created with no tier from the operator (docs/PRICES.md "Tiers").
    models_untiered: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Catalog:
    """What the import has read or written so far: models by name or alias,
    and each (model, service tier)'s rows as (effective_from, prices)."""

    models: dict[str, LlmModel | None] = field(default_factory=dict)
    rows: dict[tuple[int, str], list[tuple[datetime, dict[str, Any]]]] = field(default_factory=dict)

    def resolve(self, name: str) -> LlmModel | None:
        if name not in self.models:
            self.models[name] = models_named(name=name).first()
        return self.models[name]

    def add_model(self, model: LlmModel, entry: ModelIn) -> None:
        for name in (entry.name, *entry.aliases):
            self.models[name] = model

    def rows_of(self, model: LlmModel, service_tier: str) -> list:
        key = (model.id, service_tier)
        if key not in self.rows:
            stored = Price.objects.filter(llm_model=model, service_tier=service_tier)
            self.rows[key] = [
                (row.effective_from, {column: getattr(row, column) for column in PRICE_COLUMNS})
                for row in stored.order_by("effective_from")
            ]
        return self.rows[key]


def _differences(new: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    return [
        f"{column} {new[column]} (stored {stored[column]})"
        for column in PRICE_COLUMNS
        if new[column] != stored[column]
    ]


def _compare(rows: list, price: PriceIn) -> tuple[str, list[str]]:
    """("added" | "unchanged" | "rejected", reasons). Unchanged: the row in
    force at effective_from already has these prices, so a new row would
    change nothing (an exact duplicate is the common case). Rejected: a row
    at the same instant with other prices: the stored row stays."""
    new = price.prices()
    position = bisect_right([start for start, _ in rows], price.effective_from)
    if not position:
        return "added", []
    start, stored = rows[position - 1]
    differences = _differences(new, stored)
    if not differences:
        return "unchanged", []
    if start == price.effective_from:
        return "rejected", [
            "differs from the stored row at the same (model, service_tier, effective_from): "
            + "; ".join(differences)
        ]
    return "added", []


@transaction.atomic
def prices_import(*, rows: Iterable[PriceRowIn], source: str) -> ImportReport:
    """Store the rows that are new; report added, unchanged and rejected rows
    with reasons. Models the rows name are created when missing. ``rows`` is
    consumed once, in order, so a caller may wrap it in a progress bar."""
    _lock_catalog()
    report = ImportReport()
    catalog = _Catalog()
    new_rows: list[Price] = []
    for row in rows:
        ref = RowRef.of(row)
        reasons = list(row.errors) or [error.message for error in price_errors(row.price)]
        if reasons:
            report.rejected.append(RejectedRow(ref, reasons))
            continue
        model = catalog.resolve(row.model.name)
        if model is None:
            try:
                model = model_create(
                    name=row.model.name,
                    provider=row.model.provider,
                    tier=row.model.tier,
                    aliases=row.model.aliases,
                )
            except DomainError as exc:
                details = exc.details if isinstance(exc.details, list) else []
                report.rejected.append(
                    RejectedRow(ref, [exc.message, *(d["message"] for d in details)])
                )
                continue
            catalog.add_model(model, row.model)
            report.models_created.append(model.name)
            if model.tier == Tier.UNKNOWN:
                report.models_untiered.append(model.name)
        stored = catalog.rows_of(model, row.price.service_tier)
        outcome, reasons = _compare(stored, row.price)
        if outcome == "added" and model.name not in report.models_created:
            reasons = backdating_errors(
                model_id=model.id,
                service_tier=row.price.service_tier,
                effective_from=row.price.effective_from,
            )
            outcome = "rejected" if reasons else outcome
        if outcome == "rejected":
            report.rejected.append(RejectedRow(ref, reasons))
        elif outcome == "unchanged":
            report.unchanged.append(ref)
        else:
            start = row.price.effective_from
            stored.insert(bisect_right([s for s, _ in stored], start), (start, row.price.prices()))
            new_rows.append(Price(llm_model=model, source=source, **row.price.columns()))
            report.added.append(ref)
    Price.objects.bulk_create(new_rows)
    return report
