"""An issued statement is never modified or deleted (DESIGN.md "Period
settlement")."""

import importlib

from django.db import migrations

append_only = importlib.import_module("ledger.migrations.0002_append_only").append_only


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_settlement"), ("ledger", "0002_append_only")]

    operations = [append_only("billing_statement")]
