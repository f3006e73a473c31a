"""The 95% interval of a period's value (DESIGN.md "Statistical honesty on
statements"; billing/intervals.py): tasks are outcomes grouped by task_ref,
an outcome without one its own task; value ± 1.96 x s x sqrt(n), rounded
once to the minor unit, exactly."""

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from billing.intervals import half_width, nearest_sqrt, value_interval
from billing.settlement import contract_settle
from core.batch import DecodedBatch
from ledger import ingestion
from ledger.records import OutcomeIn
from ledger.rollups import rollups_refresh
from tests.conftest import client_for
from tests.factories import api_key_create

D = Decimal


def outcome(external_id: str, task_ref: str | None, quantity: str) -> OutcomeIn:
    return OutcomeIn(
        external_id=external_id,
        occurred_at=datetime(2026, 1, 5, 12, tzinfo=UTC),
        kind="task_completed",
        task_type="code_review",
        task_ref=task_ref,
        quantity=D(quantity),
    )


def test_outcomes_sharing_a_task_ref_are_one_task_and_one_without_is_its_own(contract):
    """Unit value 40 (tests/conftest.py). PR-1: 1 + 2 units = 120; PR-2: 1
    unit = 40; o-4 without a task_ref: 0.5 unit = 20; o-5's task_ref "o-4"
    equals o-4's id but is another task: 40. Tasks 120, 40, 20, 40: n = 4,
    Σx = 220, Σx² = 14400 + 1600 + 400 + 1600 = 18000, n Σx² - (Σx)² =
    72000 - 48400 = 23600, / 3 = 7866.66..., sqrt = 88.694..., x 1.96 =
    173.840... -> 173.84 around the value 220.00. Guarantee multiple 0: the
    guaranteed value 0 lies below the interval (46.16 to 393.84)."""
    contract.starts_on = date(2026, 1, 1)
    contract.save()
    records = [
        outcome("o-1", "PR-1", "1"),
        outcome("o-2", "PR-1", "2"),
        outcome("o-3", "PR-2", "1"),
        outcome("o-4", None, "0.5"),
        outcome("o-5", "o-4", "1"),
    ]
    ingestion.outcomes_record(contract=contract, batch=DecodedBatch.of(records))
    rollups_refresh()
    contract_settle(contract_id=contract.id, as_of=datetime(2026, 2, 9, tzinfo=UTC))
    client = client_for(api_key_create(organization=contract.customer, role="customer"))

    totals = client.get(f"/api/v1/contracts/{contract.code}/statements/1").json()["totals"]

    assert {k: totals[k] for k in ("value", "tasks", "value_ci_low", "value_ci_high")} == {
        "value": "220.00",
        "tasks": 4,
        "value_ci_low": "46.16",
        "value_ci_high": "393.84",
    }
    assert totals["shortfall_within_noise"] is False


def test_fewer_than_two_tasks_give_no_interval():
    interval = value_interval(
        tasks=1,
        value_sum=D("40"),
        value_sum_of_squares=D("1600"),
        value=D("40.00"),
        guaranteed_value=D("50.00"),
        currency="USD",
    )

    assert (interval.tasks, interval.low, interval.high, interval.shortfall_within_noise) == (
        1,
        None,
        None,
        None,
    )


def test_the_rounded_root_breaks_an_exact_tie_to_even_and_anything_above_it_up():
    """sqrt(6.25) = 2.5 -> 2, sqrt(12.25) = 3.5 -> 4, sqrt(6.2500001) -> 3."""
    assert [nearest_sqrt(Fraction(x)) for x in ("6.25", "12.25", "6.2500001", "6.2499999")] == [
        2,
        4,
        3,
        2,
    ]


def test_the_half_width_is_1_96_times_s_times_root_n_in_minor_units():
    """Tasks 10 and 20: s x sqrt(2) = sqrt((2 x 500 - 900) / 1) = 10, so
    the half width is 19.60 (1960 cents; 20 yen at 0 places)."""
    moments = {"tasks": 2, "value_sum": D(30), "value_sum_of_squares": D(500)}

    assert (half_width(**moments, places=2), half_width(**moments, places=0)) == (1960, 20)


@given(st.integers(min_value=0, max_value=10**24), st.integers(min_value=1, max_value=10**6))
def test_the_rounded_root_is_the_high_precision_root_rounded_half_even(numerator, denominator):
    with localcontext(prec=80):
        expected = (D(numerator) / D(denominator)).sqrt().quantize(D(1), ROUND_HALF_EVEN)

    assert nearest_sqrt(Fraction(numerator, denominator)) == int(expected)
