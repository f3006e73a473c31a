"""Idempotent bulk insert for the append-only tables (DESIGN.md "Ingestion rules").

A batch whose external ids look new is COPYed straight into the table, in a
savepoint: the fast path (docs/BENCHMARKS.md). Any other batch, or one whose
COPY meets an existing id, takes the general path: the ids already stored
are classified by their stored fingerprint (same: a duplicate; other: a
conflict), and the rest is COPYed into a per-connection temp table, then
moved with ``INSERT ... ON CONFLICT (contract_id, external_id) DO NOTHING
RETURNING``. A row that a concurrent batch stored in between is not
inserted (the insert waits for that batch) and is classified like the
others. The stored row is never touched.

Rows go in external_id order on both paths: concurrent batches that overlap
then take their key locks in one order and wait on each other instead of
deadlocking (each would otherwise hold a key the other needs).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from django.db import connection, transaction
from psycopg.errors import UniqueViolation


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
    key = itemgetter(columns.index("external_id"))
    rows = sorted(rows, key=key)
    column_list = ", ".join(columns)
    with connection.cursor() as cursor:
        probes = {key(rows[0]), key(rows[len(rows) // 2]), key(rows[-1])}
        if _looks_new(cursor, table, contract_id, list(probes)) and _copy_in(
            cursor, table, column_list, rows
        ):
            result.inserted = set(fingerprints)
            return result
        # A replay, or a batch that met stored ids: classify what is stored
        # first, so that a replayed batch never goes through an insert.
        _classify(cursor, table, contract_id, fingerprints, list(fingerprints), result)
        known = result.duplicates | result.conflicts
        remaining = [row for row in rows if key(row) not in known]
        if remaining:
            result.inserted = _insert_new(cursor, table, column_list, remaining)
            # Rows a concurrent batch stored between the two statements.
            raced = [key(row) for row in remaining if key(row) not in result.inserted]
            if raced:
                _classify(cursor, table, contract_id, fingerprints, raced, result)
    return result


def _classify(
    cursor,
    table: str,
    contract_id: int,
    fingerprints: dict[str, bytes],
    external_ids: list[str],
    result: StoreResult,
) -> None:
    """Stored ids among ``external_ids``: same fingerprint, a duplicate;
    another, a conflict."""
    cursor.execute(
        f"SELECT external_id, fingerprint FROM {table} "
        f"WHERE contract_id = %s AND external_id = ANY(%s)",
        [contract_id, external_ids],
    )
    for external_id, stored in cursor.fetchall():
        if bytes(stored) == fingerprints[external_id]:
            result.duplicates.add(external_id)
        else:
            result.conflicts.add(external_id)


def _looks_new(cursor, table: str, contract_id: int, probes: list[str]) -> bool:
    """A few index probes (the first, middle and last id of the sorted batch)
    tell a fresh batch from a replay, so a replay never pays for a failed
    COPY."""
    cursor.execute(
        f"SELECT 1 FROM {table} WHERE contract_id = %s AND external_id = ANY(%s) LIMIT 1",
        [contract_id, probes],
    )
    return cursor.fetchone() is None


def _copy_in(cursor, table: str, column_list: str, rows: Sequence[tuple]) -> bool:
    """COPY straight into ``table``; False (and nothing written) when a row
    meets an existing external id."""
    try:
        with (
            transaction.atomic(),
            cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    except UniqueViolation:
        return False
    return True


def _insert_new(cursor, table: str, column_list: str, rows: Sequence[tuple]) -> set[str]:
    """The general path; returns the external ids inserted."""
    staging = f"_ingest_{table}"
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
    cursor.execute(
        f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging} "
        f"ORDER BY external_id "
        f"ON CONFLICT (contract_id, external_id) DO NOTHING RETURNING external_id"
    )
    inserted = {external_id for (external_id,) in cursor.fetchall()}
    cursor.execute(f"DELETE FROM {staging}")
    return inserted
