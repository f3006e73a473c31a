"""Routing policies learned nightly from the ledger's own outcomes (DESIGN.md
"Routing (learned from the ledger's own outcomes)"), one per contract.

A version stores everything a decision needs as plain numbers
(``PolicyVersion.model``: candidates, baseline, exploration shares, margin
and the success model's coefficients; per task type ``model``: V(t) and
c(t, m)), so every decision can be recomputed from it (routing.decisions).

The nightly step, per contract, over the trailing window [as_of - window,
as_of):

1. figures: per task type the value of a success V(t) and the mean cost per
   task c(t, m) (docs/ROUTING.md "Figures");
2. logged decisions: every routed decision joined to its calls (by
   ``route_id``) and to the accepted outcomes of their ``task_ref``, plus,
   as decisions of probability 1 without features, the tasks whose calls
   carry no ``route_id``;
3. the success model fitted on them (routing.success_model);
4. the promotion guard: the fit replaces the current policy only when its
   doubly robust estimate of net value on the logged decisions is at least
   the current one's; fewer than ``min_tasks`` logged decisions carry the
   current policy forward (a quiet window never changes the routing);
5. the quality guard: when the lower 95% bound of the realized success rate
   falls more than ``tolerance`` below the baseline model's (estimated from
   its audit share), the next version's margin is 0: no request is routed
   to a model predicted less successful than the baseline (otherwise the
   margin is null: the rule is net value alone).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from billing.models import Contract
from billing.selectors import contract_schedules
from core.money import AMOUNT_QUANTUM, amount_str, exact_context
from ledger.decision_log import spool_drain
from ledger.selectors import logged_rows, task_tokens
from routing import success_model
from routing.decisions import policy_compile, shares_of
from routing.models import LlmModel, PolicyVersion, ServiceTier, Tier
from routing.policy_selectors import (
    NOTHING,
    Realized,
    latest_version_forget,
    policy_in_force,
    policy_latest,
    realized_stats,
)
from routing.pricing import call_cost_usd
from routing.selectors import price_book_load

POLICY_LOCK = 0x9017
# The logged decisions a fit reads at most (the window's most recent ones):
# memory is bounded by this times the feature length.
MAX_LOGGED = 2_000_000
Z_95 = 1.96

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Parameters:
    window_days: int
    min_tasks: int
    tolerance: Decimal
    epsilon: Decimal
    audit: Decimal
    value_weight: Decimal
    featurizer: str
    feature_length: int

    @classmethod
    def of(cls, contract: Contract) -> "Parameters":
        return cls(
            contract.routing_window_days,
            contract.routing_min_tasks,
            contract.routing_tolerance,
            contract.routing_epsilon,
            contract.routing_audit,
            contract.routing_value_weight,
            contract.routing_featurizer,
            contract.routing_feature_length,
        )

    def as_dict(self) -> dict:
        return {
            "window_days": self.window_days,
            "min_tasks": self.min_tasks,
            "tolerance": str(self.tolerance),
            "epsilon": str(self.epsilon),
            "audit": str(self.audit),
            "value_weight": str(self.value_weight),
            "featurizer": self.featurizer,
            "feature_length": self.feature_length,
        }


def _decimal_str(value: Decimal | Fraction | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, Fraction):
        with exact_context():
            value = Decimal(value.numerator) / Decimal(value.denominator)
    return amount_str(Decimal(value).quantize(AMOUNT_QUANTUM, rounding=ROUND_HALF_EVEN))


@dataclass(slots=True)
class Figures:
    """V(t) and c(t, m) (contract currency) per task type, and the default
    for a task type the window has not seen."""

    value: dict[str, Decimal]
    cost: dict[str, dict[str, Decimal]]
    default_value: Decimal
    default_cost: dict[str, Decimal]

    def entry(self, task_type: str | None) -> dict:
        value = self.default_value if task_type is None else self.value[task_type]
        cost = self.default_cost if task_type is None else self.cost[task_type]
        return {
            "value": _decimal_str(value),
            "cost": {m: _decimal_str(c) for m, c in sorted(cost.items())},
        }


@dataclass(slots=True)
class Window:
    """What the ledger says about one contract's window."""

    contract: Contract
    parameters: Parameters
    as_of: datetime
    start: datetime
    stats: dict[str, dict[str, Realized]]  # task type -> model name -> figures
    candidates: list[str]
    baseline: str | None
    figures: Figures


