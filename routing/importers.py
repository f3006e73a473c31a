"""Readers of price files into rows for ``services.prices_import``
(DESIGN.md "Price book": Importers). docs/PRICES.md documents every mapping.

Amounts are read as Decimal from the file's text, never through float, and
per-token figures become per-million ones by a decimal shift, which is exact.
"""

import csv
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

from core.errors import ErrorCode, InvalidInput
from routing.models import PRICE, ServiceTier, Tier
from routing.services import TOKEN_PRICES, LongContextIn, ModelIn, PriceIn, PriceRowIn

BUNDLED_SNAPSHOT = Path(__file__).parent / "data" / "model_prices_2025-06.json"
BUNDLED_SOURCE = "bundled snapshot 2025-06 (providers' list prices)"
# The snapshot's prices are in force from this instant (docs/PRICES.md).
BUNDLED_EFFECTIVE_FROM = datetime(2025, 1, 1, tzinfo=UTC)

_PLACES = Decimal(1).scaleb(-PRICE["decimal_places"])


@dataclass(frozen=True, slots=True)
class Tiers:
    """The operator's word on the tiers of models an import creates
    (docs/PRICES.md "Tiers"): ``names`` maps a model name to its tier (a
    mapping file), ``default`` is the tier of every other new model (a
    flag). Precedence: the mapping, then the file's own ``tier`` (column or
    key), then the default; else the model is left ``unknown``. A tier is
    never guessed from a price: a catalog import must not make thousands of
    models frontier and so move contracts' baselines."""

    names: dict[str, str] = field(default_factory=dict)
    default: str | None = None

    def of(self, name: str, stated: str | None) -> str:
        return self.names.get(name) or stated or self.default or Tier.UNKNOWN


def tiers_read(text: str) -> dict[str, str]:
    """A mapping file: a JSON object of model name to tier, or a CSV with
    the columns ``model,tier``."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"the tier mapping is not JSON: {exc}", code=ErrorCode.MALFORMED
            ) from exc
    else:
        data = {
            row.get("model", ""): row.get("tier", "") for row in csv.DictReader(io.StringIO(text))
        }
    bad = sorted(
        str(name)
        for name, tier in data.items()
        if not isinstance(name, str) or not name or tier not in Tier.values
    )
    if bad:
        raise InvalidInput(
            f"the tier mapping names no valid tier ({', '.join(Tier.values)}) for: {', '.join(bad)}"
        )
    return data


@dataclass(slots=True)
class Parsed:
    rows: list[PriceRowIn] = field(default_factory=list)
    # Entries that are not priced chat models (LiteLLM's embeddings, images,
    # its sample_spec), by key.
    skipped: list[str] = field(default_factory=list)


# --- LiteLLM's model_prices_and_context_window.json -------------------------

LITELLM_MODES = frozenset({"chat", "completion", "responses"})

_LITELLM_PRICE = re.compile(
    r"^(?P<price>input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost(?:_above_1hr)?)"
    r"(?:_above_(?P<thousands>\d+)k_tokens)?"
    r"(?:_(?P<tier>batches|flex|priority))?$"
)
_LITELLM_PRICE_NAMES = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
}
_LITELLM_TIERS = {
    None: ServiceTier.STANDARD,
    "batches": ServiceTier.BATCH,
    "flex": ServiceTier.FLEX,
    "priority": ServiceTier.PRIORITY,
}


def per_million(per_token: Decimal | int) -> Decimal:
    """USD per token → USD per million tokens, exactly. A figure finer than
    the price book's 10 places per million (LiteLLM's file holds binary-float
    artifacts such as 3.0000000000000004e-07) is rounded half-even to them."""
    if isinstance(per_token, bool) or not isinstance(per_token, Decimal | int):
        raise ValueError(f"{per_token!r} is not a number")
    value = Decimal(per_token).scaleb(6)
    if not value.is_finite():
        return value
    exponent = value.as_tuple().exponent
    if exponent < -PRICE["decimal_places"]:
        return value.quantize(_PLACES, rounding=ROUND_HALF_EVEN)
    # 1e-05 per token is 1E+1 per million: written plainly as 10.
    return value.quantize(Decimal(1)) if exponent > 0 else value


@dataclass(slots=True)
class _TierPrices:
    standard: dict[str, Decimal] = field(default_factory=dict)
    long_context: dict[str, Decimal] = field(default_factory=dict)
    thresholds: set[int] = field(default_factory=set)


def _tier_row(
    origin: str, model: ModelIn, service_tier: str, prices: _TierPrices, effective_from: datetime
) -> PriceRowIn:
    errors = [
        f"no {name} price for the {service_tier} tier"
        for name in ("input", "output")
        if name not in prices.standard
    ]
    if len(prices.thresholds) > 1:
        errors.append(f"more than one long-context threshold: {sorted(prices.thresholds)}")
    if errors:
        return PriceRowIn(origin, model, None, tuple(errors))
    long_context = LongContextIn(**prices.long_context) if prices.long_context else None
    return PriceRowIn(
        origin,
        model,
        PriceIn(
            effective_from=effective_from,
            service_tier=service_tier,
            long_context_threshold=min(prices.thresholds) if prices.thresholds else None,
            long_context=long_context,
            **prices.standard,
        ),
    )


def _litellm_entry_rows(
    key: str, entry: dict, effective_from: datetime, tiers: Tiers
) -> list[PriceRowIn]:
    by_tier: dict[str, _TierPrices] = defaultdict(_TierPrices)
    errors = []
    for name, value in entry.items():
        match = _LITELLM_PRICE.match(name)
        if match is None:
            continue
        try:
            amount = per_million(value)
        except ValueError as exc:
            errors.append(f"{name}: {exc}")
            continue
        prices = by_tier[_LITELLM_TIERS[match["tier"]]]
        price_name = _LITELLM_PRICE_NAMES[match["price"]]
        if match["thousands"]:
            prices.long_context[price_name] = amount
            prices.thresholds.add(int(match["thousands"]) * 1000)
        else:
            prices.standard[price_name] = amount
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        errors.append("aliases must be a list of names")
    standard_input = by_tier[ServiceTier.STANDARD].standard.get("input")
    if standard_input is None:
        errors.append("no input_cost_per_token")
    provider = entry.get("litellm_provider")
    if not isinstance(provider, str):
        errors.append("no litellm_provider")
    model = ModelIn(key, str(provider), tiers.of(key, entry.get("tier")), tuple(aliases))
    if errors:
        return [PriceRowIn(key, model, None, tuple(errors))]
    return [
        _tier_row(key, model, service_tier, prices, effective_from)
        for service_tier, prices in by_tier.items()
    ]


def litellm_rows(text: str, *, effective_from: datetime, tiers: Tiers = Tiers()) -> Parsed:
    """Rows from LiteLLM's ``model_prices_and_context_window.json``: one row
    per priced service tier of each chat entry, all from ``effective_from``
    (the file has no dates). Two optional keys per entry, ``tier`` and
    ``aliases``, carry what the format lacks (the bundled snapshot uses them);
    ``tiers`` is the operator's word on the rest (Tiers)."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not JSON: {exc}", code=ErrorCode.MALFORMED) from exc
    if not isinstance(data, dict):
        raise InvalidInput("not a LiteLLM price file: the top level must be an object")
    parsed = Parsed()
    for key, entry in data.items():
        is_chat = isinstance(entry, dict) and entry.get("mode") in LITELLM_MODES
        if key == "sample_spec" or not is_chat:
            parsed.skipped.append(key)
        else:
            parsed.rows.extend(_litellm_entry_rows(key, entry, effective_from, tiers))
    return parsed


