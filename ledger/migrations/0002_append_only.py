"""Calls, outcomes and outcome events are append-only in the database itself
(DESIGN.md "Outcome": nothing is edited in place). TRUNCATE stays possible for
the table owner (test databases are flushed with it)."""

from django.db import migrations

TABLES = ["ledger_call", "ledger_outcome", "ledger_outcomeevent"]

FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def append_only(table: str) -> migrations.RunSQL:
    """The operation that makes ``table`` append-only (used by later
    migrations of this and other apps too)."""
    return migrations.RunSQL(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();",
        f"DROP TRIGGER {table}_append_only ON {table};",
    )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION ledger_refuse_change();"),
        *[append_only(t) for t in TABLES],
    ]