def _candidates(contract: Contract, seen: set[str], book, as_of: datetime):
    """DESIGN.md "The decision rule": the contract's routing models, else the
    models that carried its calls in the window, priced at ``as_of``; the
    baseline model (the contract's, else the most expensive frontier model
    among them) joins them for its audit share."""
    routing_models = {m.name: m for m in contract.routing_models.all()}
    names = set(routing_models) or seen
    priced = {
        name
        for name in names
        if (ref := book.resolve(name)) is not None
        and book.price_at(ref.id, ServiceTier.STANDARD, as_of) is not None
    }
    baseline = None
    if contract.baseline_model_id is not None:
        baseline = contract.baseline_model.name
        ref = book.resolve(baseline)
        if ref is None or book.price_at(ref.id, ServiceTier.STANDARD, as_of) is None:
            baseline = None
    else:
        frontier = [n for n in priced if book.resolve(n).tier == Tier.FRONTIER]

        def standard(name):
            row = book.price_at(book.resolve(name).id, ServiceTier.STANDARD, as_of).standard
            return row.input + row.output

        if frontier:
            baseline = min(frontier, key=lambda n: (-standard(n), n))
    if baseline is not None:
        priced.add(baseline)
    return sorted(priced), baseline


def _figures(
    *, contract: Contract, stats, tokens, candidates, book, as_of, parameters, previous
) -> Figures:
    """DESIGN.md "The decision rule": V(t) from the value schedule, else the
    window's mean value per successful task of t, else the previous
    version's; c(t, m) the window's mean cost per task of t on m, else the
    previous version's, else the price in force x t's mean tokens per task."""
    schedules = contract_schedules(contract=contract)
    fx = contract.fx_rate
    all_tokens = tokens.get(None)

    def before(task_type: str | None) -> dict:
        """The previous version's figures of the task type (or its default)."""
        if previous is None:
            return {}
        entry = previous.default if task_type is None else previous.task_types.get(task_type, {})
        return entry.get("model") or {}

    def priced_cost(model: str, task_tokens_: tuple[int, int, Decimal] | None) -> Decimal:
        if task_tokens_ is None:
            return Decimal(0)
        input_tokens, output_tokens, calls_per_task = task_tokens_
        price = book.price_at(book.resolve(model).id, ServiceTier.STANDARD, as_of)
        return call_cost_usd(price, input_tokens=input_tokens, output_tokens=output_tokens) * (
            calls_per_task * fx
        )

    def costs(task_type: str | None) -> dict[str, Decimal]:
        seen = stats.get(task_type, {}) if task_type is not None else {}
        earlier = before(task_type).get("cost", {})
        out = {}
        for model in candidates:
            realized = seen.get(model, NOTHING)
            if realized.tasks:
                out[model] = realized.cost_usd / realized.tasks * fx
            elif model in earlier:
                out[model] = Decimal(earlier[model])
            else:
                out[model] = priced_cost(model, tokens.get(task_type, all_tokens))
        return out

    def value(task_type: str | None) -> Decimal:
        # The value schedule's rule for outcomes (billing.selectors.Schedules).
        scheduled = schedules.unit_value("task_completed", task_type)
        if scheduled is not None:
            return scheduled * parameters.value_weight
        rows = (
            stats.get(task_type, {}).values()
            if task_type is not None
            else [r for by_model in stats.values() for r in by_model.values()]
        )
        successes = sum(r.successes for r in rows)
        if successes:
            return sum(r.attributed_value for r in rows) / successes * parameters.value_weight
        earlier = before(task_type).get("value")
        return Decimal(earlier) if earlier is not None else Decimal(0)

    task_types = sorted(stats)
    with exact_context():
        return Figures(
            value={t: value(t) for t in task_types},
            cost={t: costs(t) for t in task_types},
            default_value=value(None),
            default_cost=costs(None),
        )


