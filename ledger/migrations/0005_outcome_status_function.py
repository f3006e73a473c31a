"""The one definition of an outcome's current status (DESIGN.md "Outcome"):
the to_status of its latest event, else accepted. Used by the ORM
(ledger.selectors.status_expression) and by the rollup and digest SQL."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_outcome_status(p_contract_id bigint, p_outcome_id bigint)
RETURNS varchar LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT COALESCE(
        (SELECT e.to_status FROM ledger_outcomeevent e
          WHERE e.contract_id = p_contract_id AND e.outcome_id = p_outcome_id
          ORDER BY e.seq DESC LIMIT 1),
        'accepted')
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_journal_append_only")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION ledger_outcome_status(bigint, bigint);")
    ]
