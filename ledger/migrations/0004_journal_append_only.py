"""The journal is append-only; corrections are new entries (DESIGN.md
"Period settlement")."""

import importlib

from django.db import migrations

append_only = importlib.import_module("ledger.migrations.0002_append_only").append_only


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_settlement")]

    operations = [append_only("ledger_journalentry"), append_only("ledger_journalposting")]
