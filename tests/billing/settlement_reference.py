"""A pure-Decimal reference model of settlement, written apart from the code
under test from DESIGN.md ("Call", "Outcome", "Charges", "Period settlement",
"Routing savings") and docs/SETTLEMENT.md, and the harness that feeds the
same raw records (ledger.records.CallIn / OutcomeIn) to the model and to the
real services.

The model never touches the database and imports nothing of the code it
checks: it prices calls from a catalog of plain price rows, values outcomes
from plain schedules, cuts calendar periods in the contract's time zone with
zoneinfo, computes each statement with plain Decimal arithmetic at a
precision nothing reaches, and keeps its own books of issued statements
(settlements, adjustments, the contract-wide payout cap).
"""

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from zoneinfo import ZoneInfo

from billing.models import Contract
from core.batch import DecodedBatch
from ledger import ingestion, services
from ledger.records import CallIn, OutcomeIn
from routing.models import LlmModel
from tests.factories import (
    ContractFactory,
    FeeScheduleRowFactory,
    LlmModelFactory,
    PriceFactory,
    ValueScheduleRowFactory,
)

MILLION = Decimal(1_000_000)
MINOR_UNITS = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3}
ZERO = Decimal(0)
# More digits than any figure here has: sums, products and quotients are
# exact (or correctly rounded far beyond any place a figure keeps).
DIGITS = 120

# A statement's ratios: they have no difference, so an adjustment shows
# them null (docs/SETTLEMENT.md "Adjustments").
RATIOS = ("roi", "efficiency")


