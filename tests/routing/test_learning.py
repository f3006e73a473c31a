"""routing/learning.py: policies learned from realized value (DESIGN.md
"Routing feedback"), checked against hand-computed weights."""

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from ledger.services import outcome_status_change
from routing.learning import Parameters, policy_learn_for_contract, task_type_policy, weights_exact
from routing.models import LlmModel, PolicyVersion
from routing.policy_selectors import Realized
from routing.tasks import policies_learn
from tests.factories import LlmModelFactory
from tests.routing.policy_world import AS_OF, calls_add, outcomes_add, priced_model


def _terms(contract, **terms):
    for name, value in terms.items():
        setattr(contract, f"routing_{name}", value)
    contract.save()


def _learned(contract, task_type):
    policy = policy_learn_for_contract(contract=contract, as_of=AS_OF).policy
    return policy.task_types[task_type]


def _tasks(contract, task_type, model, refs, cost, succeeded):
    calls_add(contract, [(task_type, ref, model, cost) for ref in refs])
    outcomes_add(contract, refs[:succeeded], task_type)


def test_epsilon_is_shared_and_the_rest_follows_value_per_dollar_among_the_eligible(contract):
    priced_model("frontier-model", "frontier")
    priced_model("mid-model", "mid")
    priced_model("spare-light", "light")
    _terms(contract, min_tasks=4, tolerance=Decimal("0.25"), epsilon=Decimal("0.10"))
    # gpt-4o-mini: 3 of 4 tasks succeed (0.75 = best 1.00 - tolerance: in),
    # cost 4, value 120: 30 per dollar. frontier: 4 of 4, cost 40, value 160:
    # 4 per dollar. mid: 2 of 4 (below 0.75: out). spare-light: one task
    # (below min_tasks: out, and it does not set the best rate).
    _tasks(contract, "support", "gpt-4o-mini", ["l1", "l2", "l3", "l4"], "1", 3)
    _tasks(contract, "support", "frontier-model", ["f1", "f2", "f3", "f4"], "10", 4)
    _tasks(contract, "support", "mid-model", ["m1", "m2", "m3", "m4"], "2", 2)
    _tasks(contract, "support", "spare-light", ["s1"], "0.5", 1)

    learned = _learned(contract, "support")

    # 0.10 / 4 each; 0.90 x 30/34 and 0.90 x 4/34 to the eligible.
    assert learned["weights"] == {
        "frontier-model": "0.1308823529",
        "gpt-4o-mini": "0.8191176471",
        "mid-model": "0.0250000000",
        "spare-light": "0.0250000000",
    }
    models = learned["inputs"]["models"]
    assert [models[m]["excluded"] for m in sorted(models)] == [None, None, "tolerance", "min_tasks"]
    assert models["gpt-4o-mini"]["success_rate"] == "0.7500000000"
    assert models["gpt-4o-mini"]["value_per_dollar"] == "30.0000000000"
    assert learned["inputs"]["best_success_rate"] == "1.0000000000"
    assert learned["inputs"]["rule"] == "learned"


def test_default_min_tasks_leaves_a_model_with_nineteen_tasks_out(contract):
    priced_model("frontier-model", "frontier")
    refs = [f"r{i}" for i in range(20)]
    _tasks(contract, "support", "gpt-4o-mini", refs, "1", 20)
    _tasks(contract, "support", "frontier-model", refs[:19], "1", 19)

    learned = _learned(contract, "support")

    assert learned["weights"] == {"frontier-model": "0.0250000000", "gpt-4o-mini": "0.9750000000"}
    assert learned["inputs"]["models"]["frontier-model"]["excluded"] == "min_tasks"


def test_value_is_split_over_a_tasks_calls_by_cost_and_equally_when_they_cost_nothing(contract):
    priced_model("frontier-model", "frontier")
    _terms(contract, min_tasks=1)
    calls_add(
        contract,
        [
            ("review", "t1", "gpt-4o-mini", "1"),
            ("review", "t1", "frontier-model", "3"),
            ("review", "t2", "gpt-4o-mini", "0"),
            ("review", "t2", "frontier-model", "0"),
            ("review", "t3", "frontier-model", "2"),
        ],
    )
    outcomes_add(contract, ["t1", "t2"], "review")

    models = _learned(contract, "review")["inputs"]["models"]

    # t1's 40: 10 to the $1 call, 30 to the $3 call; t2's 40: 20 and 20.
    assert models["gpt-4o-mini"]["attributed_value"] == "30.0000000000"
    assert models["frontier-model"]["attributed_value"] == "50.0000000000"
    assert (models["frontier-model"]["tasks"], models["frontier-model"]["successes"]) == (3, 2)
    assert models["frontier-model"]["value_per_dollar"] == "10.0000000000"


def test_a_disputed_outcome_brings_no_value_and_no_success(contract):
    _terms(contract, min_tasks=1)
    _tasks(contract, "review", "gpt-4o-mini", ["t1", "t2"], "2", 2)
    outcome_status_change(
        contract=contract, external_id="outcome-t2", to_status="disputed", actor="t", reason="no"
    )

    models = _learned(contract, "review")["inputs"]["models"]

    assert (models["gpt-4o-mini"]["successes"], models["gpt-4o-mini"]["attributed_value"]) == (
        1,
        "40.0000000000",
    )


