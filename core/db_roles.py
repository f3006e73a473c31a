"""The two database roles (DESIGN.md "Trust between the parties";
docs/DATABASE.md).

- The **owner** (``MIGRATION_DATABASE_URL``, the ``owner`` connection) owns
  every table: migrations, and the commands that empty tables, run as it.
- The **application** (``DATABASE_URL``, the ``default`` connection) owns
  nothing. It may SELECT and INSERT the append-only tables below, never
  UPDATE, DELETE or TRUNCATE them, and, not owning them, never alter them or
  their triggers; it has the usual SELECT, INSERT, UPDATE and DELETE on the
  other tables.

After every ``migrate`` the owner creates the application's role if it is
missing and sets its grants (``roles_grant``), so a new table gets them too.
"""

import logging
from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

OWNER_ALIAS = "owner"

# The append-only tables, by model: one line adds one.
APPEND_ONLY_MODELS = (
    "ledger.Call",
    "ledger.Outcome",
    "ledger.OutcomeEvent",
    "ledger.JournalEntry",
    "ledger.JournalPosting",
    "ledger.RouteDecision",
    "routing.Price",
    "routing.PolicyVersion",
    "billing.Statement",
    "billing.RepriceCorrection",
)

logger = logging.getLogger(__name__)


def append_only_tables() -> list[str]:
    return [apps.get_model(label)._meta.db_table for label in APPEND_ONLY_MODELS]


def app_credentials() -> tuple[str, str]:
    """The application's role and password (settings: the ``default``
    connection's, unless the test setup chose another role)."""
    return settings.DATABASE_APP_USER, settings.DATABASE_APP_PASSWORD or ""


def roles_grant(connection) -> None:
    """As the owner, on ``connection``: the application's role exists, can
    log in, is no superuser, and has exactly the grants above. Safe to run
    any number of times, and concurrently."""
    role, password = app_credentials()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (current,) = cursor.fetchone()
        if role == current:
            # One role for both: nothing to grant (a setup without the split;
            # docs/DATABASE.md says why production has two).
            logger.warning("the application connects as the table owner %s", role)
            return
        quoted = connection.ops.quote_name(role)
        cursor.execute(
            """
            DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN
                    CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END $$
            """.replace("{role}", quoted),
            [role],
        )
        cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone()[0]:
            raise ImproperlyConfigured(
                f"the application's database role {role} is a superuser or bypasses row "
                "security; it must be an ordinary role (docs/DATABASE.md)"
            )
        if password:
            cursor.execute(f"ALTER ROLE {quoted} LOGIN PASSWORD %s", [password])
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}"
        )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
        cursor.execute(
            f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {quoted}"
        )
        tables = ", ".join(connection.ops.quote_name(t) for t in append_only_tables())
        cursor.execute(f"REVOKE UPDATE, DELETE ON {tables} FROM {quoted}")


def roles_after_migrate(sender, using, **kwargs) -> None:
    """post_migrate: once per migrate (for the last app that has models)."""
    last = [config for config in apps.get_app_configs() if config.models_module][-1]
    if sender.label == last.label:
        roles_grant(connections[using])


@contextmanager
def connected_as_owner(alias: str = "default"):
    """Connection ``alias`` (its database, test or not) logged in as the
    owner for the duration: for creating and emptying tables."""
    connection = connections[alias]
    owner = settings.DATABASES[OWNER_ALIAS]
    login = {"USER": owner["USER"], "PASSWORD": owner.get("PASSWORD", "")}
    saved = {key: connection.settings_dict.get(key, "") for key in login}
    if saved == login:
        yield connection
        return
    connection.close()
    connection.settings_dict.update(login)
    try:
        yield connection
    finally:
        connection.close()
        connection.settings_dict.update(saved)
