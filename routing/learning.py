"""Routing policies learned nightly from realized value (DESIGN.md "Routing
feedback"). One policy per contract: weights are served per contract code,
so a customer organization with several contracts gets one policy for each
(docs/ROUTING.md).

Arithmetic is exact (fractions) up to the weights, which are then rounded
once to 10 places (ROUND_HALF_EVEN); the rounding remainder goes to the
largest weight (ties: the first model by name), so they sum to exactly 1.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from django.db import connection, transaction

from billing.models import Contract
from core.money import AMOUNT_QUANTUM, amount_str, exact_context
from routing.models import LlmModel, PolicyVersion, ServiceTier
from routing.policy_selectors import NOTHING, Realized, latest_version_forget, realized_stats
from routing.selectors import price_book_load

POLICY_LOCK = 0x9017


logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Parameters:
    window_days: int
    min_tasks: int
    tolerance: Decimal
    epsilon: Decimal

    @classmethod
    def of(cls, contract: Contract) -> "Parameters":
        return cls(
            contract.routing_window_days,
            contract.routing_min_tasks,
            contract.routing_tolerance,
            contract.routing_epsilon,
        )

    def as_dict(self) -> dict:
        return {
            "window_days": self.window_days,
            "min_tasks": self.min_tasks,
            "tolerance": str(self.tolerance),
            "epsilon": str(self.epsilon),
        }


def _ratio_str(value: Fraction | None) -> str | None:
    if value is None:
        return None
    with exact_context():
        return amount_str(Decimal(value.numerator) / Decimal(value.denominator))


def weights_exact(shares: dict[str, Fraction]) -> dict[str, Decimal]:
    """Exact shares summing to 1, to 10 places, summing to exactly 1: each
    rounded half-even, the remainder given to the largest (first by name)."""
    with exact_context():
        weights = {
            model: (Decimal(share.numerator) / Decimal(share.denominator)).quantize(
                AMOUNT_QUANTUM, rounding=ROUND_HALF_EVEN
            )
            for model, share in sorted(shares.items())
        }
        # max() keeps the first of equals, and the models are in name order.
        largest = max(weights, key=weights.__getitem__)
        weights[largest] += 1 - sum(weights.values())
    return weights


def _equal(models: list[str]) -> dict[str, Decimal]:
    return weights_exact({model: Fraction(1, len(models)) for model in models})


def _stats_inputs(stats: Realized) -> dict:
    rate = None if stats.tasks == 0 else Fraction(stats.successes, stats.tasks)
    per_dollar = (
        None if stats.cost_usd == 0 else Fraction(stats.attributed_value) / Fraction(stats.cost_usd)
    )
    return {
        "tasks": stats.tasks,
        "successes": stats.successes,
        "success_rate": _ratio_str(rate),
        "cost_usd": amount_str(stats.cost_usd),
        "attributed_value": amount_str(stats.attributed_value),
        "value_per_dollar": _ratio_str(per_dollar),
    }


def task_type_policy(
    *,
    stats: dict[str, Realized],
    candidates: list[str],
    priced: set[str],
    baseline: str | None,
    parameters: Parameters,
) -> dict:
    """One task type's {"weights", "inputs"} (DESIGN.md "Routing feedback").

    Candidates without a price in force take no part. Eligible: at least
    ``min_tasks`` tasks, a value per dollar (some cost), and a success rate
    within ``tolerance`` of the best success rate among the candidates with
    at least ``min_tasks`` tasks (a model tried on three tasks does not set
    the bar). Weights: ``epsilon`` shared equally by the candidates, the rest
    in proportion to value per dollar among the eligible (equally when their
    value per dollar is all zero). No eligible model: equal over the
    candidates; no candidate: everything to the baseline model.
    """
    taking_part = sorted(m for m in candidates if m in priced)
    models = {}
    for model in sorted(set(candidates) | set(stats)):
        models[model] = _stats_inputs(stats.get(model, NOTHING)) | {
            "candidate": model in candidates,
            "priced": model in priced,
            "eligible": False,
            "excluded": None,
        }
    inputs = {"candidates": taking_part, "models": models, "best_success_rate": None}
    if not taking_part:
        inputs["rule"] = "baseline"
        inputs["baseline_model"] = baseline
        weights = {} if baseline is None else weights_exact({baseline: Fraction(1)})
        return {"weights": weights, "inputs": inputs}
    # At least one task, whatever min_tasks says: a rate needs a denominator.
    enough = max(parameters.min_tasks, 1)
    seasoned = [m for m in taking_part if stats.get(m, NOTHING).tasks >= enough]
    rates = {m: Fraction(stats[m].successes, stats[m].tasks) for m in seasoned}
    best = max(rates.values(), default=None)
    inputs["best_success_rate"] = _ratio_str(best)
    per_dollar = {}
    for model in taking_part:
        if model not in rates:
            models[model]["excluded"] = "min_tasks"
        elif rates[model] < best - Fraction(parameters.tolerance):
            models[model]["excluded"] = "tolerance"
        elif stats[model].cost_usd == 0:
            models[model]["excluded"] = "no_cost"
        else:
            models[model]["eligible"] = True
            per_dollar[model] = Fraction(stats[model].attributed_value) / Fraction(
                stats[model].cost_usd
            )
    for model in models:
        if model not in taking_part:
            models[model]["excluded"] = "not_priced" if model in candidates else "not_candidate"
    if not per_dollar:
        inputs["rule"] = "cold_start"
        return {"weights": _equal(taking_part), "inputs": inputs}
    inputs["rule"] = "learned"
    epsilon = Fraction(parameters.epsilon)
    total = sum(per_dollar.values())
    shares = {}
    for model in taking_part:
        exploit = Fraction(0)
        if model in per_dollar:
            exploit = per_dollar[model] / total if total else Fraction(1, len(per_dollar))
        shares[model] = epsilon / len(taking_part) + (1 - epsilon) * exploit
    return {"weights": weights_exact(shares), "inputs": inputs}


def _serialized(entry: dict) -> dict:
    return {
        "weights": {model: f"{weight:f}" for model, weight in entry["weights"].items()},
        "inputs": entry["inputs"],
    }


def _policies(*, contract: Contract, as_of: datetime, start: datetime, parameters: Parameters):
    """(task_types, default) for the window [start, as_of)."""
    realized = realized_stats(
        contract_id=contract.id, start=start, end=as_of, grouping="task_type_model"
    )
    routing_models = {m.id: m.name for m in contract.routing_models.all()}
    seen_ids = {model_id for _, model_id in realized}
    names = routing_models | dict(
        LlmModel.objects.filter(id__in=seen_ids - routing_models.keys()).values_list("id", "name")
    )
    book = price_book_load(names=names.values(), baseline_model_id=contract.baseline_model_id)
    priced = {
        name
        for model_id, name in names.items()
        if book.price_at(model_id, ServiceTier.STANDARD, as_of) is not None
    }
    baseline_id = book.baseline_model_at(as_of)
    baseline = None
    if baseline_id is not None:
        baseline = names.get(baseline_id) or LlmModel.objects.get(id=baseline_id).name
    by_task_type: dict[str, dict[str, Realized]] = {}
    for (task_type, model_id), stats in realized.items():
        by_task_type.setdefault(task_type, {})[names[model_id]] = stats
    fixed = sorted(routing_models.values())

    def policy(stats: dict[str, Realized]) -> dict:
        return _serialized(
            task_type_policy(
                stats=stats,
                candidates=fixed or sorted(stats),
                priced=priced,
                baseline=baseline,
                parameters=parameters,
            )
        )

    task_types = {tt: policy(stats) for tt, stats in sorted(by_task_type.items())}
    return task_types, policy({})


@dataclass(frozen=True, slots=True)
class LearnResult:
    policy: PolicyVersion
    created: bool


def policy_learn_for_contract(*, contract: Contract, as_of: datetime) -> LearnResult:
    """Write the contract's next policy version as of ``as_of``; a version
    for that very instant already written is returned as it is."""
    parameters = Parameters.of(contract)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Versions are gapless per contract: one writer at a time.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [POLICY_LOCK, contract.id])
        existing = PolicyVersion.objects.filter(contract=contract, as_of=as_of).first()
        if existing is not None:
            return LearnResult(existing, False)
        start = as_of - timedelta(days=parameters.window_days)
        task_types, default = _policies(
            contract=contract, as_of=as_of, start=start, parameters=parameters
        )
        last = PolicyVersion.objects.filter(contract=contract).order_by("-version").first()
        policy = PolicyVersion.objects.create(
            contract=contract,
            version=1 if last is None else last.version + 1,
            as_of=as_of,
            window_start=start,
            window_end=as_of,
            parameters=parameters.as_dict(),
            task_types=task_types,
            default=default,
        )
    # Served at once in this process; others check within a second.
    latest_version_forget(contract_id=contract.id)
    return LearnResult(policy, True)


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
    overlaps its routing window."""
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
