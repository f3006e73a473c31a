"""``manage.py demo`` (``make demo``) run again: nothing is seeded twice, no
new customer key is minted, and each period shows its latest statement."""

import pytest
from django.core.management import call_command

from billing.models import ApiKey
from ledger.models import Outcome
from ledger.services import outcome_status_change
from ops.demo import CONTRACT_CODE

DEMO_TASKS = 150
# The demo migrates first, as the owner role (core/db_roles.py).
pytestmark = pytest.mark.django_db(databases=["default", "owner"])


def demo(capsys) -> str:
    call_command("demo", tasks=DEMO_TASKS)
    return capsys.readouterr().out


def customer_keys() -> int:
    return ApiKey.objects.filter(organization__slug="acme", role="customer").count()


def test_a_second_run_mints_no_key_and_says_how_to_get_one(capsys):
    first = demo(capsys)
    second = demo(capsys)

    assert "customer API key (shown once, keep it): " in first
    assert f"Contract {CONTRACT_CODE} was seeded before; not seeding again." in second
    assert "the customer API key was shown by the first run; another one:" in second
    assert ".venv/bin/python manage.py apikey_create --org acme --role customer" in second
    assert customer_keys() == 1


def test_every_hint_is_a_command_that_runs_from_the_checkout(capsys):
    output = demo(capsys)

    assert ".venv/bin/python manage.py createsuperuser" in output
    assert " python manage.py" not in output


def test_a_rerun_shows_the_latest_statement_of_the_period(capsys):
    demo(capsys)
    contract_outcome = Outcome.objects.filter(contract__code=CONTRACT_CODE, kind="task_completed")
    late = contract_outcome.order_by("external_id").last()
    outcome_status_change(
        contract=late.contract,
        external_id=late.external_id,
        to_status="disputed",
        actor="acme/customer/demo",
        reason="found broken after the statement",
    )
    call_command("nightly", as_of="2026-11-09T00:00:00Z", stdout=None)

    again = demo(capsys)

    assert "Statement #2 (adjusts #1, figures as differences): 2026-10-01" in again
    assert "Statement #1 (settlement)" not in again
    assert "/api/v1/contracts/acme-agent-2026/statements/2" in again