def window_read(*, contract: Contract, as_of: datetime, previous: PolicyVersion | None) -> Window:
    parameters = Parameters.of(contract)
    start = as_of - timedelta(days=parameters.window_days)
    realized = realized_stats(
        contract_id=contract.id, start=start, end=as_of, grouping="task_type_model"
    )
    ids = {model_id for _, model_id in realized}
    names = dict(LlmModel.objects.filter(id__in=ids).values_list("id", "name"))
    stats: dict[str, dict[str, Realized]] = {}
    for (task_type, model_id), figures in realized.items():
        stats.setdefault(task_type, {})[names[model_id]] = figures
    routing_names = [m.name for m in contract.routing_models.all()]
    book = price_book_load(
        names=set(names.values())
        | set(routing_names)
        | ({contract.baseline_model.name} if contract.baseline_model_id else set()),
        baseline_model_id=contract.baseline_model_id,
    )
    candidates, baseline = _candidates(contract, set(names.values()), book, as_of)
    tokens = task_tokens(contract_id=contract.id, start=start, end=as_of)
    figures = _figures(
        contract=contract,
        stats=stats,
        tokens=tokens,
        candidates=candidates,
        book=book,
        as_of=as_of,
        parameters=parameters,
        previous=previous,
    )
    return Window(contract, parameters, as_of, start, stats, candidates, baseline, figures)


@dataclass(slots=True)
class LoggedWindow:
    logged: success_model.Logged
    task_types: list[str]
    with_features: int


def logged_read(*, window: Window) -> LoggedWindow:
    """The window's logged decisions over its candidates, as arrays."""
    contract, d = window.contract, window.parameters.feature_length
    model_index = {
        model_id: window.candidates.index(name)
        for model_id, name in LlmModel.objects.filter(name__in=window.candidates).values_list(
            "id", "name"
        )
    }
    task_index = {t: i for i, t in enumerate(sorted(window.stats))}
    columns = {name: [] for name in ("task", "model", "probability", "success", "cost", "order")}
    # Features as sent (8 x d bytes), gathered and decoded at once at the
    # end; a row without them (or of another length) reads as the mean.
    packed_rows: list[bytes] = []
    has_features: list[bool] = []
    width = 8 * d
    rows = logged_rows(
        contract_id=contract.id, start=window.start, end=window.as_of, limit=MAX_LOGGED
    )
    for task_type, model_id, probability, packed, cost, success, order in rows:
        index = model_index.get(model_id)
        if index is None or task_type not in task_index:
            continue
        columns["task"].append(task_index[task_type])
        columns["model"].append(index)
        columns["probability"].append(probability)
        columns["success"].append(success)
        columns["cost"].append(cost)
        columns["order"].append(order)
        usable = packed is not None and len(packed) == width
        has_features.append(usable)
        if usable:
            packed_rows.append(packed)
    features = np.full((len(has_features), d), np.nan)
    if packed_rows and d:
        features[np.asarray(has_features)] = np.frombuffer(
            b"".join(packed_rows), dtype="<f8"
        ).reshape(-1, d)
    fx = float(contract.fx_rate)
    logged = success_model.Logged(
        task=np.asarray(columns["task"], dtype=np.int64),
        model=np.asarray(columns["model"], dtype=np.int64),
        probability=np.asarray(columns["probability"], dtype=np.float64),
        success=np.asarray(columns["success"], dtype=np.float64),
        cost=np.asarray(columns["cost"], dtype=np.float64) * fx,
        features=features,
        order=np.asarray(columns["order"], dtype=np.int64),
    )
    return LoggedWindow(logged, sorted(window.stats), len(packed_rows))


