"""The models each contract's calls used (DESIGN.md "Routing savings": the
default baseline is chosen among them), filled from the calls stored so far
and kept by ingestion from then on."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
INSERT INTO ledger_contractmodelused (contract_id, llm_model_id)
SELECT DISTINCT contract_id, llm_model_id FROM ledger_call
ON CONFLICT DO NOTHING;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("ledger", "0008_route_decisions"),
        ("routing", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ContractModelUsed",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "contract",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="billing.contract",
                    ),
                ),
                (
                    "llm_model",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="routing.llmmodel",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("contract", "llm_model"), name="contract_model_used_unique"
                    )
                ],
            },
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
