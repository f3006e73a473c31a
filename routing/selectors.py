"""Reads of the catalog and price book."""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

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


def price_book_load(*, names: Iterable[str], baseline_model_id: int | None = None) -> PriceBook:
    """The models named (by name or alias), the baseline candidates, and all
    their price rows: three queries, whatever the batch size."""
    names = set(names)
    book = PriceBook(_baseline_model_id=baseline_model_id)
    found = LlmModel.objects.filter(Q(name__in=names) | Q(aliases__alias__in=names)).distinct()
    for model in found.prefetch_related("aliases"):
        ref = ModelRef(model.id, model.name, model.tier)
        book.models[model.name] = ref
        for alias in model.aliases.all():
            book.models[alias.alias] = ref
    ids = {ref.id for ref in book.models.values()}
    baseline = (
        Q(llm_model_id=baseline_model_id) if baseline_model_id else Q(llm_model__tier=Tier.FRONTIER)
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
        frontier_ids = set(LlmModel.objects.filter(tier=Tier.FRONTIER).values_list("id", flat=True))
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


def model_get(*, name: str) -> LlmModel:
    model = model_list().filter(pk__in=models_named(name=name)).first()
    if model is None:
        raise NotFound(f"no model or alias '{name}' in the catalog")
    return model


def price_list(*, model: LlmModel) -> QuerySet[Price]:
    return Price.objects.filter(llm_model=model).order_by("service_tier", "effective_from")


def names_taken(*, names: Iterable[str]) -> set[str]:
    """Which of ``names`` the catalog already uses, as a model name or an alias."""
    names = set(names)
    return set(LlmModel.objects.filter(name__in=names).values_list("name", flat=True)) | set(
        ModelAlias.objects.filter(alias__in=names).values_list("alias", flat=True)
    )
