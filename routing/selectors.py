"""Reads of the catalog and price book."""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from core.errors import NotFound
from routing.models import LlmModel, ModelAlias, Price, ServiceTier, Tier
from routing.pricing import PriceRow


@dataclass(frozen=True, slots=True)
class ModelRef:
    id: int
    name: str
    tier: str


@dataclass(slots=True)
class PriceBook:
    """The catalog entries and price rows needed to cost a batch of calls."""

    models: dict[str, ModelRef] = field(default_factory=dict)
    _rows: dict[tuple[int, str], list[PriceRow]] = field(default_factory=dict)
    _starts: dict[tuple[int, str], list[datetime]] = field(default_factory=dict)
    # The baseline model: the contract's, or else a timeline of the most
    # expensive frontier model (change instants, model id from each instant).
    _baseline_model_id: int | None = None
    _baseline_changes: list[datetime] = field(default_factory=list)
    _baseline_models: list[int] = field(default_factory=list)

    def resolve(self, name: str) -> ModelRef | None:
        """A model by canonical name or alias."""
        return self.models.get(name)

    def price_at(self, model_id: int, service_tier: str, at: datetime) -> PriceRow | None:
        """The row with the greatest effective_from <= at, for the call's
        service tier, else the standard tier (DESIGN.md "Price book")."""
        for tier in (service_tier, ServiceTier.STANDARD):
            starts = self._starts.get((model_id, tier))
            if starts:
                position = bisect_right(starts, at)
                if position:
                    return self._rows[(model_id, tier)][position - 1]
        return None

    def baseline_model_at(self, at: datetime) -> int | None:
        """DESIGN.md "Routing savings": the contract's baseline model, else the
        most expensive frontier model at ``at`` (docs/SETTLEMENT.md)."""
        if self._baseline_model_id is not None:
            return self._baseline_model_id
        position = bisect_right(self._baseline_changes, at)
        return self._baseline_models[position - 1] if position else None


def _most_expensive_timeline(rows: list[PriceRow]) -> tuple[list[datetime], list[int]]:
    """At every instant a standard frontier price row starts, the frontier
    model whose standard (input + output) price in force is the highest
    (ties: the lower model id)."""
    by_model: dict[int, list[PriceRow]] = defaultdict(list)
    for row in rows:
        by_model[row.model_id].append(row)
    changes = sorted({row.effective_from for row in rows})
    winners = []
    for instant in changes:
        in_force = {}
        for model_id, model_rows in by_model.items():
            position = bisect_right([r.effective_from for r in model_rows], instant)
            if position:
                p = model_rows[position - 1].standard
                in_force[model_id] = p.input + p.output
        winners.append(min(in_force, key=lambda m: (-in_force[m], m)))
    return changes, winners


def price_book_load(
    *,
    names: Iterable[str],
    baseline_model_id: int | None = None,
    baseline_among: Iterable[int] | None = None,
    baseline_among_named: bool = False,
) -> PriceBook:
    """The models named (by name or alias), the baseline candidates, and all
    their price rows: three queries, whatever the batch size.

    Without a contract baseline model, the default baseline is the most
    expensive frontier model among ``baseline_among`` (and, with
    ``baseline_among_named``, the models named): DESIGN.md "Routing savings"
    (docs/SETTLEMENT.md "Routing savings"). ``baseline_among`` None means
    every frontier model of the catalog (the routing simulation's world)."""
    names = set(names)
    book = PriceBook(_baseline_model_id=baseline_model_id)
    found = LlmModel.objects.filter(Q(name__in=names) | Q(aliases__alias__in=names)).distinct()
    for model in found.prefetch_related("aliases"):
        ref = ModelRef(model.id, model.name, model.tier)
        book.models[model.name] = ref
        for alias in model.aliases.all():
            book.models[alias.alias] = ref
    ids = {ref.id for ref in book.models.values()}
    frontier = LlmModel.objects.filter(tier=Tier.FRONTIER)
    if baseline_among is not None:
        among = set(baseline_among) | (ids if baseline_among_named else set())
        frontier = frontier.filter(id__in=among)
    frontier_ids = set() if baseline_model_id else set(frontier.values_list("id", flat=True))
    baseline = (
        Q(llm_model_id=baseline_model_id) if baseline_model_id else Q(llm_model_id__in=frontier_ids)
    )
    grouped: dict[tuple[int, str], list[PriceRow]] = defaultdict(list)
    for price in Price.objects.filter(Q(llm_model_id__in=ids) | baseline).order_by(
        "effective_from", "id"
    ):
        grouped[(price.llm_model_id, price.service_tier)].append(PriceRow.from_model(price))
    for key, rows in grouped.items():
        book._rows[key] = rows
        book._starts[key] = [row.effective_from for row in rows]
    if baseline_model_id is None:
        standard_rows = [
            row
            for (model_id, tier), rows in grouped.items()
            if model_id in frontier_ids and tier == ServiceTier.STANDARD
            for row in rows
        ]
        book._baseline_changes, book._baseline_models = _most_expensive_timeline(standard_rows)
    return book