def to_places(value: Decimal, places: int, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """``value`` rounded once to ``places`` decimal places (half even
    unless told)."""
    with localcontext(prec=DIGITS):
        return value.quantize(Decimal(1).scaleb(-places), rounding=rounding)


def q10(value: Decimal) -> Decimal:
    """A per-record amount: 10 places (DESIGN.md "Money and numbers")."""
    return to_places(value, 10)


def text10(value: Decimal) -> str:
    return f"{q10(value):f}"


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """A ratio to 4 places; null over zero (DESIGN.md: roi is null when
    charges = 0)."""
    if denominator == 0:
        return None
    with localcontext(prec=DIGITS):
        return to_places(numerator / denominator, 4)


# Catalog -------------------------------------------------------------------


@dataclass(frozen=True)
class PriceRef:
    """USD per million tokens; a missing cache price is the input price, a
    missing one-hour write price the cache write price."""

    model: str
    effective_from: datetime
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    per_request: Decimal = ZERO


@dataclass(frozen=True)
class Catalog:
    """Models in creation (id) order as (name, tier), and their price rows."""

    models: tuple[tuple[str, str], ...]
    prices: tuple[PriceRef, ...]

    def tier(self, name: str) -> str:
        return dict(self.models)[name]

    def price_at(self, name: str, at: datetime) -> PriceRef | None:
        rows = [p for p in self.prices if p.model == name and p.effective_from <= at]
        return max(rows, key=lambda p: p.effective_from, default=None)

    def baseline_at(self, at: datetime, contract_baseline: str | None) -> str | None:
        """The contract's baseline model, else the most expensive frontier
        model in force at ``at`` by input + output price (ties: created
        first); contract_create makes every catalog model a routing model."""
        if contract_baseline is not None:
            return contract_baseline
        best = None
        for name, tier in self.models:
            price = self.price_at(name, at)
            if tier == "frontier" and price is not None:
                total = price.input + price.output
                if best is None or total > best[0]:
                    best = (total, name)
        return None if best is None else best[1]


def tokens_cost(price: PriceRef, call: CallIn) -> Decimal:
    cache_read = price.input if price.cache_read is None else price.cache_read
    cache_write = price.input if price.cache_write is None else price.cache_write
    cache_write_1h = cache_write if price.cache_write_1h is None else price.cache_write_1h
    with localcontext(prec=DIGITS):
        total = (
            (call.input_tokens - call.cache_read_tokens - call.cache_write_tokens) * price.input
            + call.cache_read_tokens * cache_read
            + (call.cache_write_tokens - call.cache_write_1h_tokens) * cache_write
            + call.cache_write_1h_tokens * cache_write_1h
            + call.output_tokens * price.output
        )
        return q10(total / MILLION + price.per_request)


# Terms and periods ---------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """A contract's terms, as the model and the factories both read them."""

    currency: str = "USD"
    fx_rate: Decimal = Decimal(1)
    markup: Decimal = ZERO
    fixed_fee: Decimal = ZERO
    hourly_rate: Decimal | None = None
    guarantee_multiple: Decimal = ZERO
    payout_share: Decimal = Decimal(1)
    payout_cap: Decimal = ZERO
    timezone: str = "UTC"
    period: str = "month"
    starts_on: date = date(2026, 1, 1)
    ends_on: date | None = None
    grace_days: int = 7
    min_sample: int = 30
    baseline_model: str | None = None
    # (kind, task_type or None) -> amount in the contract currency
    values: dict = field(default_factory=dict)
    fees: dict = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def places(self) -> int:
        return MINOR_UNITS[self.currency]


@dataclass(frozen=True, order=True)
class PeriodRef:
    """Local dates; ``end`` is the first day after the period."""

    start: date
    end: date


# The months a calendar period of each kind begins in.
FIRST_MONTHS = {"month": tuple(range(1, 13)), "quarter": (1, 4, 7, 10), "year": (1,)}


def local_day(terms: Terms, at: datetime) -> date:
    return at.astimezone(terms.tz).date()


def local_midnight(terms: Terms, day: date) -> datetime:
    """The instant ``day`` begins in the contract's zone (where a DST jump
    skips midnight, zoneinfo reads the skipped time as the first instant
    that exists)."""
    return datetime.combine(day, time(0), tzinfo=terms.tz)


def period_containing(terms: Terms, day: date) -> PeriodRef:
    """The calendar month, quarter or year around ``day``, cut to the
    contract's life (a first or last period may be shorter)."""
    beginnings = [
        date(year, month, 1)
        for year in (day.year, day.year + 1)
        for month in FIRST_MONTHS[terms.period]
    ]
    start = max(b for b in beginnings if b <= day)
    end = min(b for b in beginnings if b > day)
    if terms.ends_on is not None:
        end = min(end, terms.ends_on + timedelta(days=1))
    return PeriodRef(max(start, terms.starts_on), end)


def due_at(terms: Terms, period: PeriodRef) -> datetime:
    """DESIGN.md: settled by the first nightly run after period_end +
    grace_days, which docs/SETTLEMENT.md places at that day's local midnight."""
    return local_midnight(terms, period.end + timedelta(days=terms.grace_days))


def periods_due(terms: Terms, as_of: datetime) -> list[PeriodRef]:
    """The contract's periods, first to last, that are due by ``as_of``."""
    due: list[PeriodRef] = []
    first_day = terms.starts_on
    while terms.ends_on is None or first_day <= terms.ends_on:
        period = period_containing(terms, first_day)
        if due_at(terms, period) > as_of:
            break
        due.append(period)
        first_day = period.end
    return due


# Figures -------------------------------------------------------------------


@dataclass(frozen=True)
class PricedCall:
    record: CallIn
    day: date
    cost: Decimal
    charge: Decimal
    baseline: Decimal


@dataclass(frozen=True)
class ValuedOutcome:
    record: OutcomeIn
    day: date
    value: Decimal
    fee: Decimal
    status: str


def call_priced(catalog: Catalog, terms: Terms, call: CallIn) -> PricedCall:
    """cost = reported cost, else computed; charge = cost x fx x (1 + markup);
    baseline = the same tokens at the baseline model, or the cost itself
    when no baseline price is in force (no savings claimed)."""
    own = catalog.price_at(call.model, call.occurred_at)
    cost = tokens_cost(own, call) if call.reported_cost_usd is None else call.reported_cost_usd
    baseline_model = catalog.baseline_at(call.occurred_at, terms.baseline_model)
    baseline_price = (
        None if baseline_model is None else catalog.price_at(baseline_model, call.occurred_at)
    )
    baseline = cost if baseline_price is None else tokens_cost(baseline_price, call)
    with localcontext(prec=DIGITS):
        charge = q10(cost * terms.fx_rate * (1 + terms.markup))
    return PricedCall(call, local_day(terms, call.occurred_at), q10(cost), charge, baseline)


def _schedule(schedule: dict, outcome: OutcomeIn) -> Decimal | None:
    return schedule.get((outcome.kind, outcome.task_type), schedule.get((outcome.kind, None)))


def outcome_valued(terms: Terms, outcome: OutcomeIn, status: str) -> ValuedOutcome:
    unit_value = _schedule(terms.values, outcome)
    if unit_value is None and outcome.kind == "hours_saved":
        unit_value = terms.hourly_rate
    unit_fee = _schedule(terms.fees, outcome) or ZERO
    with localcontext(prec=DIGITS):
        value, fee = q10(outcome.quantity * unit_value), q10(outcome.quantity * unit_fee)
    return ValuedOutcome(outcome, local_day(terms, outcome.occurred_at), value, fee, status)


@dataclass(frozen=True)
class PeriodRecords:
    calls: list[PricedCall]
    outcomes: list[ValuedOutcome]

    @property
    def accepted(self) -> list[ValuedOutcome]:
        return [o for o in self.outcomes if o.status == "accepted"]

    def digest(self) -> str:
        """API.md "Digest"."""
        lines = [f"call\t{c.record.external_id}\t{text10(c.cost)}\n" for c in self.calls] + [
            f"outcome\t{o.record.external_id}\t{text10(o.value)}\t{o.status}\n"
            for o in self.outcomes
        ]
        encoded = sorted(line.encode() for line in lines)
        return hashlib.sha256(b"".join(encoded)).hexdigest()


def figures(terms: Terms, records: PeriodRecords, paid_on_other_periods: Decimal) -> dict:
    """A period's statement totals (DESIGN.md "Period settlement", "Money and
    numbers"). The parts are rounded once from their exact sums, half even,
    to the currency's minor unit (the USD ones to cents); the totals derived
    from them are computed from the rounded parts, so the statement foots;
    ratios have 4 places.

    ``paid_on_other_periods``: the payouts of every statement issued for the
    contract's other periods, adjustments included. The cap holds
    contract-wide, and a payout is a whole number of minor units, so what
    the cap leaves is counted in whole minor units, rounded down."""
    places = terms.places
    accepted = records.accepted
    with localcontext(prec=DIGITS):
        exact_cost = sum((c.cost for c in records.calls), ZERO)
        exact_baseline = sum((c.baseline for c in records.calls), ZERO)
        parts = {
            "usage_charges": to_places(sum((c.charge for c in records.calls), ZERO), places),
            "outcome_fees": to_places(sum((o.fee for o in accepted), ZERO), places),
            "fixed_fee": to_places(terms.fixed_fee, places),
            "value": to_places(sum((o.value for o in accepted), ZERO), places),
            "cost_usd": to_places(exact_cost, 2),
            "baseline_cost_usd": to_places(exact_baseline, 2),
        }
        charges = parts["usage_charges"] + parts["outcome_fees"] + parts["fixed_fee"]
        guaranteed_value = to_places(terms.guarantee_multiple * charges, places)
        shortfall = max(ZERO, guaranteed_value - parts["value"])
        cap_left = to_places(
            max(ZERO, terms.payout_cap - paid_on_other_periods), places, ROUND_FLOOR
        )
        payout = min(to_places(shortfall * terms.payout_share, places), cap_left)
        return parts | {
            "calls": len(records.calls),
            "accepted_outcomes": len(accepted),
            "charges": charges,
            "roi": ratio(parts["value"] - charges, charges),
            "guaranteed_value": guaranteed_value,
            "shortfall": shortfall,
            "payout": payout,
            "cap_remaining": cap_left - payout,
            "savings_usd": parts["baseline_cost_usd"] - parts["cost_usd"],
            "efficiency": ratio(exact_baseline, exact_cost),
        }


def adjustment_totals(resettled: dict, issued_before: dict) -> dict:
    """docs/SETTLEMENT.md "Adjustments": every amount and count is the
    period as re-settled minus what was issued for it before; a ratio has no
    difference (null); cap_remaining is the balance after the statement."""
    with localcontext(prec=DIGITS):
        differences = {
            name: resettled[name] - issued_before[name]
            for name in resettled
            if name not in (*RATIOS, "cap_remaining")
        }
    return differences | dict.fromkeys(RATIOS) | {"cap_remaining": resettled["cap_remaining"]}


def same_period(resettled: dict, issued_before: dict) -> bool:
    """The period's own figures are as issued. cap_remaining is left out:
    it moves with other periods' payouts, and a period whose records did
    not change keeps the payout it was issued with (docs/SETTLEMENT.md
    "The payout cap")."""
    return {k: v for k, v in resettled.items() if k != "cap_remaining"} == {
        k: v for k, v in issued_before.items() if k != "cap_remaining"
    }


def totals_json(terms: Terms, totals: dict) -> dict:
    """Totals as API.md's statement shows them: amounts as strings at the
    currency's minor unit (USD figures at 2), ratios at 4, counts as ints."""

    def fixed(name: str, places: int) -> str:
        return f"{totals[name]:.{places}f}"

    shown = {name: totals[name] for name in ("calls", "accepted_outcomes")}
    shown |= {name: fixed(name, 2) for name in ("cost_usd", "baseline_cost_usd", "savings_usd")}
    shown |= {
        name: fixed(name, terms.places)
        for name in (
            "usage_charges",
            "outcome_fees",
            "fixed_fee",
            "charges",
            "value",
            "guaranteed_value",
            "shortfall",
            "payout",
            "cap_remaining",
        )
    }
    shown |= {
        name: None if totals[name] is None else fixed(name, 4) for name in ("roi", "efficiency")
    }
    return shown


def detail(catalog: Catalog, records: PeriodRecords) -> dict:
    """lines, outcome_lines, savings_by_task_type and daily, exact (10 places)."""
    lines: dict = {}
    for c in records.calls:
        key = (c.record.model, c.record.task_type)
        line = lines.setdefault(
            key,
            {
                "model": c.record.model,
                "tier": catalog.tier(c.record.model),
                "task_type": c.record.task_type,
                "calls": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
                "cache_write_1h_tokens": 0,
                "reasoning_tokens": 0,
                "cost_usd": ZERO,
                "charges": ZERO,
                "baseline_cost_usd": ZERO,
            },
        )
        line["calls"] += 1
        for tokens in (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "cache_write_1h_tokens",
            "reasoning_tokens",
        ):
            line[tokens] += getattr(c.record, tokens)
        line["cost_usd"] += c.cost
        line["charges"] += c.charge
        line["baseline_cost_usd"] += c.baseline
    by_task: dict = {}
    for line in lines.values():
        cost, base = by_task.get(line["task_type"], (ZERO, ZERO))
        by_task[line["task_type"]] = (cost + line["cost_usd"], base + line["baseline_cost_usd"])
    kinds: dict = {}
    for o in records.outcomes:
        line = kinds.setdefault(
            o.record.kind,
            {
                "kind": o.record.kind,
                "accepted": 0,
                "disputed": 0,
                "rejected": 0,
                "quantity": ZERO,
                "value": ZERO,
                "fees": ZERO,
            },
        )
        line[o.status] += 1
        if o.status == "accepted":
            line["quantity"] += o.record.quantity
            line["value"] += o.value
            line["fees"] += o.fee
    days: dict = {}
    for c in records.calls:
        day = days.setdefault(c.day, [ZERO, ZERO, ZERO])
        day[0] += c.cost
        day[1] += c.charge
    for o in records.accepted:
        day = days.setdefault(o.day, [ZERO, ZERO, ZERO])
        day[1] += o.fee
        day[2] += o.value
    money = ("cost_usd", "charges", "baseline_cost_usd", "quantity", "value", "fees")
    return {
        "lines": [
            {k: text10(v) if k in money else v for k, v in line.items()}
            for _, line in sorted(lines.items())
        ],
        "outcome_lines": [
            {k: text10(v) if k in money else v for k, v in line.items()}
            for _, line in sorted(kinds.items())
        ],
        "savings_by_task_type": [
            {
                "task_type": task,
                "cost_usd": text10(cost),
                "baseline_cost_usd": text10(base),
                "savings_usd": text10(base - cost),
                "efficiency": None if cost == 0 else str(ratio(base, cost)),
            }
            for task, (cost, base) in sorted(by_task.items())
        ],
        "daily": [
            {
                "day": day.isoformat(),
                "cost_usd": text10(cost),
                "charges": text10(charges),
                "value": text10(value),
            }
            for day, (cost, charges, value) in sorted(days.items())
        ],
    }


# The books: what the ledger must have issued -------------------------------


@dataclass(frozen=True)
class IssuedRef:
    number: int
    kind: str
    adjusts: int | None
    period: PeriodRef
    totals: dict
    period_totals: dict
    digest: str
    detail: dict

    def as_api(self, terms: Terms) -> dict:
        """The statement as API.md's statement detail must show it."""
        return {
            "number": self.number,
            "kind": self.kind,
            "adjusts": self.adjusts,
            "period_start": self.period.start.isoformat(),
            "period_end": self.period.end.isoformat(),
            "currency": terms.currency,
            "totals": totals_json(terms, self.totals),
            **self.detail,
            "input_digest": self.digest,
        }


STATEMENT_KEYS = (
    "number",
    "kind",
    "adjusts",
    "period_start",
    "period_end",
    "currency",
    "totals",
    "lines",
    "outcome_lines",
    "savings_by_task_type",
    "daily",
    "input_digest",
)


# The value interval is tested apart (tests/billing/test_value_interval.py).
PREDICTED_TOTALS = (
    "calls",
    "accepted_outcomes",
    "cost_usd",
    "baseline_cost_usd",
    "savings_usd",
    "usage_charges",
    "outcome_fees",
    "fixed_fee",
    "charges",
    "value",
    "guaranteed_value",
    "shortfall",
    "payout",
    "cap_remaining",
    "roi",
    "efficiency",
)


def api_statements(client, code: str) -> list[dict]:
    """Every statement of a contract through the API, following ``next``,
    each cut to the keys the reference model predicts."""
    shown, url = [], f"/api/v1/contracts/{code}/statements?limit=5"
    while url is not None:
        page = client.get(url).json()
        shown += [
            {k: s[k] for k in STATEMENT_KEYS}
            | {"totals": {k: s["totals"][k] for k in PREDICTED_TOTALS}}
            for s in page["results"]
        ]
        url = page["next"]
    return shown


class Books:
    """Raw records as they stand, the periods touched since the last nightly
    run, and the statements the ledger must have issued so far."""

    def __init__(self, catalog: Catalog, terms: Terms):
        self.catalog, self.terms = catalog, terms
        self.calls: dict[str, CallIn] = {}
        self.outcomes: dict[str, OutcomeIn] = {}
        self.statuses: dict[str, str] = {}
        self.touched: set[PeriodRef] = set()
        self.issued: list[IssuedRef] = []

    def _touch(self, at: datetime) -> None:
        self.touched.add(period_containing(self.terms, local_day(self.terms, at)))

    def calls_add(self, calls: list[CallIn]) -> None:
        for call in calls:
            if call.external_id not in self.calls:
                self.calls[call.external_id] = call
                self._touch(call.occurred_at)

    def outcomes_add(self, outcomes: list[OutcomeIn]) -> None:
        for outcome in outcomes:
            if outcome.external_id not in self.outcomes:
                self.outcomes[outcome.external_id] = outcome
                self.statuses[outcome.external_id] = "accepted"
                self._touch(outcome.occurred_at)

    def status_set(self, external_id: str, status: str) -> None:
        self.statuses[external_id] = status
        self._touch(self.outcomes[external_id].occurred_at)

    def records(self, period: PeriodRef) -> PeriodRecords:
        def inside(at: datetime) -> bool:
            return period.start <= local_day(self.terms, at) < period.end

        return PeriodRecords(
            calls=[
                call_priced(self.catalog, self.terms, c)
                for c in self.calls.values()
                if inside(c.occurred_at)
            ],
            outcomes=[
                outcome_valued(self.terms, o, self.statuses[o.external_id])
                for o in self.outcomes.values()
                if inside(o.occurred_at)
            ],
        )

    def nightly(self, as_of: datetime) -> list[IssuedRef]:
        """Settle the due periods without a statement; re-settle the touched
        ones, issuing an adjustment only when their figures or their records
        (the digest) changed."""
        issued = []
        for period in periods_due(self.terms, as_of):
            before = [s for s in self.issued if s.period == period]
            if before and period not in self.touched:
                continue
            paid_on_other_periods = sum(
                (s.totals["payout"] for s in self.issued if s.period != period), ZERO
            )
            records = self.records(period)
            totals = figures(self.terms, records, paid_on_other_periods)
            digest = records.digest()
            latest = before[-1] if before else None
            if (
                latest is not None
                and digest == latest.digest
                and same_period(totals, latest.period_totals)
            ):
                continue
            statement = IssuedRef(
                number=len(self.issued) + 1,
                kind="adjustment" if before else "settlement",
                adjusts=before[0].number if before else None,
                period=period,
                totals=totals
                if latest is None
                else adjustment_totals(totals, latest.period_totals),
                period_totals=totals,
                digest=digest,
                detail=detail(self.catalog, records),
            )
            self.issued.append(statement)
            issued.append(statement)
        self.touched.clear()
        return issued


# Harness: the same records into the real services ---------------------------


def catalog_create(catalog: Catalog) -> None:
    for name, tier in catalog.models:
        LlmModelFactory(name=name, tier=tier)
    for p in catalog.prices:
        PriceFactory(
            llm_model=LlmModelFactory(name=p.model),
            effective_from=p.effective_from,
            input=p.input,
            output=p.output,
            cache_read=p.cache_read,
            cache_write=p.cache_write,
            cache_write_1h=p.cache_write_1h,
            per_request_usd=p.per_request,
        )


def contract_create(terms: Terms, **parties) -> Contract:
    """A contract with ``terms`` (``parties``: code, vendor, customer)."""
    contract = ContractFactory(
        **parties,
        currency=terms.currency,
        fx_rate=terms.fx_rate,
        markup=terms.markup,
        fixed_fee=terms.fixed_fee,
        hourly_rate=terms.hourly_rate,
        guarantee_multiple=terms.guarantee_multiple,
        payout_share=terms.payout_share,
        payout_cap=terms.payout_cap,
        timezone=terms.timezone,
        period=terms.period,
        starts_on=terms.starts_on,
        ends_on=terms.ends_on,
        grace_days=terms.grace_days,
        min_sample=terms.min_sample,
        baseline_model=None
        if terms.baseline_model is None
        else LlmModelFactory(name=terms.baseline_model),
    )
    for (kind, task_type), unit_value in terms.values.items():
        ValueScheduleRowFactory(
            contract=contract, kind=kind, task_type=task_type, unit_value=unit_value
        )
    for (kind, task_type), fee in terms.fees.items():
        FeeScheduleRowFactory(contract=contract, kind=kind, task_type=task_type, fee=fee)
    # The contract routes among every model of the catalog created before
    # it, so its default baseline (DESIGN.md "Routing savings": the dearest
    # frontier routing model) is Catalog.baseline_at's.
    contract.routing_models.set(LlmModel.objects.all())
    return Contract.objects.get(pk=contract.pk)


def ingest(
    contract: Contract, *, calls: list[CallIn] = (), outcomes: list[OutcomeIn] = ()
) -> tuple[services.IngestReport, services.IngestReport]:
    return (
        ingestion.calls_record(contract=contract, batch=DecodedBatch.of(list(calls))),
        ingestion.outcomes_record(contract=contract, batch=DecodedBatch.of(list(outcomes))),
    )


# Record generators (deterministic for a seed) -------------------------------


def some_calls(
    rng: random.Random,
    *,
    count: int,
    start: datetime,
    end: datetime,
    models: list[str],
    task_types: list[str],
    prefix: str,
) -> list[CallIn]:
    span = int((end - start).total_seconds() * 1_000_000)
    calls = []
    for n in range(count):
        input_tokens = rng.randrange(0, 250_000)
        cache_read = rng.randrange(0, input_tokens + 1)
        cache_write = rng.randrange(0, input_tokens - cache_read + 1)
        output_tokens = rng.randrange(0, 20_000)
        reported = rng.choice([None] * 7 + [Decimal(rng.randrange(0, 10**9)).scaleb(-10)])
        calls.append(
            CallIn(
                external_id=f"{prefix}-{n}",
                occurred_at=(start + timedelta(microseconds=rng.randrange(span))).astimezone(UTC),
                model=rng.choice(models),
                task_type=rng.choice(task_types),
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_tokens=cache_read,
                cache_write_tokens=cache_write,
                cache_write_1h_tokens=rng.randrange(0, cache_write + 1),
                reasoning_tokens=rng.randrange(0, output_tokens + 1),
                reported_cost_usd=reported,
            )
        )
    return calls


def some_outcomes(
    rng: random.Random,
    *,
    count: int,
    start: datetime,
    end: datetime,
    kinds: list[str],
    task_types: list[str],
    prefix: str,
) -> list[OutcomeIn]:
    span = int((end - start).total_seconds() * 1_000_000)
    return [
        OutcomeIn(
            external_id=f"{prefix}-{n}",
            occurred_at=(start + timedelta(microseconds=rng.randrange(span))).astimezone(UTC),
            kind=rng.choice(kinds),
            task_type=rng.choice(task_types),
            quantity=rng.choice([Decimal(1), Decimal("2.5"), Decimal("0.3333333333"), Decimal(3)]),
        )
        for n in range(count)
    ]


# The catalog the settlement tests share ------------------------------------

SINCE_2020 = datetime(2020, 1, 1, tzinfo=UTC)
# From this instant frontier-b (10 + 30) is dearer than frontier-a (5 + 15), so
# it becomes the default baseline model.
FRONTIER_SWITCH = datetime(2026, 2, 15, 12, tzinfo=UTC)
MID_REPRICE = datetime(2026, 3, 15, tzinfo=UTC)

CATALOG = Catalog(
    models=(
        ("gpt-4o-mini", "light"),
        ("mid-model", "mid"),
        ("frontier-a", "frontier"),
        ("frontier-b", "frontier"),
    ),
    prices=(
        PriceRef("gpt-4o-mini", SINCE_2020, Decimal("0.15"), Decimal("0.60"), Decimal("0.075")),
        PriceRef(
            "mid-model",
            SINCE_2020,
            Decimal("1.10"),
            Decimal("4.40"),
            Decimal("0.275"),
            Decimal("1.375"),
            Decimal("2.20"),
            Decimal("0.0005"),
        ),
        PriceRef(
            "mid-model",
            MID_REPRICE,
            Decimal("1.00"),
            Decimal("4.00"),
            Decimal("0.25"),
            Decimal("1.25"),
            None,
            Decimal("0.0005"),
        ),
        PriceRef("frontier-a", SINCE_2020, Decimal("5"), Decimal("15"), Decimal("0.5")),
        PriceRef("frontier-b", SINCE_2020, Decimal("3"), Decimal("15"), Decimal("0.3")),
        PriceRef(
            "frontier-b",
            FRONTIER_SWITCH,
            Decimal("10"),
            Decimal("30"),
            Decimal("1"),
            Decimal("12.5"),
        ),
    ),
)
