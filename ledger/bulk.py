"""Idempotent bulk insert for the append-only tables (DESIGN.md "Ingestion rules").

Rows are COPYed into a per-connection temp table, then moved with
``INSERT ... ON CONFLICT (contract_id, external_id) DO NOTHING RETURNING``.
Rows that were not inserted already existed (possibly committed a moment ago
by a concurrent batch: ON CONFLICT waits for it); their stored fingerprint
tells a duplicate from a conflict. The stored row is never touched.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection


@dataclass(slots=True)
class StoreResult:
    inserted: set[str] = field(default_factory=set)
    duplicates: set[str] = field(default_factory=set)
    conflicts: set[str] = field(default_factory=set)


def store_new(
    *,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple],
    contract_id: int,
    fingerprints: dict[str, bytes],
) -> StoreResult:
    """Insert ``rows`` (whose columns include contract_id, external_id and
    fingerprint) into ``table``; call inside a transaction."""
    result = StoreResult()
    if not rows:
        return result
    staging = f"_ingest_{table}"
    column_list = ", ".join(columns)
    with connection.cursor() as cursor:
        # ON COMMIT DELETE ROWS keeps the table (and the catalog) stable across
        # batches on a pooled connection; the DELETE below serves several
        # batches inside one transaction.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
            f"SELECT {column_list} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {staging} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # Insert in external_id order: concurrent batches that overlap then
        # take their row locks in one order and wait on each other instead
        # of deadlocking (each would otherwise hold a key the other needs).
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging} "
            f"ORDER BY external_id "
            f"ON CONFLICT (contract_id, external_id) DO NOTHING RETURNING external_id"
        )
        result.inserted = {external_id for (external_id,) in cursor.fetchall()}
        cursor.execute(f"DELETE FROM {staging}")
        existing = [e for e in fingerprints if e not in result.inserted]
        if existing:
            cursor.execute(
                f"SELECT external_id, fingerprint FROM {table} "
                f"WHERE contract_id = %s AND external_id = ANY(%s)",
                [contract_id, existing],
            )
            for external_id, stored in cursor.fetchall():
                if bytes(stored) == fingerprints[external_id]:
                    result.duplicates.add(external_id)
                else:
                    result.conflicts.add(external_id)
    return result
