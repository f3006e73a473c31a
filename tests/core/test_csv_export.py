"""core/csv_export.py: one value as its CSV cell. Amounts are plain decimal
text, JSON is compact, and a text cell a spreadsheet would run as a formula
is neutralized (DESIGN.md "Trust between the parties"): a leading ``=``,
``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``; plain
numbers, negative amounts included, stay numbers. The exports that use it
are tested in tests/billing/test_csv_exports.py and
tests/billing/test_csv_formula_cells.py."""

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.csv_export import FORMULA_STARTS, cell


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

    assert out in (text, "'" + text)
    # A cell left starting with a formula character is the text itself: a number.
    assert not out.startswith(FORMULA_STARTS) or (out == text and Decimal(out).is_finite())


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_a_decimal_cell_is_its_plain_text_and_reads_back_exactly(value: Decimal):
    text = cell(value)

    assert "E" not in text.upper()
    assert Decimal(text) == value


def test_a_json_cell_is_compact_sorted_json():
    assert cell({"b": [1, "é"], "a": None}) == '{"a":null,"b":[1,"é"]}'
    assert json.loads(cell({"b": 1})) == {"b": 1}
