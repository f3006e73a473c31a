"""routing/learning.py and routing/success_model.py: the nightly policy
learned from logged decisions (DESIGN.md "Learning (nightly)"), on seeded
synthetic data with a planted structure, against simple baselines."""

import random
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.db.models import Sum

from ledger.models import Call, Outcome
from routing import simulation, success_model
from routing.decisions import policy_compile
from routing.learning import policy_learn_for_contract
from routing.models import PolicyVersion


@pytest.fixture
def simulated(db):
    """Four days of the hidden-difficulty workload, served three ways."""
    return simulation.simulate(days=4, seed=3)


def net_value_from(contract, day: int) -> Decimal:
    """Value of accepted outcomes minus the cost of calls from ``day`` on."""
    since = simulation.START + timedelta(days=day)
    value = Outcome.objects.filter(contract=contract, occurred_at__gte=since).aggregate(
        v=Sum("value")
    )["v"]
    cost = Call.objects.filter(contract=contract, occurred_at__gte=since).aggregate(
        c=Sum("cost_usd")
    )["c"]
    return value - cost


def easy_and_hard_greedy(contract) -> tuple[float, float]:
    """Shares of easy requests sent to the light model and of hard ones to
    the frontier model by the greedy rule of the latest version, over fresh
    requests of the same world."""
    policy = PolicyVersion.objects.filter(contract=contract).order_by("-as_of").first()
    compiled = policy_compile(
        version=policy.version,
        model=policy.model,
        task_types=policy.task_types,
        default=policy.default,
    )
    rng = random.Random(99)
    requests = simulation.request_stream(rng, 999, 2.0)
    easy = [r for r in requests if not r.hard]
    hard = [r for r in requests if r.hard]

    def pick(request):
        entry = compiled.entries[request.task.name]
        return compiled.candidates[compiled.greedy(entry, np.asarray(request.features))]

    return (
        sum(pick(r) == "sim-light" for r in easy) / len(easy),
        sum(pick(r) == "sim-frontier" for r in hard) / len(hard),
    )


def test_learning_recovers_the_hidden_difficulty_and_beats_both_simple_baselines(db):
    """Ten days of the workload: the policy sends most easy requests to the
    light model and hard ones to frontier, where per-task-type weights,
    blind to the request, cannot; from day 3 on (the first nights learn),
    request-aware routing earns more net value than both other ways."""
    result = simulation.simulate(days=10, seed=7)
    to_light, to_frontier = easy_and_hard_greedy(result.contracts["request-aware"])
    blind_to_light, _ = easy_and_hard_greedy(result.contracts["per-task-type"])
    net = {s: net_value_from(c, 3) for s, c in result.contracts.items()}

    assert to_light > 0.5
    assert to_frontier > 0.8
    assert blind_to_light < 0.1
    assert net["request-aware"] > net["always-frontier"]
    assert net["request-aware"] > net["per-task-type"]


def test_a_window_without_data_carries_the_previous_model_forward(simulated):
    contract = simulated.contracts["request-aware"]
    before = PolicyVersion.objects.filter(contract=contract).order_by("-as_of").first()

    quiet = policy_learn_for_contract(
        contract=contract, as_of=simulation.START + timedelta(days=4 + 60)
    ).policy

    assert quiet.guard["verdict"] == "carried"
    assert quiet.model["success"] == before.model["success"]
    assert quiet.default["weights"] == before.default["weights"]
    # Never everything to the baseline.
    assert quiet.default["weights"]["sim-frontier"] != "1.0000000000"


def test_the_promotion_guard_keeps_the_current_policy_when_the_new_fit_is_worse(
    simulated, monkeypatch
):
    contract = simulated.contracts["request-aware"]
    before = PolicyVersion.objects.filter(contract=contract).order_by("-as_of").first()
    honest_fit = success_model.fit

    def inverted_fit(logged, **shape):
        """A planted bad fit: every learned term with its sign flipped."""
        fitted = honest_fit(logged, **shape)
        fitted.intercept, fitted.model_task = -fitted.intercept, -fitted.model_task
        fitted.model_features = -fitted.model_features
        fitted.shared_features = -fitted.shared_features
        return fitted

    monkeypatch.setattr(success_model, "fit", inverted_fit)

    kept = policy_learn_for_contract(
        contract=contract, as_of=before.as_of + timedelta(hours=1)
    ).policy

    assert kept.guard["verdict"] == "kept"
    assert (
        kept.guard["estimates"]["fresh"]["net_value"]
        < kept.guard["estimates"]["current"]["net_value"]
    )
    assert kept.model["success"] == before.model["success"]


def test_inverse_propensity_weighting_keeps_other_models_unbiased_under_forced_traffic():
    """90% of decisions forced to model 0; the logging probability depends on
    the request, and so does success: the weighted fit still recovers every
    model's mean success over all requests."""
    rng = np.random.default_rng(5)
    n = 60_000
    x = rng.normal(size=(n, 1))
    truth = np.stack(
        [np.full(n, 0.9), 1 / (1 + np.exp(-(0.5 - 2.0 * x[:, 0]))), np.full(n, 0.4)], axis=1
    )
    # Requests with high x are forced to model 0 more often.
    forced = np.where(x[:, 0] > 0, 0.95, 0.85)
    probability = np.stack([forced, (1 - forced) / 2, (1 - forced) / 2], axis=1)
    model = np.asarray([rng.choice(3, p=p) for p in probability])
    rows = np.arange(n)
    success = (rng.random(n) < truth[rows, model]).astype(float)
    logged = success_model.Logged(
        task=np.zeros(n, dtype=np.int64),
        model=model,
        probability=probability[rows, model],
        success=success,
        cost=np.zeros(n),
        features=x,
    )

    fitted = success_model.fit(logged, n_models=3, n_tasks=1)
    predicted = success_model.sigmoid(fitted.logits(logged.task, logged.features)).mean(axis=0)

    assert np.abs(predicted - truth.mean(axis=0)).max() < 0.03
