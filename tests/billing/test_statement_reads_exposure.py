"""Statement reads as an auditor's tools fetch them: the digest text answers
``Accept: text/plain``, and no authenticated answer may be kept by a cache
(docs/EXPORTS.md; DESIGN.md "Trust between the parties")."""

import hashlib

import pytest

from tests.billing.test_statement_html import november
from tests.conftest import client_for
from tests.factories import api_key_create
from tests.helpers import assert_error

__all__ = ["november"]  # the contract of test_statement_html, with November settled

CONTRACT = "/api/v1/contracts/acme-agent"


@pytest.fixture
def customer(november):
    return client_for(api_key_create(organization=november.customer, role="customer"))


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_digest_input_answers_accept_text_plain_with_the_text_that_hashes_to_the_digest(
    customer,
):
    statement = customer.get(f"{CONTRACT}/statements/1").json()

    response = customer.get(f"{CONTRACT}/statements/1/digest-input", HTTP_ACCEPT="text/plain")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert hashlib.sha256(body(response)).hexdigest() == statement["input_digest"]


def test_digest_input_of_a_missing_statement_with_accept_text_plain_is_the_json_404(customer):
    response = customer.get(f"{CONTRACT}/statements/9/digest-input", HTTP_ACCEPT="text/plain")

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/statements/1", "application/json"),
        ("/statements/1", "text/html"),
        ("/statements", "text/csv"),
        ("/statements/1/digest-input", "text/plain"),
        ("/calls", "text/csv"),
        ("/outcomes", "application/json"),
        ("/alerts", "application/json"),
        ("/roi", "application/json"),
        ("", "application/json"),
    ],
)
def test_every_authenticated_answer_is_no_store(customer, path, accept):
    response = customer.get(f"{CONTRACT}{path}", HTTP_ACCEPT=accept)

    assert response.status_code == 200, body(response)
    assert response["Cache-Control"] == "no-store"


def test_a_refused_key_is_answered_no_store_too(november):
    response = client_for("not.a-key").get(f"{CONTRACT}/statements/1")

    assert response.status_code == 401
    assert response["Cache-Control"] == "no-store"
