"""Reads of the catalog and price book."""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from core.errors import NotFound
from routing.models import LlmModel, ModelAlias, Price, ServiceTier
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


def price_book_load(*, names: Iterable[str]) -> PriceBook:
    """Two queries: the models (by name or alias) and all their price rows."""
    names = set(names)
    book = PriceBook()
    found = LlmModel.objects.filter(Q(name__in=names) | Q(aliases__alias__in=names)).distinct()
    for model in found.prefetch_related("aliases"):
        ref = ModelRef(model.id, model.name, model.tier)
        book.models[model.name] = ref
        for alias in model.aliases.all():
            book.models[alias.alias] = ref
    grouped: dict[tuple[int, str], list[PriceRow]] = defaultdict(list)
    ids = {ref.id for ref in book.models.values()}
    for price in Price.objects.filter(llm_model_id__in=ids).order_by("effective_from"):
        grouped[(price.llm_model_id, price.service_tier)].append(PriceRow.from_model(price))
    for key, rows in grouped.items():
        book._rows[key] = rows
        book._starts[key] = [row.effective_from for row in rows]
    return book


def model_list() -> QuerySet[LlmModel]:
    return LlmModel.objects.prefetch_related(
        Prefetch("aliases", queryset=ModelAlias.objects.order_by("alias"))
    )


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
