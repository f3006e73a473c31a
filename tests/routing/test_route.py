"""routing/decisions.py: the deterministic route decision (DESIGN.md
"Routing feedback": hash the key into [0, 1), walk the cumulative weights)."""

from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.decisions import SCALE, RouteTable, key_point, route

WEIGHTS = {
    "gpt-4o": Decimal("0.3380434783"),
    "gpt-4o-mini": Decimal("0.6119565217"),
    "claude-haiku-4-5": Decimal("0.0250000000"),
    "mid-model": Decimal("0.0250000000"),
}


def test_the_same_key_and_weights_give_the_same_model_every_time():
    first = [route(RouteTable.of(WEIGHTS), f"req-{i}") for i in range(1000)]
    again = [route(RouteTable.of(dict(reversed(WEIGHTS.items()))), f"req-{i}") for i in range(1000)]

    assert first == again


def test_a_key_is_hashed_from_the_first_eight_bytes_of_its_sha256():
    # sha256("abc") starts ba7816bf8f01cfea.
    assert key_point("abc") == 0xBA7816BF8F01CFEA


def test_the_walk_is_in_model_name_order_over_cumulative_weights():
    table = RouteTable.of({"b": Decimal("0.5"), "a": Decimal("0.5")})

    # 0xba78... / 2**64 = 0.72...: past a's half, so b.
    assert table.models == ("a", "b")
    assert table.thresholds == (SCALE // 2, SCALE)
    assert route(table, "abc") == "b"


def test_over_100000_keys_each_model_gets_its_weight_within_one_point():
    table = RouteTable.of(WEIGHTS)

    counts = Counter(route(table, f"request-{i}") for i in range(100_000))

    shares = {model: Decimal(counts[model]) / 100_000 for model in WEIGHTS}
    assert {m: abs(shares[m] - WEIGHTS[m]) < Decimal("0.01") for m in WEIGHTS} == dict.fromkeys(
        WEIGHTS, True
    )


def test_weights_that_do_not_sum_to_one_are_refused():
    with pytest.raises(ValueError, match="sum to exactly 1"):
        RouteTable.of({"a": Decimal("0.5"), "b": Decimal("0.4999999999")})


@given(
    parts=st.lists(st.integers(0, 10**10), min_size=1, max_size=8).filter(any),
    key=st.text(max_size=50),
)
def test_a_model_with_zero_weight_is_never_chosen(parts, key):
    total = sum(parts)
    weights = {f"m{i}": Decimal(p * 10**10 // total).scaleb(-10) for i, p in enumerate(parts)}
    largest = max(weights, key=weights.__getitem__)
    weights[largest] += 1 - sum(weights.values())

    assert weights[route(RouteTable.of(weights), key)] > 0
