"""Calls, outcomes and outcome events are append-only in the database itself
(DESIGN.md "Outcome": nothing is edited in place; ledger migration 0002).
Raw SQL, so no application code stands between the statement and the table.

The application's role may not UPDATE or DELETE at all (tests/core/
test_db_roles.py); these tests check the trigger behind that, which holds
even for the owner role, so they run as the owner, on committed rows."""

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from core.db_roles import connected_as_owner
from ledger.models import Call, Outcome, OutcomeEvent
from tests.factories import CallRecordFactory, OutcomeRecordFactory

STATEMENTS = {
    "update": "UPDATE {table} SET contract_id = contract_id WHERE id = %s",
    "delete": "DELETE FROM {table} WHERE id = %s",
}


@pytest.fixture
def ledger_rows(contract, ingest_calls, ingest_outcomes):
    """One stored call, one outcome and one event of that outcome: the id of
    the row in each append-only table."""
    ingest_calls(contract, [CallRecordFactory(external_id="c-1")])
    ingest_outcomes(contract, [OutcomeRecordFactory(external_id="o-1")])
    outcome = Outcome.objects.get(contract=contract, external_id="o-1")
    event = OutcomeEvent.objects.create(
        contract=contract,
        outcome=outcome,
        seq=1,
        from_status="accepted",
        to_status="disputed",
        actor="acme/customer/test",
        reason="not merged",
    )
    return {
        "ledger_call": Call.objects.get(contract=contract, external_id="c-1").id,
        "ledger_outcome": outcome.id,
        "ledger_outcomeevent": event.id,
    }


def row_text(table: str, row_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t::text FROM {table} t WHERE t.id = %s", [row_id])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("table", ["ledger_call", "ledger_outcome", "ledger_outcomeevent"])
@pytest.mark.parametrize("statement", sorted(STATEMENTS))
def test_the_database_refuses_to_change_or_remove_a_ledger_row_even_for_the_owner(
    ledger_rows, table, statement
):
    row_id = ledger_rows[table]
    before = row_text(table, row_id)
    with (
        connected_as_owner(),
        pytest.raises(DatabaseError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(STATEMENTS[statement].format(table=table), [row_id])
    assert isinstance(refused.value.__cause__, psycopg.errors.InsufficientPrivilege)
    assert "append-only" in str(refused.value)
    assert row_text(table, row_id) == before
