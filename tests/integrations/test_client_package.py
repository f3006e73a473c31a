"""The client package is its own distribution (clients/python,
docs/LITELLM.md): built from the repository, it installs offline into a
fresh virtual environment without the server's dependencies, and records a
call against the live server from there."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.models import Call
from tests.factories import api_key_create

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"

# Runs inside the fresh environment: one call, delivered, then the totals.
RECORD_ONE_CALL = """
import json, sys
from outcome_ledger_client import LedgerSender

url, key, spool = sys.argv[1:]
sender = LedgerSender(base_url=url, api_key=key, contract="acme-agent", spool_dir=spool)
sender.add({"external_id": "from-a-fresh-venv", "occurred_at": "2026-11-03T09:15:00Z",
            "model": "gpt-4o-mini", "task_type": "code_review",
            "input_tokens": 1000, "output_tokens": 100})
sender.close()
t = sender.totals
print(json.dumps({"accepted": t.accepted, "duplicates": t.duplicates,
                  "rejected": t.rejected, "spooled_batches": t.spooled_batches}))
"""


def run(*args) -> subprocess.CompletedProcess:
    """A process that sees nothing of this checkout but what it is given
    (no PYTHONPATH onto the server's sources)."""
    return subprocess.run(
        [str(arg) for arg in args],
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        cwd=CLIENT.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A new virtual environment holding only pip and the client package,
    installed with no index: from a wheel built here, with this
    environment's setuptools."""
    root = tmp_path_factory.mktemp("client")
    built = run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
        "--no-build-isolation", "--wheel-dir", root / "wheels", CLIENT,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    created = run(sys.executable, "-m", "venv", root / "venv")
    assert created.returncode == 0, created.stderr
    python = root / "venv" / "bin" / "python"
    installed = run(
        python, "-m", "pip", "install", "--quiet", "--no-index",
        "--find-links", root / "wheels", "outcome-ledger-client",
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    return python


def test_the_client_installs_alone_without_django_or_any_server_dependency(fresh_venv):
    listed = run(fresh_venv, "-m", "pip", "list", "--format=json")
    server_modules = run(fresh_venv, "-c", "import django")

    names = {package["name"] for package in json.loads(listed.stdout)}
    assert names - {"pip", "setuptools"} == {"outcome-ledger-client"}
    assert "No module named 'django'" in server_modules.stderr


@pytest.mark.django_db(transaction=True)
def test_the_installed_client_records_a_call_on_the_live_server(
    fresh_venv, contract, live_server, tmp_path
):
    secret = api_key_create(organization=contract.vendor, role="vendor")

    result = run(fresh_venv, "-c", RECORD_ONE_CALL, live_server.url, secret, tmp_path / "spool")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [],
        "spooled_batches": 0,
    }
    assert list(
        Call.objects.filter(contract=contract).values_list("external_id", "input_tokens")
    ) == [("from-a-fresh-venv", 1000)]
