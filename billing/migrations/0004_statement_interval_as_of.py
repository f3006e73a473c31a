"""Statements keep the value interval (DESIGN.md "Statistical honesty on
statements") and the run's ``as_of`` beside the real ``issued_at``
(DESIGN.md "Trust between the parties").

Statements issued before were issued with ``issued_at`` = the run's as_of,
so that is their ``as_of``. The append-only trigger is set aside for that one
backfill, in this migration's transaction, and put back."""

from django.db import migrations, models

BACKFILL = """
ALTER TABLE billing_statement DISABLE TRIGGER billing_statement_append_only;
UPDATE billing_statement SET as_of = issued_at WHERE as_of IS NULL;
ALTER TABLE billing_statement ENABLE TRIGGER billing_statement_append_only;
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_statement_immutable")]

    operations = [
        migrations.AddField(
            model_name="statement",
            name="tasks",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="statement",
            name="value_ci_low",
            field=models.DecimalField(blank=True, decimal_places=10, max_digits=30, null=True),
        ),
        migrations.AddField(
            model_name="statement",
            name="value_ci_high",
            field=models.DecimalField(blank=True, decimal_places=10, max_digits=30, null=True),
        ),
        migrations.AddField(
            model_name="statement",
            name="shortfall_within_noise",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="statement", name="as_of", field=models.DateTimeField(null=True)
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="statement", name="as_of", field=models.DateTimeField()
        ),
    ]
