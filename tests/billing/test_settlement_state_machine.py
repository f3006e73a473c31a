"""Settlement as a state machine (STYLE.md "Tests": Hypothesis for
invariants): ingestion, duplicates, disputes, decisions, late records, the
clock and the nightly run in any order, checked after every step against
the pure-Python reference books (tests/billing/settlement_reference.py):

- the statements in the database are the ones the books issued, total by total;
- an issued statement never changes;
- every journal entry, and the journal as a whole, sums to zero;
- the payouts never exceed the cap.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum, Value
from django.db.models.functions import Coalesce
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from billing.models import Statement
from billing.settlement import Figures, contract_settle
from ledger import services
from ledger.models import JournalPosting
from ledger.records import CallIn, OutcomeIn
from ledger.rollups import rollups_refresh
from tests.billing.settlement_reference import (
    CATALOG,
    Books,
    Terms,
    catalog_create,
    contract_create,
    ingest,
    local_midnight,
)
from tests.ledger.journal_sums import journal_imbalances

D = Decimal
TERMS = Terms(
    currency="EUR",
    fx_rate=D("0.92"),
    markup=D("0.1"),
    fixed_fee=D("20"),
    guarantee_multiple=D("2"),
    payout_share=D("0.75"),
    payout_cap=D("60"),
    timezone="America/Los_Angeles",
    grace_days=3,
    values={("task_completed", None): D("7.5")},
    fees={("task_completed", None): D("1.25")},
)
START = datetime(2026, 1, 20, tzinfo=UTC)
ZERO = Value(D(0))
TOTALS = [f.name for f in Figures.__dataclass_fields__.values()]

call_shapes = st.tuples(
    st.sampled_from([m for m, _ in CATALOG.models]),
    st.integers(0, 400_000),
    st.integers(0, 40_000),
)
quantities = st.sampled_from([D(1), D("0.5"), D("2.25"), D(3)])


class SettlementMachine(RuleBasedStateMachine):
    """One contract per run, inside a savepoint rolled back at teardown."""

    def __init__(self):
        super().__init__()
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()
        catalog_create(CATALOG)
        self.contract = contract_create(TERMS, code="machine")
        self.books = Books(CATALOG, TERMS)
        self.clock = START
        self.records = 0
        self.seen: dict[int, dict] = {}

    def teardown(self):
        transaction.set_rollback(True)
        self.savepoint.__exit__(None, None, None)

    def _id(self, prefix: str) -> str:
        self.records += 1
        return f"{prefix}-{self.records}"

    def _call(self, at: datetime, shape: tuple) -> CallIn:
        model, input_tokens, output_tokens = shape
        return CallIn(
            external_id=self._id("c"),
            occurred_at=at,
            model=model,
            task_type="triage",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=input_tokens // 3,
        )

    def _outcome(self, at: datetime, quantity: Decimal) -> OutcomeIn:
        return OutcomeIn(
            external_id=self._id("o"),
            occurred_at=at,
            kind="task_completed",
            task_type="triage",
            quantity=quantity,
        )

    def _ingest(self, calls: list[CallIn], outcomes: list[OutcomeIn]) -> None:
        ingest(self.contract, calls=calls, outcomes=outcomes)
        self.books.calls_add(calls)
        self.books.outcomes_add(outcomes)

    def _status(self, external_id: str, to_status: str) -> None:
        services.outcome_status_change(
            contract=self.contract,
            external_id=external_id,
            to_status=to_status,
            actor="machine",
            reason="step",
        )
        self.books.status_set(external_id, to_status)

    def _with_status(self, status: str) -> list[str]:
        return sorted(e for e, s in self.books.statuses.items() if s == status)

    @rule(
        calls=st.lists(st.tuples(st.integers(0, 5 * 24 * 60), call_shapes), max_size=4),
        outcomes=st.lists(st.tuples(st.integers(0, 5 * 24 * 60), quantities), max_size=3),
    )
    def ingest_recent(self, calls, outcomes):
        """Records of the last few days (never before the contract starts)."""
        self._ingest(
            [self._call(max(START, self.clock - timedelta(minutes=m)), s) for m, s in calls],
            [self._outcome(max(START, self.clock - timedelta(minutes=m)), q) for m, q in outcomes],
        )

    @precondition(lambda self: self.books.calls)
    @rule(data=st.data())
    def ingest_duplicate_call(self, data):
        call = self.books.calls[data.draw(st.sampled_from(sorted(self.books.calls)))]
        reports = ingest(self.contract, calls=[call])
        assert [(r.accepted, r.duplicates, r.rejected) for r in reports] == [(0, 1, []), (0, 0, [])]

    @precondition(lambda self: self.books.outcomes)
    @rule(data=st.data())
    def ingest_duplicate_outcome(self, data):
        outcome = self.books.outcomes[data.draw(st.sampled_from(sorted(self.books.outcomes)))]
        reports = ingest(self.contract, outcomes=[outcome])
        assert [(r.accepted, r.duplicates, r.rejected) for r in reports] == [(0, 0, []), (0, 1, [])]

    def _settled_instant(self, data) -> datetime:
        """An instant inside a period already settled."""
        period = data.draw(st.sampled_from(sorted({s.period for s in self.books.issued})))
        start, end = local_midnight(TERMS, period.start), local_midnight(TERMS, period.end)
        return start + (end - start) * data.draw(st.integers(0, 999)) / 1000

    @precondition(lambda self: self.books.issued)
    @rule(data=st.data(), shape=call_shapes)
    def ingest_late_call(self, data, shape):
        self._ingest([self._call(self._settled_instant(data), shape)], [])

    @precondition(lambda self: self.books.issued)
    @rule(data=st.data(), quantity=quantities)
    def ingest_late_outcome(self, data, quantity):
        self._ingest([], [self._outcome(self._settled_instant(data), quantity)])

    @precondition(lambda self: self._with_status("accepted"))
    @rule(data=st.data())
    def dispute(self, data):
        self._status(data.draw(st.sampled_from(self._with_status("accepted"))), "disputed")

    @precondition(lambda self: self._with_status("disputed"))
    @rule(data=st.data(), decision=st.sampled_from(["accepted", "rejected"]))
    def decide(self, data, decision):
        self._status(data.draw(st.sampled_from(self._with_status("disputed"))), decision)

    @rule(days=st.integers(1, 45), hours=st.integers(0, 23))
    def advance_clock(self, days, hours):
        self.clock += timedelta(days=days, hours=hours)

    @rule()
    def nightly(self):
        rollups_refresh()
        report = contract_settle(contract_id=self.contract.id, as_of=self.clock)
        expected = self.books.nightly(self.clock)
        again = contract_settle(contract_id=self.contract.id, as_of=self.clock)
        assert sorted(s.number for s in report.settled + report.adjusted) == [
            s.number for s in expected
        ]
        assert (again.settled, again.adjusted) == ([], [])

    @invariant()
    def statements_are_the_ones_the_books_issued(self):
        stored = Statement.objects.filter(contract=self.contract).order_by("number")
        assert [
            (
                s["number"],
                s["kind"],
                s["adjusts__number"],
                s["period_start"],
                s["period_end"],
                {name: s[name] for name in TOTALS},
                s["input_digest"],
            )
            for s in stored.values(
                *TOTALS,
                "number",
                "kind",
                "adjusts__number",
                "period_start",
                "period_end",
                "input_digest",
            )
        ] == [
            (i.number, i.kind, i.adjusts, i.period.start, i.period.end, i.totals, i.digest)
            for i in self.books.issued
        ]

    @invariant()
    def issued_statements_never_change(self):
        rows = {
            row["number"]: row for row in Statement.objects.filter(contract=self.contract).values()
        }
        assert {n: rows[n] for n in self.seen} == self.seen
        self.seen = rows

    @invariant()
    def the_journal_balances_per_entry_and_overall(self):
        assert journal_imbalances(contract=self.contract) == {}
        postings = JournalPosting.objects.filter(contract=self.contract)
        assert postings.aggregate(total=Coalesce(Sum("amount"), ZERO))["total"] == 0

    @invariant()
    def payouts_never_exceed_the_cap(self):
        statements = Statement.objects.filter(contract=self.contract)
        assert statements.aggregate(t=Coalesce(Sum("payout"), ZERO))["t"] <= TERMS.payout_cap


def test_settlement_matches_the_reference_books_after_every_step(db):
    run_state_machine_as_test(
        SettlementMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
