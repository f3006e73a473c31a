"""Configuration and health (API.md "Health"; STYLE.md "Configuration")."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _django_setup(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key():
    refused = _django_setup(DEBUG="0")

    assert refused.returncode != 0
    assert "SECRET_KEY is not set" in refused.stderr


def test_production_starts_with_a_secret_key():
    started = _django_setup(DEBUG="0", SECRET_KEY="a-real-secret-of-a-production-deployment")

    assert started.returncode == 0, started.stderr


def test_healthz_answers_without_a_key(client):
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_checks_the_database(db, client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"
