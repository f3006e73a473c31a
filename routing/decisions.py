"""The route decision (DESIGN.md "The decision rule"): pure arithmetic on a
policy version's stored numbers, no database.

For a request of task type t with features x, each candidate model m gets

    net(m) = p(success | t, x, m) x V(t) - c(t, m)

with ``p_m(x) = sigma(b_m + w.z + s_m.z)``, z the task type's one-hot
followed by the standardized features (docs/ROUTING.md "The success model").
The greedy pick is the candidate with the highest net (ties: cheaper, then
by name); when the quality guard has fired, only among the candidates
predicted at least as successful as the baseline model minus the version's
``margin``. The chosen model's probability is
``epsilon / K`` for every candidate, plus ``audit`` for the baseline model,
plus the rest for the greedy pick; a version without a success model (cold
start) gives every candidate the same share.

The pick is deterministic: the key is hashed into [0, 1) (the first 8 bytes
of SHA-256(key, UTF-8) as a big-endian integer over 2**64) and the
probabilities are walked in model-name order. The cumulative probabilities
are exact fractions turned once into integer thresholds, so a pick is one
hash and one bisection; floats only rank the candidates.
"""

from bisect import bisect_right
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from hashlib import sha256
from math import exp, inf

import numpy as np

from core.money import AMOUNT_QUANTUM

SCALE = 2**64
# Standardized features are clipped to this many standard deviations, so one
# absurd number cannot flip every decision.
FEATURE_CLIP = 8.0


