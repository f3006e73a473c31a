"""Configuration and health (API.md "Health"; STYLE.md "Configuration")."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_KEY = secrets.token_urlsafe(50)
# The settings `manage.py check --deploy` must not warn about with DEBUG off.
HTTPS_WARNINGS = ("security.W004", "security.W008", "security.W012", "security.W016")


def _django_run(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _django_setup(**env: str) -> subprocess.CompletedProcess:
    return _django_run("import django; django.setup()", **env)


def _example_secret_key() -> str:
    text = (ROOT / ".env.example").read_text()
    return re.search(r"^SECRET_KEY=(.*)$", text, re.M).group(1)


def test_production_refuses_to_start_without_a_secret_key():
    refused = _django_setup(DEBUG="0")

    assert refused.returncode != 0
    assert "SECRET_KEY is not set" in refused.stderr


def test_production_starts_with_a_secret_key():
    started = _django_setup(DEBUG="0", SECRET_KEY=PRODUCTION_KEY)

    assert started.returncode == 0, started.stderr


@pytest.mark.parametrize(
    "key",
    [
        _example_secret_key(),
        "django-insecure-" + secrets.token_urlsafe(50),
        "a-real-secret-but-too-short-to-sign-with",
        "ab" * 40,
    ],
)
def test_production_refuses_a_published_or_weak_secret_key(key):
    refused = _django_setup(DEBUG="0", SECRET_KEY=key)

    assert refused.returncode != 0
    assert "SECRET_KEY is insecure" in refused.stderr


def test_the_example_secret_key_still_serves_a_debug_run():
    started = _django_setup(DEBUG="1", SECRET_KEY=_example_secret_key())

    assert started.returncode == 0, started.stderr


def test_check_deploy_with_production_settings_has_no_https_warnings():
    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "0", "SECRET_KEY": PRODUCTION_KEY},
        capture_output=True,
        text=True,
        timeout=120,
    )

    report = checked.stdout + checked.stderr
    assert "System check identified" in report or "no issues" in report, report
    assert [code for code in HTTPS_WARNINGS if code in report] == []


def test_production_redirects_plain_http_to_https_but_not_the_probes():
    answered = _django_run(
        "import django, json; django.setup();"
        "from django.test import Client; c = Client();"
        "print(json.dumps([c.get(p).status_code for p in ('/api/v1/contracts', '/healthz')]))",
        DEBUG="0",
        SECRET_KEY=PRODUCTION_KEY,
    )

    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout) == [301, 200]


def test_healthz_answers_without_a_key(client):
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_checks_the_database(db, client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


def test_readyz_names_a_down_dependency_but_not_its_address_or_error():
    """A database and a broker on closed ports: the answer says only which is
    down; the log has the driver's message."""
    answered = _django_run(
        "import django, json; django.setup();"
        "from django.test import Client; r = Client().get('/readyz');"
        "print(json.dumps([r.status_code, r.json()]))",
        DEBUG="1",
        DATABASE_URL="postgres://ledger:pw@127.0.0.1:9/unreachable_db",
        CELERY_BROKER_URL="redis://127.0.0.1:9/0",
    )

    assert answered.returncode == 0, answered.stderr
    status, body = json.loads(answered.stdout)
    assert (status, body) == (
        503,
        {"status": "unavailable", "checks": {"database": "down", "broker": "down"}},
    )
    assert "127.0.0.1" in answered.stderr
    assert "unreachable_db" not in answered.stdout
