"""The application connects as a role that owns nothing (DESIGN.md "Trust
between the parties", core/db_roles.py): on every append-only table it may
INSERT and SELECT, and the database refuses UPDATE, DELETE, TRUNCATE,
trigger changes and replication mode, whatever SQL it sends. The tests run
as that role (tests/conftest.py)."""

import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from billing.reprice import reprice_apply
from core.db_roles import APPEND_ONLY_MODELS, OWNER_ALIAS, append_only_tables, connected_as_owner
from ledger import services
from ledger.records import CallIn, OutcomeIn
from routing.models import LlmModel
from routing.services import PriceIn
from routing.serving import route_for_contract
from tests.billing.settlement_reference import ingest

TABLES = append_only_tables()
REFUSED = {
    "update": "UPDATE {table} SET id = id",
    "delete": "DELETE FROM {table}",
    "truncate": "TRUNCATE {table} CASCADE",
    "disable_trigger": "ALTER TABLE {table} DISABLE TRIGGER ALL",
    "drop_trigger": "DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
    "replication_mode": "SET session_replication_role = replica",
}


@pytest.fixture
def ledger_rows(contract):
    """A row in every append-only table, written through the services by
    the application's role: a price (the fixture's), a call, an outcome and
    a dispute event, January's statement with its journal entry, a routing
    policy version and decision, and a decided reprice's correction."""
    ingest(
        contract,
        calls=[
            CallIn(
                external_id="c-1",
                occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
                model="gpt-4o-mini",
                task_type="triage",
                input_tokens=1000,
                output_tokens=100,
            )
        ],
        outcomes=[
            OutcomeIn(
                external_id=f"o-{n}",
                occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
                kind="task_completed",
                task_type="triage",
                quantity=Decimal(1),
            )
            for n in (1, 2)
        ],
    )
    services.outcome_status_change(
        contract=contract, external_id="o-1", to_status="disputed", actor="t", reason="r"
    )
    light = LlmModel.objects.get(name="gpt-4o-mini")
    contract.routing_models.set([light])
    call_command("nightly", as_of="2026-02-08T00:00:00Z", stdout=io.StringIO())
    route_for_contract(contract_id=contract.id, task_type="triage", key="k-1")
    reprice_apply(
        model=light,
        price=PriceIn(
            effective_from=datetime(2026, 1, 1, tzinfo=UTC),
            input=Decimal("0.30"),
            output=Decimal("1.20"),
        ),
        reason="list price corrected",
        source="test",
    )


def table_text(table: str) -> tuple[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, ','), '')) FROM {table} t"
        )
        return cursor.fetchone()


def test_the_tests_run_as_a_role_that_is_neither_owner_nor_superuser(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        user, superuser, bypass = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s",
            [user],
        )
        owned = cursor.fetchone()[0]

    assert user == settings.DATABASE_APP_USER != settings.DATABASES[OWNER_ALIAS]["USER"]
    assert (superuser, bypass, owned) == (False, False, 0)


def test_every_append_only_model_names_a_table_with_rows(ledger_rows):
    assert len(TABLES) == len(APPEND_ONLY_MODELS)
    assert [table for table in TABLES if table_text(table)[0] == 0] == []


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("statement", sorted(REFUSED))
def test_the_application_role_cannot_change_an_append_only_table(ledger_rows, table, statement):
    before = table_text(table)

    with (
        pytest.raises(DatabaseError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(REFUSED[statement].format(table=table))

    assert isinstance(refused.value.__cause__, psycopg.errors.InsufficientPrivilege)
    assert table_text(table) == before
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"


@pytest.mark.parametrize("table", TABLES)
def test_the_application_role_may_insert_and_read_an_append_only_table(db, table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(current_user, %s, 'INSERT'),"
            " has_table_privilege(current_user, %s, 'SELECT')",
            [table, table],
        )
        assert cursor.fetchone() == (True, True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("statement", ["update", "delete"])
def test_a_trigger_refuses_changes_to_every_append_only_table_even_for_the_owner(
    ledger_rows, statement
):
    before = {table: table_text(table) for table in TABLES}
    refusals = {}
    with connected_as_owner():
        for table in TABLES:
            with (
                pytest.raises(DatabaseError) as refused,
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(REFUSED[statement].format(table=table))
            refusals[table] = str(refused.value)

    assert all("append-only" in message for message in refusals.values()), refusals
    assert {table: table_text(table) for table in TABLES} == before


def _url(user: str, database: str) -> str:
    owner = settings.DATABASES[OWNER_ALIAS]
    host = quote(owner["HOST"] or "127.0.0.1", safe="")
    port = owner.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{database}"


def test_a_fresh_database_migrates_as_the_owner_with_the_application_role_split(db):
    """Every migration runs on the owner's connection: a data migration that
    read through the application's connection would wait on the owner's
    locks forever."""
    owner = settings.DATABASES[OWNER_ALIAS]
    fresh = f"{connection.settings_dict['NAME']}_fresh"
    admin = psycopg.connect(
        host=owner["HOST"], port=owner.get("PORT") or 5432, user=owner["USER"], dbname="postgres",
        autocommit=True,
    )  # fmt: skip
    admin.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{fresh}"')
    try:
        migrated = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=Path(settings.BASE_DIR),
            env={
                **os.environ,
                "DEBUG": "1",
                "DATABASE_URL": _url(settings.DATABASE_APP_USER, fresh),
                "MIGRATION_DATABASE_URL": _url(owner["USER"], fresh),
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')
        admin.close()

    assert migrated.returncode == 0, migrated.stderr