def bundled_rows() -> Parsed:
    """The snapshot shipped in routing/data (docs/PRICES.md)."""
    return litellm_rows(
        BUNDLED_SNAPSHOT.read_text(encoding="utf-8"), effective_from=BUNDLED_EFFECTIVE_FROM
    )


# --- CSV ----------------------------------------------------------------------

CSV_COLUMNS = (
    "model",
    "provider",
    "tier",
    "aliases",
    "effective_from",
    "service_tier",
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "per_request",
    "long_context_threshold",
    "long_context_input",
    "long_context_output",
    "long_context_cache_read",
    "long_context_cache_write",
    "long_context_cache_write_1h",
)
CSV_REQUIRED = ("model", "effective_from", "input", "output")


class _CsvRecord:
    """One CSV line's cells, read with every problem collected."""

    def __init__(self, cells: dict):
        # DictReader files cells beyond the header under the key None.
        self.errors: list[str] = ["more cells than columns"] if None in cells else []
        self.cells = {
            name: (value or "").strip() for name, value in cells.items() if name is not None
        }

    def text(self, name: str) -> str:
        return self.cells.get(name, "")

    def decimal(self, name: str) -> Decimal | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            return Decimal(raw)
        except InvalidOperation:
            self.errors.append(f"{name}: {raw!r} is not a number")
            return None

    def integer(self, name: str) -> int | None:
        raw = self.text(name)
        if not raw:
            return None
        if not raw.isdigit():
            self.errors.append(f"{name}: {raw!r} is not a whole number")
            return None
        return int(raw)

    def time(self, name: str) -> datetime | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            self.errors.append(f"{name}: {raw!r} is not an RFC 3339 time")
            return None
        if value.utcoffset() is None:
            self.errors.append(f"{name}: {raw!r} needs an offset (Z or +hh:mm)")
            return None
        return value


def _csv_row(origin: str, record: _CsvRecord, tiers: Tiers) -> PriceRowIn:
    for name in CSV_REQUIRED:
        if not record.text(name):
            record.errors.append(f"{name} is required")
    input_price = record.decimal("input")
    long_context = {name: record.decimal(f"long_context_{name}") for name in TOKEN_PRICES}
    price = PriceIn(
        effective_from=record.time("effective_from"),
        service_tier=record.text("service_tier") or ServiceTier.STANDARD,
        input=input_price,
        output=record.decimal("output"),
        cache_read=record.decimal("cache_read"),
        cache_write=record.decimal("cache_write"),
        cache_write_1h=record.decimal("cache_write_1h"),
        per_request_usd=record.decimal("per_request") or Decimal(0),
        long_context_threshold=record.integer("long_context_threshold"),
        long_context=LongContextIn(**long_context)
        if any(value is not None for value in long_context.values())
        else None,
    )
    tier = tiers.of(record.text("model"), record.text("tier"))
    aliases = tuple(alias.strip() for alias in record.text("aliases").split("|") if alias.strip())
    model = ModelIn(record.text("model"), record.text("provider"), tier, aliases)
    if record.errors:
        return PriceRowIn(origin, model, None, tuple(record.errors))
    return PriceRowIn(origin, model, price)


def csv_rows(text: str, *, tiers: Tiers = Tiers()) -> Parsed:
    """Rows from a CSV with a header of CSV_COLUMNS (docs/PRICES.md); the
    model, effective_from, input and output columns are required, the others
    may be left out. ``aliases`` are separated by ``|``."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [name for name in CSV_REQUIRED if name not in header]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if missing or unknown:
        raise InvalidInput(
            "the CSV header does not match docs/PRICES.md",
            details={"missing": missing, "unknown": unknown},
        )
    parsed = Parsed()
    for cells in reader:
        parsed.rows.append(_csv_row(f"line {reader.line_num}", _CsvRecord(cells), tiers))
    return parsed
