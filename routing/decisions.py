"""The route decision (DESIGN.md "Routing feedback"): deterministic given a
policy's weights and a request key, so routers can be stateless and every
decision can be reproduced.

The key is hashed into [0, 1): the first 8 bytes of SHA-256(key, UTF-8) as a
big-endian integer h, over 2**64. The models are walked in name order and
the first whose cumulative weight exceeds h / 2**64 is chosen. The
cumulative weights are turned once into integer thresholds (exact Decimal
arithmetic, no floats), so a decision is one hash and one bisection.
"""

from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from hashlib import sha256

SCALE = 2**64


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Models in name order and, for each, ceil(cumulative weight x 2**64):
    h / 2**64 < c exactly when the integer h < ceil(c x 2**64)."""

    models: tuple[str, ...]
    thresholds: tuple[int, ...]

    @classmethod
    def of(cls, weights: dict[str, Decimal]) -> "RouteTable":
        """``weights`` sum to exactly 1 (routing.learning makes them so)."""
        if sum(weights.values(), Decimal(0)) != 1:
            raise ValueError(f"weights must sum to exactly 1, not {sum(weights.values())}")
        models = tuple(sorted(weights))
        cumulative = Decimal(0)
        thresholds = []
        for model in models:
            cumulative += weights[model]
            numerator, denominator = cumulative.as_integer_ratio()
            thresholds.append(-(-numerator * SCALE // denominator))
        return cls(models, tuple(thresholds))


def key_point(key: str) -> int:
    """The key's point in [0, 2**64): read as a fraction of 2**64."""
    return int.from_bytes(sha256(key.encode()).digest()[:8], "big")


def route(table: RouteTable, key: str) -> str:
    """The model for ``key``: the same key and table give the same model."""
    return table.models[bisect_right(table.thresholds, key_point(key))]
