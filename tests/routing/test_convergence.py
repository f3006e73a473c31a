"""The routing loop converges (DESIGN.md "Routing feedback"): on a seeded
synthetic workload routed by the real route code, stored by the real
ingestion and learned by the nightly service (routing/simulation.py)."""

from decimal import Decimal

import pytest

from routing.simulation import UNIFORM, expected_value_per_dollar, simulate

pytestmark = pytest.mark.django_db


@pytest.fixture
def result(db):
    return simulate(weeks=2, seed=7, scale=0.3)


def test_routine_work_where_the_light_model_is_as_good_goes_mostly_to_it(result):
    assert Decimal(result.final_weights["support_ticket"]["sim-light"]) > Decimal("0.8")


def test_work_where_the_light_model_is_clearly_worse_goes_mostly_to_the_frontier_model(result):
    assert Decimal(result.final_weights["code_review"]["sim-frontier"]) > Decimal("0.9")


def test_realized_value_per_dollar_beats_uniform_routing(result):
    assert result.weeks[-1].value_per_dollar > expected_value_per_dollar(UNIFORM)


def test_routing_costs_less_than_always_frontier(result):
    assert result.weeks[-1].efficiency > Decimal("1.5")
