"""docs/SCALE.md "Already true", checked: every SQL statement the main flows
send (ingest, dispute, nightly, audit reads, route) that reads or writes a
per-contract table names the contract (a ``contract_id`` predicate, or the
column of the rows it inserts), so that under Citus each one is routed to
the contract's shard instead of fanning out to every shard."""

import re
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection

from ops.nightly import nightly_chain

# Distributed by contract_id under Citus (docs/SCALE.md). A new per-contract
# table is one more line here.
PER_CONTRACT_TABLES = (
    "ledger_call",
    "ledger_outcome",
    "ledger_outcomeevent",
    "ledger_outcome_current",  # a view over ledger_outcome and its events
    "ledger_callrollup",
    "ledger_outcomerollup",
    "ledger_dirtyday",
    "ledger_journalentry",
    "ledger_journalposting",
    "billing_statement",
    "billing_spendcounter",
    "billing_spendalert",
    "billing_repricecorrection",
    "billing_webhookevent",
    "ledger_contractmodelused",
    "ledger_routedecision",
    "routing_policyversion",
)


# Statements that read every contract's rows on purpose, and why.
FAN_OUT = {
    # The nightly rollup step finds the contracts with work: one index-only
    # scan of the small dirty-day marks (a multi-shard query under Citus);
    # everything after it runs per contract.
    "SELECT DISTINCT ledger_dirtyday.contract_id AS contract_id FROM ledger_dirtyday "
    "WHERE NOT ledger_dirtyday.rolled_up",
}
# Words that follow a table name and are not its alias.
_KEYWORDS = {
    "where", "on", "join", "inner", "left", "right", "full", "cross", "set", "group", "order",
    "limit", "using", "for", "union", "returning", "values", "select", "having", "window", "as",
}  # fmt: skip
_TABLE = re.compile(
    r"\b(?:from|join|update|into|copy|delete\s+from)\s+(" + "|".join(PER_CONTRACT_TABLES) + r")\b"
    r"(?:\s+(?:as\s+)?([a-z_][a-z0-9_]*))?"
)


def normalized(sql: str) -> str:
    return " ".join(sql.replace('"', "").split())


def unscoped_tables(sql: str) -> list[str]:
    """The per-contract tables ``sql`` touches without naming a contract.
    A row inserted (INSERT, COPY ... FROM) names it in its contract_id
    column; any other reference needs a contract_id predicate (``=``,
    ``= ANY``, ``IN``, or equality with a joined table's contract_id): on
    the table's name or alias anywhere, or unqualified in the clause that
    follows the table, before the next table is named."""
    text = normalized(sql).lower()
    matches = list(_TABLE.finditer(text))
    unscoped = []
    for index, match in enumerate(matches):
        table, alias = match.group(1), match.group(2)
        if alias is None or alias in _KEYWORDS:
            alias = table
        keyword = text[match.start() : match.start(1)].split()[0]
        if keyword in ("into", "copy"):
            columns = re.match(r"\s*\(([^)]*)\)", text[match.end(1) :])
            if columns and "contract_id" in columns.group(1).replace(" ", "").split(","):
                continue
        clause_end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        clause = text[match.end() : clause_end]
        qualified = rf"\b{re.escape(alias)}\.contract_id\s*(?:=|in\b)"
        bare = r"(?<![.\w])contract_id\s*(?:=|in\b)"
        if re.search(qualified, text) or re.search(bare, clause):
            continue
        unscoped.append(table)
    return unscoped


