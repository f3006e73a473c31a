"""A statement's figures and its digest always describe the same records,
and a backdated run never loses a pending re-settlement."""

from datetime import UTC, datetime

from billing.models import Statement
from billing.settlement import contract_settle
from ledger.models import DirtyDay
from ledger.selectors import input_digest
from tests.billing.test_adjustments import NEXT_NIGHT, call, ledger  # noqa: F401


def test_a_call_marked_after_the_rollup_step_is_in_both_figures_and_digest(ledger):  # noqa: F811
    """The settlement rolls up days marked since the rollup step, in the
    same snapshot as its digest, so the two never disagree."""
    ledger.ingest(calls=[call("c-late", 20, "3.00")])
    assert DirtyDay.objects.filter(contract=ledger.contract, rolled_up=False).count() == 1

    report = contract_settle(contract_id=ledger.contract.id, as_of=NEXT_NIGHT)

    adjustment = report.adjusted[0]
    assert adjustment.calls == 1
    assert adjustment.cost_usd == 3
    assert adjustment.input_digest == input_digest(
        contract=ledger.contract,
        start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 2, 1, tzinfo=UTC),
    )


def test_a_backdated_run_keeps_the_marks_of_periods_it_does_not_settle(ledger):  # noqa: F811
    ledger.ingest(calls=[call("c-late", 20, "3.00")])

    early = contract_settle(contract_id=ledger.contract.id, as_of=datetime(2026, 1, 15, tzinfo=UTC))
    later = contract_settle(contract_id=ledger.contract.id, as_of=NEXT_NIGHT)

    assert (early.settled, early.adjusted) == ([], [])
    assert [s.kind for s in later.adjusted] == ["adjustment"]
    assert Statement.objects.filter(contract=ledger.contract).count() == 2