def _success_numbers(fitted: success_model.Fitted, *, candidates, task_types) -> dict:
    """The fitted terms as plain numbers, by model and task type name."""
    return {
        "task_types": list(task_types),
        "feature_mean": fitted.mean.tolist(),
        "feature_scale": fitted.scale.tolist(),
        "intercept": dict(zip(candidates, fitted.intercept.tolist(), strict=True)),
        "shared_task": dict(zip(task_types, fitted.shared_task.tolist(), strict=True)),
        "shared_features": fitted.shared_features.tolist(),
        "model_task": {
            m: dict(zip(task_types, row.tolist(), strict=True))
            for m, row in zip(candidates, fitted.model_task, strict=True)
        },
        "model_features": {
            m: row.tolist() for m, row in zip(candidates, fitted.model_features, strict=True)
        },
        "l2": fitted.l2,
    }


def _fitted_of(numbers: dict, *, candidates, task_types, d: int) -> success_model.Fitted | None:
    """A stored success model re-indexed over ``candidates`` and
    ``task_types``; a model or task type it does not know gets 0 terms."""
    if numbers is None:
        return None
    mean = np.asarray(numbers["feature_mean"] or [0.0] * d, dtype=np.float64)
    scale = np.asarray(numbers["feature_scale"] or [1.0] * d, dtype=np.float64)
    if len(mean) != d:
        mean, scale = np.zeros(d), np.ones(d)
    shared = np.asarray(numbers["shared_features"] or [0.0] * d, dtype=np.float64)
    if len(shared) != d:
        shared = np.zeros(d)

    def per_model(m):
        row = numbers["model_features"].get(m)
        return np.asarray(row, dtype=np.float64) if row and len(row) == d else np.zeros(d)

    return success_model.Fitted(
        intercept=np.asarray([numbers["intercept"].get(m, 0.0) for m in candidates]),
        shared_task=np.asarray([numbers["shared_task"].get(t, 0.0) for t in task_types]),
        shared_features=shared,
        model_task=np.asarray(
            [[numbers["model_task"].get(m, {}).get(t, 0.0) for t in task_types] for m in candidates]
        ).reshape(len(candidates), len(task_types)),
        model_features=np.stack([per_model(m) for m in candidates]).reshape(len(candidates), d),
        mean=mean,
        scale=scale,
        l2=numbers.get("l2", 0.0),
    )


@dataclass(frozen=True, slots=True)
class Numbers:
    """What a version decides with (PolicyVersion.model, per task type
    figures and the default's)."""

    model: dict
    task_types: dict
    default: dict


def _numbers(window: Window, success: dict | None, margin: Decimal | None) -> Numbers:
    p = window.parameters
    model = {
        "candidates": window.candidates,
        "baseline": window.baseline,
        "epsilon": str(p.epsilon),
        "audit": str(p.audit),
        "margin": None if margin is None else str(margin),
        "success": success,
    }
    task_types = {t: {"model": window.figures.entry(t)} for t in sorted(window.stats)}
    return Numbers(model, task_types, {"model": window.figures.entry(None)})


def _predictions(numbers: Numbers, *, window: Window, logged: LoggedWindow):
    """(success, net) of a stored version for every logged row, (n, K) over
    its own K candidates: its success model and its figures."""
    candidates = numbers.model["candidates"]
    rows = logged.logged
    fitted = _fitted_of(
        numbers.model["success"],
        candidates=candidates,
        task_types=logged.task_types,
        d=window.parameters.feature_length,
    )
    if fitted is None:
        success = np.full((len(rows), len(candidates)), 0.5)
    else:
        success = success_model.sigmoid(fitted.logits(rows.task, rows.features))
    values = np.zeros(len(logged.task_types))
    costs = np.zeros((len(logged.task_types), len(candidates)))
    for t, name in enumerate(logged.task_types):
        entry = numbers.task_types.get(name, numbers.default)["model"]
        values[t] = float(entry["value"])
        costs[t] = [float(entry["cost"].get(m, "0")) for m in candidates]
    return success, success * values[rows.task][:, None] - costs[rows.task]


def _targets(numbers: Numbers, success: np.ndarray, net: np.ndarray, *, window: Window):
    """A version's decision probabilities for every logged row, given its
    (success, net), onto the window's candidates (a model the version does
    not know gets 0). Rows are decided as the version would have, without
    the quality guard's margin (the guard is set after)."""
    shares = _share_matrix(numbers.model | {"margin": None}, success, net)
    index = {m: i for i, m in enumerate(window.candidates)}
    target = np.zeros((len(success), len(window.candidates)))
    for j, m in enumerate(numbers.model["candidates"]):
        if m in index:
            target[:, index[m]] += shares[:, j]
    return target


