"""Price rows and policy versions are history (DESIGN.md "Price book": a new
price is a new row; "Routing": any version can be read back): the database
refuses UPDATE and DELETE on them, like the ledger's tables. The
application's role has no UPDATE or DELETE on them either (core/db_roles.py)."""

import importlib

from django.db import migrations

append_only = importlib.import_module("ledger.migrations.0002_append_only").append_only


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0005_model_tier_unknown"),
        ("ledger", "0002_append_only"),
    ]

    operations = [append_only("routing_price"), append_only("routing_policyversion")]