def standardize(features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Standardized features clipped to FEATURE_CLIP, for one request or for
    rows of them (a NaN stays NaN). Clipped in place, cheaper than np.clip
    for one request."""
    z = (features - mean) / scale
    np.minimum(z, FEATURE_CLIP, out=z)
    np.maximum(z, -FEATURE_CLIP, out=z)
    return z


def key_point(key: str) -> int:
    """The key's point in [0, 2**64): read as a fraction of 2**64."""
    return int.from_bytes(sha256(key.encode()).digest()[:8], "big")


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Models in name order and, for each, ceil(cumulative probability x
    2**64): h / 2**64 < c exactly when the integer h < ceil(c x 2**64)."""

    models: tuple[str, ...]
    thresholds: tuple[int, ...]
    # Each model's share as logged (probability_text), computed once.
    probabilities: tuple[Decimal, ...]

    @classmethod
    def of(cls, shares: dict[str, Fraction]) -> "RouteTable":
        if sum(shares.values()) != 1:
            raise ValueError(f"shares must sum to exactly 1, not {sum(shares.values())}")
        models = tuple(sorted(shares))
        cumulative = Fraction(0)
        thresholds = []
        for model in models:
            cumulative += shares[model]
            thresholds.append(-(-cumulative.numerator * SCALE // cumulative.denominator))
        return cls(models, tuple(thresholds), tuple(probability_text(shares[m]) for m in models))

    def pick(self, key: str) -> int:
        return bisect_right(self.thresholds, key_point(key))


def probability_text(share: Fraction) -> Decimal:
    """A logged probability: the exact share to 10 places (ROUND_HALF_EVEN)."""
    return (Decimal(share.numerator) / Decimal(share.denominator)).quantize(
        AMOUNT_QUANTUM, rounding=ROUND_HALF_EVEN
    )


def shares_of(
    *,
    candidates: tuple[str, ...],
    greedy: str | None,
    baseline: str | None,
    epsilon: Fraction,
    audit: Fraction,
) -> dict[str, Fraction]:
    """DESIGN.md "The decision rule": ``epsilon`` shared equally, ``audit``
    to the baseline (to the greedy pick when there is none), the rest to the
    greedy pick; no greedy pick (cold start): equal shares."""
    if greedy is None:
        return {m: Fraction(1, len(candidates)) for m in candidates}
    shares = {m: epsilon / len(candidates) for m in candidates}
    shares[baseline if baseline is not None else greedy] += audit
    shares[greedy] += 1 - epsilon - audit
    return shares


@dataclass(frozen=True, slots=True)
class TaskEntry:
    """One task type's side of the rule: V(t), c(t, m) per candidate, and the
    logit of each candidate at the mean request (None: no success model).
    Plain tuples: over ~10 candidates Python's arithmetic beats numpy's
    per-call overhead."""

    value: float
    cost: tuple[float, ...]
    logits: tuple[float, ...] | None


def _success(logit: float) -> float:
    """sigma(logit), without overflow for any float."""
    if logit >= 0:
        return 1.0 / (1.0 + exp(-logit))
    e = exp(logit)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class Decision:
    model: str
    probability: Decimal
    explored: bool


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy version made ready to decide: numpy arrays over the
    candidates in name order, one route table per possible greedy pick."""

    version: int
    candidates: tuple[str, ...]
    baseline: int | None
    margin: float | None
    entries: dict[str, TaskEntry]
    default: TaskEntry
    # Features: mean and scale to standardize, and (w + s_m) per candidate.
    feature_mean: np.ndarray | None
    feature_scale: np.ndarray | None
    feature_weights: np.ndarray | None
    tables: tuple[RouteTable, ...]
    uniform: RouteTable | None

    @property
    def feature_length(self) -> int | None:
        return None if self.feature_mean is None else len(self.feature_mean)

    def greedy(self, entry: TaskEntry, features: np.ndarray | None) -> int | None:
        """The index of the greedy pick, or None when there is no success model."""
        if entry.logits is None:
            return None
        logits = entry.logits
        if features is not None and self.feature_weights is not None:
            z = standardize(features, self.feature_mean, self.feature_scale)
            shift = (self.feature_weights @ z).tolist()
            logits = [a + b for a, b in zip(logits, shift, strict=True)]
        success = [_success(logit) for logit in logits]
        floor = -inf
        if self.baseline is not None and self.margin is not None:
            floor = success[self.baseline] - self.margin
        value, cost = entry.value, entry.cost
        best, pick = -inf, None
        # Candidates are in name order: on a tie in net and cost the first
        # by name stays.
        for index, p in enumerate(success):
            if p < floor:
                continue
            net = p * value - cost[index]
            if pick is None or net > best or (net == best and cost[index] < cost[pick]):
                best, pick = net, index
        return pick

    def decide(self, *, task_type: str, key: str, features: np.ndarray | None) -> Decision:
        entry = self.entries.get(task_type, self.default)
        greedy = self.greedy(entry, features)
        table = self.uniform if greedy is None else self.tables[greedy]
        chosen = table.pick(key)
        return Decision(
            model=table.models[chosen],
            probability=table.probabilities[chosen],
            explored=greedy is not None and chosen != greedy,
        )


def _floats(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def policy_compile(*, version: int, model: dict, task_types: dict, default: dict) -> CompiledPolicy:
    """A stored version (PolicyVersion.model, .task_types, .default) ready
    to decide. The stored numbers are the whole policy: every decision can
    be recomputed from them."""
    candidates = tuple(model["candidates"])
    baseline = model["baseline"]
    success = model["success"]
    epsilon, audit = Fraction(model["epsilon"]), Fraction(model["audit"])
    tables = tuple(
        RouteTable.of(
            shares_of(
                candidates=candidates,
                greedy=greedy,
                baseline=baseline,
                epsilon=epsilon,
                audit=audit,
            )
        )
        for greedy in candidates
    )
    # A version with no candidate (no priced model, no baseline) routes nothing.
    uniform = (
        RouteTable.of(
            shares_of(
                candidates=candidates, greedy=None, baseline=None, epsilon=epsilon, audit=audit
            )
        )
        if candidates
        else None
    )
    feature_mean = feature_scale = feature_weights = None
    if success is not None and success["feature_mean"]:
        feature_mean = _floats(success["feature_mean"])
        feature_scale = _floats(success["feature_scale"])
        shared = _floats(success["shared_features"])
        feature_weights = np.stack(
            [shared + _floats(success["model_features"][m]) for m in candidates]
        )

    def entry(task_type: str | None, figures: dict) -> TaskEntry:
        cost = tuple(float(figures["cost"][m]) for m in candidates)
        logits = None
        if success is not None:
            logits = tuple(
                float(success["intercept"][m])
                + success["shared_task"].get(task_type, 0.0)
                + success["model_task"][m].get(task_type, 0.0)
                for m in candidates
            )
        return TaskEntry(float(figures["value"]), cost, logits)

    return CompiledPolicy(
        version=version,
        candidates=candidates,
        baseline=None if baseline is None else candidates.index(baseline),
        margin=None if model["margin"] is None else float(model["margin"]),
        entries={tt: entry(tt, e["model"]) for tt, e in task_types.items()},
        default=entry(None, default["model"]),
        feature_mean=feature_mean,
        feature_scale=feature_scale,
        feature_weights=feature_weights,
        tables=tables,
        uniform=uniform,
    )
