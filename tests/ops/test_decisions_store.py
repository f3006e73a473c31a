"""``manage.py decisions_store`` (docs/ROUTING.md "How a decision is
stored"): a real storer process beside a spooling process, stopped with
SIGTERM after a last pass; one pass with --once; refused without a spool;
and the nightly run storing what is left before it learns."""

import io
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from ledger.decision_log import DecisionRow, DecisionSpool
from ledger.models import RouteDecision
from routing.learning import policies_learn
from tests.helpers import shared_database_url, wait_until


@pytest.fixture
def rows(contract, light_model):
    def make(prefix: str, count: int) -> list[DecisionRow]:
        return [
            DecisionRow(
                contract_id=contract.id,
                route_id=f"{prefix}-{i}",
                decided_at=datetime(2026, 11, 30, 9, tzinfo=UTC),
                task_type="review",
                key=f"k-{i}",
                features=None,
                policy_version=1,
                llm_model_id=light_model.id,
                probability=Decimal("0.5"),
                explored=False,
            )
            for i in range(count)
        ]

    return make


def spooled(directory, rows: list[DecisionRow]) -> None:
    """``rows`` appended to a spool of ``directory`` whose process let it go."""
    spool = DecisionSpool(directory, interval=3600)
    for row in rows:
        spool.append(row)
    spool.close()


def route_ids() -> list[str]:
    return sorted(RouteDecision.objects.values_list("route_id", flat=True))


def test_without_a_spool_directory_there_is_nothing_to_store(settings):
    settings.ROUTE_DECISION_SPOOL_DIR = ""

    with pytest.raises(CommandError) as refused:
        call_command("decisions_store", once=True)

    assert "ROUTE_DECISION_SPOOL_DIR is not set" in str(refused.value)


def test_once_stores_every_file_let_go_and_says_how_many(settings, tmp_path, rows):
    settings.ROUTE_DECISION_SPOOL_DIR = str(tmp_path)
    spooled(tmp_path, rows("a", 7))
    out = io.StringIO()

    call_command("decisions_store", once=True, stdout=out)

    assert out.getvalue() == "7 route decisions stored.\n"
    assert route_ids() == sorted(f"a-{i}" for i in range(7))


@pytest.mark.django_db(transaction=True)
def test_a_storer_process_stores_as_files_are_let_go_and_once_more_on_sigterm(tmp_path, rows):
    storer = subprocess.Popen(
        [sys.executable, "manage.py", "decisions_store"],
        cwd=django_settings.BASE_DIR,
        env=os.environ
        | {
            "DATABASE_URL": shared_database_url(),
            "DEBUG": "1",
            "ROUTE_DECISION_SPOOL_DIR": str(tmp_path),
            "ROUTE_DECISION_SPOOL_SECONDS": "0.05",
        },
        stdout=subprocess.PIPE,
        text=True,
    )
    spool = DecisionSpool(tmp_path, interval=3600)
    try:
        for row in rows("live", 20):
            spool.append(row)
        spool.rotate()
        wait_until(lambda: len(route_ids()) == 20, within_s=30)
        for row in rows("last", 5):
            spool.append(row)
        spool.close()
    finally:
        storer.send_signal(signal.SIGTERM)
        out, _ = storer.communicate(timeout=60)

    assert storer.returncode == 0
    assert out.splitlines()[-1] == "25 route decisions stored."
    expected = [*(f"live-{i}" for i in range(20)), *(f"last-{i}" for i in range(5))]
    assert route_ids() == sorted(expected)
    assert list(tmp_path.iterdir()) == []


def test_the_nightly_run_stores_what_is_left_before_it_learns(settings, tmp_path, rows):
    settings.ROUTE_DECISION_SPOOL_DIR = str(tmp_path)
    spooled(tmp_path, rows("left", 3))

    policies_learn(as_of=datetime(2026, 12, 1, tzinfo=UTC))

    assert route_ids() == ["left-0", "left-1", "left-2"]
    assert list(tmp_path.iterdir()) == []