def _share_matrix(model: dict, success: np.ndarray, net: np.ndarray) -> np.ndarray:
    """Each row's decision probabilities under a version's ``model`` numbers
    (DESIGN.md "The decision rule"), vectorized over rows."""
    candidates = model["candidates"]
    n, own = success.shape
    if model["success"] is None:
        return np.full((n, own), 1.0 / own)
    eligible = np.ones_like(success, dtype=bool)
    baseline = model["baseline"]
    if baseline is not None and model["margin"] is not None:
        b = candidates.index(baseline)
        eligible = success >= success[:, [b]] - float(model["margin"])
    greedy = np.argmax(np.where(eligible, net, -np.inf), axis=1)
    epsilon, audit = float(model["epsilon"]), float(model["audit"])
    shares = np.full((n, own), epsilon / own)
    shares[np.arange(n), greedy] += 1 - epsilon - audit
    if baseline is not None:
        shares[:, candidates.index(baseline)] += audit
    else:
        shares[np.arange(n), greedy] += audit
    return shares


def _quality(window: Window, logged: LoggedWindow, chosen: dict) -> dict:
    """DESIGN.md "Guard against silent quality loss": the lower 95% bound of
    the chosen policy's success rate (its doubly robust estimate on the
    window's logged decisions) against the baseline's, estimated from the
    rows that went to the baseline, each weighted by 1 / its probability."""
    rows = logged.logged
    lcb = chosen["success"] - Z_95 * chosen["success_se"]
    out = {
        "success": chosen["success"],
        "success_lcb": round(lcb, 6),
        "baseline_success": None,
        "triggered": False,
    }
    if window.baseline is not None:
        to_baseline = rows.model == window.candidates.index(window.baseline)
        if to_baseline.any():
            weights = 1.0 / rows.probability[to_baseline]
            baseline_rate = float(weights @ rows.success[to_baseline] / weights.sum())
            out["baseline_success"] = round(baseline_rate, 6)
            out["triggered"] = lcb < baseline_rate - float(window.parameters.tolerance)
    return out


def _inputs(window: Window, numbers: Numbers) -> dict:
    """Per task type, for people: the window's realized figures per model."""
    inputs = {}
    for task_type, by_model in window.stats.items():
        models = {}
        for model in sorted(set(window.candidates) | set(by_model)):
            stats = by_model.get(model, NOTHING)
            rate = None if stats.tasks == 0 else Fraction(stats.successes, stats.tasks)
            per_dollar = (
                None
                if stats.cost_usd == 0
                else Fraction(stats.attributed_value) / Fraction(stats.cost_usd)
            )
            models[model] = {
                "candidate": model in window.candidates,
                "tasks": stats.tasks,
                "successes": stats.successes,
                "success_rate": _decimal_str(rate),
                "cost_usd": amount_str(stats.cost_usd),
                "attributed_value": amount_str(stats.attributed_value),
                "value_per_dollar": _decimal_str(per_dollar),
            }
        inputs[task_type] = {"models": models}
    return inputs


def _weights(numbers: Numbers, version: int) -> tuple[dict, dict]:
    """The decision probabilities of a request without features, per task
    type and for the default: what API readers see as "weights"."""
    compiled = policy_compile(
        version=version,
        model=numbers.model,
        task_types=numbers.task_types,
        default=numbers.default,
    )
    epsilon, audit = Fraction(numbers.model["epsilon"]), Fraction(numbers.model["audit"])

    def weights(entry) -> dict:
        greedy = compiled.greedy(entry, None)
        shares = shares_of(
            candidates=compiled.candidates,
            greedy=None if greedy is None else compiled.candidates[greedy],
            baseline=numbers.model["baseline"],
            epsilon=epsilon,
            audit=audit,
        )
        return {m: _decimal_str(s) for m, s in sorted(shares.items())}

    if not compiled.candidates:
        return {t: {} for t in numbers.task_types}, {}
    return {t: weights(compiled.entries[t]) for t in numbers.task_types}, weights(compiled.default)


