"""Fixtures of the ledger tests (the ingestion fixtures are shared, in
tests/conftest.py)."""

import pytest
from django.db import connection


@pytest.fixture
def stored_rows(db):
    """Every stored row of ``table`` for a contract, each as PostgreSQL's own
    text of the whole row (every column, byte for byte), in id order."""

    def rows(table: str, contract) -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t::text FROM {table} t WHERE t.contract_id = %s ORDER BY t.id",
                [contract.id],
            )
            return [text for (text,) in cursor.fetchall()]

    return rows