def test_calls_outside_the_window_do_not_count(contract):
    _terms(contract, window_days=7, min_tasks=1)
    calls_add(contract, [("review", "old", "gpt-4o-mini", "5")], at=AS_OF - timedelta(days=8))
    calls_add(contract, [("review", "late", "gpt-4o-mini", "7")], at=AS_OF)

    policy = policy_learn_for_contract(contract=contract, as_of=AS_OF).policy

    assert policy.task_types == {}
    assert policy.window_start == AS_OF - timedelta(days=7)


def test_no_eligible_model_yet_gives_equal_weights_with_the_remainder_to_the_first(contract):
    priced_model("frontier-model", "frontier")
    priced_model("mid-model", "mid")
    contract.routing_models.set(LlmModel.objects.all())
    _tasks(contract, "support", "mid-model", ["m1"], "1", 1)

    policy = policy_learn_for_contract(contract=contract, as_of=AS_OF).policy

    thirds = {
        "frontier-model": "0.3333333334",
        "gpt-4o-mini": "0.3333333333",
        "mid-model": "0.3333333333",
    }
    assert policy.task_types["support"]["weights"] == thirds
    assert policy.task_types["support"]["inputs"]["rule"] == "cold_start"
    assert policy.default["weights"] == thirds


def test_with_no_candidate_everything_goes_to_the_most_expensive_frontier_model(contract):
    priced_model("frontier-model", "frontier", "15", "75")
    priced_model("older-frontier", "frontier", "5", "15")

    policy = policy_learn_for_contract(contract=contract, as_of=AS_OF).policy

    assert policy.default["weights"] == {"frontier-model": "1.0000000000"}
    assert policy.default["inputs"]["rule"] == "baseline"


def test_an_unpriced_candidate_takes_no_part(contract):
    LlmModelFactory(name="unpriced-model", tier="light")
    contract.routing_models.set(LlmModel.objects.all())

    policy = policy_learn_for_contract(contract=contract, as_of=AS_OF).policy

    assert policy.default["weights"] == {"gpt-4o-mini": "1.0000000000"}
    assert policy.default["inputs"]["models"]["unpriced-model"]["excluded"] == "not_priced"


def test_versions_count_up_per_contract_and_a_second_run_for_the_same_instant_writes_nothing(
    contract,
):
    first = policies_learn.delay(AS_OF.isoformat()).get()
    again = policies_learn.delay(AS_OF.isoformat()).get()
    next_night = policies_learn.delay((AS_OF + timedelta(days=1)).isoformat()).get()

    assert (first, again, next_night) == (
        {"created": ["acme-agent v1"], "existing": []},
        {"created": [], "existing": ["acme-agent v1"]},
        {"created": ["acme-agent v2"], "existing": []},
    )
    assert list(PolicyVersion.objects.values_list("version", flat=True)) == [2, 1]


def test_weights_sum_to_exactly_one_and_the_largest_takes_the_remainder():
    weights = weights_exact({"a": Fraction(1, 7), "b": Fraction(2, 7), "c": Fraction(4, 7)})

    assert weights == {
        "a": Decimal("0.1428571429"),
        "b": Decimal("0.2857142857"),
        "c": Decimal("0.5714285714"),
    }
    assert sum(weights.values()) == 1


realized = st.builds(
    lambda tasks, successes, cost, value: Realized(
        tasks, min(successes, tasks), Decimal(cost).scaleb(-4), Decimal(value).scaleb(-2)
    ),
    st.integers(0, 60),
    st.integers(0, 60),
    st.integers(0, 10**8),
    st.integers(0, 10**7),
)


@given(
    stats=st.dictionaries(st.sampled_from("abcdefg"), realized, min_size=1),
    epsilon=st.integers(0, 100),
    tolerance=st.integers(0, 100),
)
def test_learned_weights_are_never_negative_and_always_sum_to_exactly_one(
    stats, epsilon, tolerance
):
    parameters = Parameters(28, 20, Decimal(tolerance).scaleb(-2), Decimal(epsilon).scaleb(-2))

    weights = task_type_policy(
        stats=stats,
        candidates=sorted(stats),
        priced=set(stats),
        baseline=None,
        parameters=parameters,
    )["weights"]

    assert sum(weights.values()) == 1
    assert min(weights.values()) >= 0
    assert set(weights) == set(stats)


def test_min_tasks_zero_and_epsilon_zero_learn_without_error_and_write_fixed_point_weights(
    contract,
):
    """min_tasks 0 still needs a task for a success rate; a zero weight is
    written "0.0000000000", never "0E-10"."""
    frontier = priced_model("frontier-model", "frontier")
    unused = priced_model("spare-light", "light")
    _terms(contract, min_tasks=0, epsilon=Decimal("0"))
    contract.routing_models.set([frontier, unused, LlmModel.objects.get(name="gpt-4o-mini")])
    _tasks(contract, "support", "gpt-4o-mini", ["l1", "l2"], "1", 2)
    _tasks(contract, "support", "frontier-model", ["f1", "f2"], "10", 1)

    learned = _learned(contract, "support")

    # gpt-4o-mini 2/2 is best; frontier 1/2 is below 1 - 0.05: out;
    # spare-light has no task at all: out, not a division by zero.
    assert learned["weights"] == {
        "frontier-model": "0.0000000000",
        "gpt-4o-mini": "1.0000000000",
        "spare-light": "0.0000000000",
    }