def model_list(*, tier: str | None = None, provider: str | None = None) -> QuerySet[LlmModel]:
    models = LlmModel.objects.prefetch_related(
        Prefetch("aliases", queryset=ModelAlias.objects.order_by("alias"))
    )
    if tier is not None:
        models = models.filter(tier=tier)
    if provider is not None:
        models = models.filter(provider=provider)
    return models


def models_named(*, name: str) -> QuerySet[LlmModel]:
    """The model whose canonical name or alias is ``name`` (zero or one)."""
    return LlmModel.objects.filter(Q(name=name) | Q(aliases__alias=name)).distinct()


def model_ids_named(*, names: Iterable[str]) -> dict[str, int]:
    """{name: model id} for each of ``names`` that is a model's canonical
    name or alias (a renamed model keeps its old name as an alias,
    routing.services.model_update); names neither are left out."""
    names = list(names)
    ids = dict(LlmModel.objects.filter(name__in=names).values_list("name", "id"))
    missing = [name for name in names if name not in ids]
    if missing:
        ids |= dict(
            ModelAlias.objects.filter(alias__in=missing).values_list("alias", "llm_model_id")
        )
    return ids


def model_get(*, name: str) -> LlmModel:
    model = model_list().filter(pk__in=models_named(name=name)).first()
    if model is None:
        raise NotFound(f"no model or alias '{name}' in the catalog")
    return model


def price_list(*, model: LlmModel) -> QuerySet[Price]:
    return Price.objects.filter(llm_model=model).order_by("service_tier", "effective_from")


def model_labels(*, ids: Iterable[int], label: str) -> dict[int, str]:
    """{model id: its ``label``, "name" or "tier"}."""
    return dict(LlmModel.objects.filter(id__in=list(ids)).values_list("id", label))


def names_taken(*, names: Iterable[str], other_than: int | None = None) -> set[str]:
    """Which of ``names`` the catalog already uses, as a model name or an
    alias: of any model, or of any model but the one with id ``other_than``
    (a model keeps its own names when it is edited)."""
    names = set(names)
    models = LlmModel.objects.filter(name__in=names)
    aliases = ModelAlias.objects.filter(alias__in=names)
    if other_than is not None:
        models = models.exclude(id=other_than)
        aliases = aliases.exclude(llm_model_id=other_than)
    return set(models.values_list("name", flat=True)) | set(aliases.values_list("alias", flat=True))


# The calls table belongs to the ledger, a layer above the price book; this
# one read names it in SQL so the price book does not import the ledger.
# Calls are not indexed by model: a scan, for a write that admins make rarely.
COSTED_CALLS_SQL = """
SELECT count(*) FROM ledger_call
 WHERE llm_model_id = %(model_id)s AND price_id IS NOT NULL
   AND occurred_at >= %(start)s AND (%(end)s::timestamptz IS NULL OR occurred_at < %(end)s)
   AND (%(service_tier)s = 'standard' OR service_tier = %(service_tier)s)
"""


def costed_calls_count(
    *, model_id: int, service_tier: str, start: datetime, end: datetime | None
) -> int:
    """Calls of the model in [start, end) that a price row already costed:
    the calls a new row from ``start`` would have costed otherwise (for the
    standard tier, calls of every tier, which fall back to it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            COSTED_CALLS_SQL,
            {"model_id": model_id, "service_tier": service_tier, "start": start, "end": end},
        )
        return cursor.fetchone()[0]


def next_price_start(*, model_id: int, service_tier: str, after: datetime) -> datetime | None:
    """When the model's next row of that tier after ``after`` takes over."""
    return (
        Price.objects.filter(
            llm_model_id=model_id, service_tier=service_tier, effective_from__gt=after
        )
        .order_by("effective_from")
        .values_list("effective_from", flat=True)
        .first()
    )


def backdating_errors(*, model_id: int, service_tier: str, effective_from: datetime) -> list[str]:
    """DESIGN.md "Cost drift, repricing": a price row whose effective_from
    lies before calls already costed with another row is refused unless it
    goes through a decided reprice (docs/PRICES.md "Repricing")."""
    end = next_price_start(model_id=model_id, service_tier=service_tier, after=effective_from)
    costed = costed_calls_count(
        model_id=model_id, service_tier=service_tier, start=effective_from, end=end
    )
    if not costed:
        return []
    return [
        f"{costed} call(s) from {effective_from.isoformat()} were already costed with another "
        "price row; a back-dated price goes in only as a decided reprice "
        "(manage.py reprice --apply), which posts adjustments"
    ]
