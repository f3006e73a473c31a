"""Statements keep the value interval (DESIGN.md "Statistical honesty on
statements") and the run's ``as_of`` beside the real ``issued_at``
(DESIGN.md "Trust between the parties"); a decided reprice's corrections
per contract period, append-only (DESIGN.md "Price book").

Statements issued before were issued with ``issued_at`` = the run's as_of,
so that is their ``as_of``. The append-only trigger is set aside for that one
backfill, in this migration's transaction, and put back."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

append_only = importlib.import_module("ledger.migrations.0002_append_only").append_only

BACKFILL = """
ALTER TABLE billing_statement DISABLE TRIGGER billing_statement_append_only;
UPDATE billing_statement SET as_of = issued_at WHERE as_of IS NULL;
ALTER TABLE billing_statement ENABLE TRIGGER billing_statement_append_only;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_webhook_signing"),
        ("routing", "0003_optional_prices_not_negative"),
    ]

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
        migrations.CreateModel(
            name="RepriceCorrection",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("period_start", models.DateField()),
                ("calls", models.BigIntegerField(help_text="Calls repriced (costed by the price book).")),
                ("cost_usd", models.DecimalField(decimal_places=10, help_text="Difference of cost, USD.", max_digits=30)),
                ("charge", models.DecimalField(decimal_places=10, help_text="Difference of usage charges.", max_digits=30)),
                ("reason", models.TextField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("contract", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="billing.contract")),
                ("llm_model", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="routing.llmmodel")),
                ("price", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="routing.price")),
            ],
            options={
                "ordering": ["contract", "period_start", "id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("contract", "price", "period_start"),
                        name="reprice_correction_once_per_period",
                    )
                ],
            },
        ),
        append_only("billing_repricecorrection"),
    ]
