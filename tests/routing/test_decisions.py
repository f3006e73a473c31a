"""routing/decisions.py: the decision rule on a version's numbers (DESIGN.md
"The decision rule"), without the database."""

from collections import Counter
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.decisions import policy_compile

CANDIDATES = ["frontier", "light", "mid"]


def numbers(*, light_hard=-3.0, margin=None, epsilon="0.05", audit="0.05", success=True):
    """Three candidates; one feature says how hard a request is: the light
    model's logit falls with it, the frontier model's does not."""
    model = {
        "candidates": CANDIDATES,
        "baseline": "frontier",
        "epsilon": epsilon,
        "audit": audit,
        "margin": margin,
        "success": None,
    }
    if success:
        model["success"] = {
            "task_types": ["review"],
            "feature_mean": [0.0],
            "feature_scale": [1.0],
            "intercept": {"frontier": 3.0, "light": 3.0, "mid": 3.0},
            "shared_task": {"review": 0.0},
            "shared_features": [0.0],
            "model_task": {m: {"review": 0.0} for m in CANDIDATES},
            "model_features": {"frontier": [0.0], "light": [light_hard], "mid": [-1.0]},
        }
    figures = {"value": "1", "cost": {"frontier": "0.06", "light": "0.001", "mid": "0.01"}}
    return policy_compile(
        version=3,
        model=model,
        task_types={"review": {"model": figures}},
        default={"model": figures},
    )


def greedy(policy, hardness: float) -> str:
    entry = policy.entries["review"]
    return policy.candidates[policy.greedy(entry, np.asarray([hardness]))]


def test_the_greedy_pick_is_the_cheap_model_on_easy_requests_and_frontier_on_hard_ones():
    policy = numbers()

    assert (greedy(policy, -2.0), greedy(policy, 2.0)) == ("light", "frontier")


def test_once_the_quality_guard_fires_no_model_below_the_baseline_by_the_margin_is_picked():
    # At hardness 0.01 the light model is ~0.15 pp below frontier: on net
    # value it wins on cost; with a zero margin it is not eligible.
    assert greedy(numbers(margin=None), 0.01) == "light"
    assert greedy(numbers(margin="0"), 0.01) == "frontier"


def test_the_same_key_version_and_features_give_the_same_decision():
    policy = numbers()
    features = np.asarray([0.3])

    first = [policy.decide(task_type="review", key=f"k-{i}", features=features) for i in range(500)]
    again = [policy.decide(task_type="review", key=f"k-{i}", features=features) for i in range(500)]

    assert first == again


def test_over_100000_keys_the_chosen_shares_match_the_logged_probabilities():
    policy = numbers(epsilon="0.3", audit="0.1")
    features = np.asarray([-2.0])

    decisions = [
        policy.decide(task_type="review", key=f"req-{i}", features=features) for i in range(100_000)
    ]
    shares = Counter(d.model for d in decisions)
    logged = {d.model: d.probability for d in decisions}

    assert logged == {
        "light": Decimal("0.7000000000"),
        "frontier": Decimal("0.2000000000"),
        "mid": Decimal("0.1000000000"),
    }
    for model, probability in logged.items():
        assert abs(Decimal(shares[model]) / 100_000 - probability) < Decimal("0.01")
    assert {d.explored for d in decisions if d.model == "light"} == {False}
    assert {d.explored for d in decisions if d.model != "light"} == {True}


def test_a_version_without_a_success_model_shares_equally_over_its_candidates():
    policy = numbers(success=False)

    decision = policy.decide(task_type="review", key="k", features=None)

    assert (decision.probability, decision.explored) == (Decimal("0.3333333333"), False)


@pytest.mark.parametrize("hardness", [-100.0, 100.0])
def test_an_absurd_feature_is_clipped_and_still_decides(hardness):
    policy = numbers()

    assert greedy(policy, hardness) in CANDIDATES


@given(
    hardness=st.floats(-1e6, 1e6),
    light_hard=st.floats(-500, 500),
    margin=st.none() | st.sampled_from(["0", "0.02", "0.5"]),
)
def test_the_greedy_pick_is_the_rule_written_out_with_numpy(hardness, light_hard, margin):
    # The rule as DESIGN.md states it, over arrays: the highest net among the
    # eligible, ties to the cheaper, then to the first by name.
    policy = numbers(light_hard=light_hard, margin=margin)
    entry = policy.entries["review"]
    z = np.clip((np.asarray([hardness]) - policy.feature_mean) / policy.feature_scale, -8, 8)
    with np.errstate(over="ignore"):
        success = 1.0 / (1.0 + np.exp(-(np.asarray(entry.logits) + policy.feature_weights @ z)))
    net = success * entry.value - np.asarray(entry.cost)
    eligible = [
        i
        for i in range(len(CANDIDATES))
        if margin is None or success[i] >= success[policy.baseline] - float(margin)
    ]
    expected = min(eligible, key=lambda i: (-net[i], entry.cost[i], CANDIDATES[i]))

    assert policy.greedy(entry, np.asarray([hardness])) == expected