@dataclass(frozen=True, slots=True)
class LearnResult:
    policy: PolicyVersion
    created: bool


def _publish(*, contract, as_of, window_start, parameters, numbers: Numbers, guard, inputs):
    last = PolicyVersion.objects.filter(contract=contract).order_by("-version").first()
    version = 1 if last is None else last.version + 1
    task_weights, default_weights = _weights(numbers, version)
    task_types = {
        t: entry | {"weights": task_weights[t], "inputs": inputs.get(t, {})}
        for t, entry in numbers.task_types.items()
    }
    policy = PolicyVersion.objects.create(
        contract=contract,
        version=version,
        as_of=as_of,
        window_start=window_start,
        window_end=as_of,
        parameters=parameters.as_dict(),
        model=numbers.model,
        guard=guard,
        task_types=task_types,
        default=numbers.default | {"weights": default_weights},
    )
    latest_version_forget(contract_id=contract.id)
    return policy


def _locked(contract: Contract) -> None:
    with connection.cursor() as cursor:
        # Versions are gapless per contract: one writer at a time.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [POLICY_LOCK, contract.id])


def policy_cold_start(*, contract: Contract) -> PolicyVersion:
    """DESIGN.md "Cold start": the contract's first version, equal shares
    over its candidates, written the first time it is asked for. Its as_of
    is the contract's first instant (or now, if that is later), so any
    nightly run after it is newer."""
    with transaction.atomic():
        _locked(contract)
        existing = PolicyVersion.objects.filter(contract=contract).order_by("-as_of").first()
        if existing is not None:
            return existing
        first_instant = datetime.combine(
            contract.starts_on, datetime.min.time(), tzinfo=contract.tz
        )
        as_of = min(first_instant, contract.created_at or timezone.now())
        window = window_read(contract=contract, as_of=as_of, previous=None)
        numbers = _numbers(window, None, None)
        return _publish(
            contract=contract,
            as_of=as_of,
            window_start=window.start,
            parameters=window.parameters,
            numbers=numbers,
            guard={"verdict": "cold_start"},
            inputs={},
        )


def policy_current(*, contract: Contract) -> PolicyVersion:
    """The version in force: the latest ``as_of``; the cold start when the
    contract has none yet."""
    return policy_latest(contract=contract) or policy_cold_start(contract=contract)


def policy_learn_for_contract(*, contract: Contract, as_of: datetime) -> LearnResult:
    """Write the contract's next policy version as of ``as_of``; a version
    for that very instant already written is returned as it is."""
    with transaction.atomic():
        _locked(contract)
        existing = PolicyVersion.objects.filter(contract=contract, as_of=as_of).first()
        if existing is not None:
            return LearnResult(existing, False)
        current = policy_in_force(contract=contract, as_of=as_of)
        window = window_read(contract=contract, as_of=as_of, previous=current)
        logged = logged_read(window=window)
        current_numbers = None
        if current is not None:
            current_numbers = Numbers(
                current.model,
                {t: {"model": e["model"]} for t, e in current.task_types.items()},
                {"model": current.default["model"]},
            )
        guard = {
            "logged": len(logged.logged),
            "with_features": logged.with_features,
            "current_version": current and current.version,
        }
        enough = max(window.parameters.min_tasks, 1)
        if len(logged.logged) < enough or not window.candidates:
            # Too little to learn from or to judge by: nothing changes.
            guard["verdict"] = "carried"
            numbers = current_numbers or _numbers(window, None, None)
        else:
            fitted = success_model.fit(
                logged.logged,
                n_models=len(window.candidates),
                n_tasks=len(logged.task_types),
            )
            fresh = _numbers(
                window,
                _success_numbers(
                    fitted, candidates=window.candidates, task_types=logged.task_types
                ),
                None,
            )
            numbers, guard["verdict"], guard["estimates"] = _promote(
                fresh=fresh, current=current_numbers, fitted=fitted, window=window, logged=logged
            )
            chosen = "fresh" if guard["verdict"] == "promoted" else "current"
            guard["quality"] = _quality(window, logged, guard["estimates"][chosen])
            margin = "0" if guard["quality"]["triggered"] else None
            numbers = Numbers(
                numbers.model | {"margin": margin}, numbers.task_types, numbers.default
            )
        guard["margin"] = numbers.model["margin"]
        policy = _publish(
            contract=contract,
            as_of=as_of,
            window_start=window.start,
            parameters=window.parameters,
            numbers=numbers,
            guard=guard,
            inputs=_inputs(window, numbers),
        )
    return LearnResult(policy, True)


