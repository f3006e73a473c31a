"""The one definition of an outcome's current status (DESIGN.md "Outcome"):
the to_status of its latest event, else accepted.

The view ``ledger_outcome_current`` holds the rule for set queries (rollups,
digests: one hash join over the few events instead of a probe per outcome);
the scalar function ``ledger_outcome_status`` (migration 0005, used by the
ORM through ledger.selectors.status_expression) now reads the view. The view
names the outcome columns set queries need (a later migration that changes
one of their types recreates the view)."""

from django.db import migrations

VIEW = """
CREATE VIEW ledger_outcome_current AS
SELECT o.contract_id, o.id, o.external_id, o.occurred_at, o.kind, o.task_type, o.task_ref,
       o.quantity, o.value, o.fee, COALESCE(latest.to_status, 'accepted') AS status
  FROM ledger_outcome o
  LEFT JOIN (SELECT DISTINCT ON (contract_id, outcome_id) contract_id, outcome_id, to_status
               FROM ledger_outcomeevent
              ORDER BY contract_id, outcome_id, seq DESC) latest
    ON latest.contract_id = o.contract_id AND latest.outcome_id = o.id;

CREATE OR REPLACE FUNCTION ledger_outcome_status(p_contract_id bigint, p_outcome_id bigint)
RETURNS varchar LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT status FROM ledger_outcome_current
     WHERE contract_id = p_contract_id AND id = p_outcome_id
$$;
"""

PREVIOUS_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_outcome_status(p_contract_id bigint, p_outcome_id bigint)
RETURNS varchar LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT COALESCE(
        (SELECT e.to_status FROM ledger_outcomeevent e
          WHERE e.contract_id = p_contract_id AND e.outcome_id = p_outcome_id
          ORDER BY e.seq DESC LIMIT 1),
        'accepted')
$$;
DROP VIEW ledger_outcome_current;
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_call_references_without_constraints")]

    operations = [migrations.RunSQL(VIEW, PREVIOUS_FUNCTION)]