@contextmanager
def statements_sent():
    """Every statement this connection sends: through Django's cursors, and
    the COPYs sent on psycopg's cursor directly (bulk ingestion, digests)."""
    sent: list[str] = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    original_copy = psycopg.Cursor.copy

    def recording_copy(cursor, statement, *args, **kwargs):
        text = statement if isinstance(statement, str) else statement.as_string(cursor)
        sent.append(text)
        return original_copy(cursor, statement, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch, connection.execute_wrapper(record):
        patch.setattr(psycopg.Cursor, "copy", recording_copy)
        yield sent


CALLS = {
    "records": [
        {"external_id": f"c-{n}", "occurred_at": "2026-11-03T09:15:00Z", "model": "gpt-4o-mini",
         "task_type": "code_review", "task_ref": f"PR-{n}", "input_tokens": 1200,
         "output_tokens": 300}
        for n in range(3)
    ]
}  # fmt: skip
OUTCOMES = {
    "records": [
        {"external_id": f"o-{n}", "occurred_at": "2026-11-03T17:00:00Z", "kind": "task_completed",
         "task_type": "code_review", "task_ref": f"PR-{n}", "quantity": "1"}
        for n in range(3)
    ]
}  # fmt: skip
BASE = "/api/v1/contracts/acme-agent"
AUDIT_READS = (
    "calls",
    "calls?format=csv",
    "outcomes",
    "outcomes?status=rejected&format=csv",
    "outcomes/o-1",
    "statements",
    "statements/1",
    "statements/1?format=html",
    "statements/1/digest-input",
    "roi?group_by=model",
    "alerts",
    "routing/policy",
)


@pytest.mark.parametrize(
    ("sql", "unscoped"),
    [
        ('SELECT * FROM "ledger_call" WHERE "ledger_call"."contract_id" = %s', []),
        ("SELECT 1 FROM ledger_call WHERE contract_id = %s AND external_id = ANY(%s)", []),
        ("SELECT * FROM ledger_outcomeevent WHERE outcome_id IN (%s)", ["ledger_outcomeevent"]),
        (
            "SELECT * FROM ledger_outcome o JOIN ledger_outcomeevent e ON e.outcome_id = o.id "
            "WHERE o.contract_id = %s",
            ["ledger_outcomeevent"],
        ),
        (
            "SELECT * FROM ledger_outcome o JOIN ledger_outcomeevent e "
            "ON e.contract_id = o.contract_id AND e.outcome_id = o.id WHERE o.contract_id = %s",
            [],
        ),
        ("INSERT INTO ledger_dirtyday (contract_id, day) VALUES (%s, %s)", []),
        ("UPDATE ledger_dirtyday SET rolled_up = true WHERE id IN (%s)", ["ledger_dirtyday"]),
        ("COPY ledger_call (contract_id, external_id) FROM STDIN", []),
        ("DELETE FROM billing_statement WHERE id = %s", ["billing_statement"]),
    ],
)
def test_the_check_tells_a_statement_that_names_its_contract(sql, unscoped):
    assert unscoped_tables(sql) == unscoped


def test_every_per_contract_table_is_one_the_database_has(db):
    with connection.cursor() as cursor:
        names = set(connection.introspection.table_names(cursor, include_views=True))

    assert set(PER_CONTRACT_TABLES) <= names


def main_flows(vendor_client, customer_client, admin_client) -> None:
    """Ingest, dispute and decide, the nightly chain, every audit read, a
    route decision; each must succeed for its statements to count."""
    assert vendor_client.post(f"{BASE}/calls", CALLS, format="json").status_code == 200
    assert vendor_client.post(f"{BASE}/outcomes", OUTCOMES, format="json").status_code == 200
    disputed = customer_client.post(
        f"{BASE}/outcomes/o-1/disputes", {"reason": "reverted"}, format="json"
    )
    decided = admin_client.post(
        f"{BASE}/outcomes/o-1/decision",
        {"status": "rejected", "reason": "confirmed"},
        format="json",
    )
    assert (disputed.status_code, decided.status_code) == (200, 200)
    # The chain itself: the command refuses a time after the wall clock.
    nightly_chain(datetime(2026, 12, 10, tzinfo=UTC)).apply().get()
    for read in AUDIT_READS:
        response = customer_client.get(f"{BASE}/{read}")
        assert response.status_code == 200, (read, response.content)
    routed = vendor_client.post(
        f"{BASE}/routing/route", {"task_type": "code_review", "key": "PR-1"}, format="json"
    )
    assert routed.status_code == 200, routed.content


def test_every_statement_of_the_main_flows_names_its_contract(
    vendor_client, customer_client, admin_client, contract, light_model
):
    contract.routing_models.add(light_model)

    with statements_sent() as sent:
        main_flows(vendor_client, customer_client, admin_client)

    checked = [normalized(sql) for sql in sent if normalized(sql) not in FAN_OUT]
    assert len(checked) > 50
    assert [(sql, unscoped_tables(sql)) for sql in checked if unscoped_tables(sql)] == []