def _promote(*, fresh: Numbers, current: Numbers | None, fitted, window, logged):
    """DESIGN.md "Promotion guard": the fresh fit replaces the current
    policy only when its doubly robust net value on the logged decisions is
    at least the current one's (both under the fresh fit's reward model).
    Returns (numbers, "promoted" or "kept", estimates of "fresh" and
    "current")."""
    rows = logged.logged
    predicted = success_model.sigmoid(fitted.logits(rows.task, rows.features))
    values = np.asarray([float(fresh.task_types[t]["model"]["value"]) for t in logged.task_types])
    costs = np.asarray(
        [
            [float(fresh.task_types[t]["model"]["cost"][m]) for m in window.candidates]
            for t in logged.task_types
        ]
    ).reshape(len(logged.task_types), len(window.candidates))
    net = predicted * values[rows.task][:, None] - costs[rows.task]
    realized = rows.success * values[rows.task] - rows.cost

    def estimate(numbers: Numbers, success: np.ndarray, net_of: np.ndarray) -> dict:
        result = success_model.doubly_robust(
            rows,
            target=_targets(numbers, success, net_of, window=window),
            predicted_success=predicted,
            net_value=net,
            realized_net=realized,
        )
        return {
            "net_value": round(result.value, 10),
            "success": round(result.success, 6),
            "success_se": round(result.success_se, 6),
        }

    # The fresh numbers are this fit's: its predictions serve as they are.
    estimates = {"fresh": estimate(fresh, predicted, net)}
    if current is None or current.model["success"] is None:
        return fresh, "promoted", estimates
    estimates["current"] = estimate(current, *_predictions(current, window=window, logged=logged))
    if estimates["fresh"]["net_value"] >= estimates["current"]["net_value"]:
        return fresh, "promoted", estimates
    return current, "kept", estimates


@dataclass(slots=True)
class LearnReport:
    created: list[tuple[str, int]] = field(default_factory=list)
    existing: list[tuple[str, int]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": [f"{code} v{version}" for code, version in self.created],
            "existing": [f"{code} v{version}" for code, version in self.existing],
        }


class PolicyLearningFailed(Exception):
    """Some contracts got no new policy version; the others did."""


def policies_learn(*, as_of: datetime) -> LearnReport:
    """The nightly step: a new version for every contract whose life
    overlaps its routing window, from every decision answered so far (the
    spool of processes that died is stored first)."""
    spool_drain()
    report = LearnReport()
    contracts = Contract.objects.filter(starts_on__lte=as_of.date()).prefetch_related(
        "routing_models"
    )
    failed: dict[str, Exception] = {}
    for contract in contracts.order_by("id"):
        window_start = (as_of - timedelta(days=contract.routing_window_days)).date()
        if contract.ends_on is not None and contract.ends_on < window_start:
            continue
        try:
            result = policy_learn_for_contract(contract=contract, as_of=as_of)
        except Exception as exc:  # one contract's failure must not stop the rest
            logger.exception("learning the policy of %s failed", contract.code)
            failed[contract.code] = exc
            continue
        (report.created if result.created else report.existing).append(
            (contract.code, result.policy.version)
        )
    if failed:
        # Raised after the others are done, so the task's retry redoes only
        # these (the rest find their version for this as_of).
        raise PolicyLearningFailed(f"no policy for: {sorted(failed)}") from next(
            iter(failed.values())
        )
    return report
