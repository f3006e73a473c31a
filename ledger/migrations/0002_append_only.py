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


def trigger(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();"
    )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION ledger_refuse_change();"),
        *[
            migrations.RunSQL(trigger(t), f"DROP TRIGGER {t}_append_only ON {t};")
            for t in TABLES
        ],
    ]
