"""Configuration and health (API.md "Health"; STYLE.md "Configuration")."""

import json
import os
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
    """``code`` in a fresh process, without DEBUG or SECRET_KEY in its
    environment and, unless ``ENV_FILE`` says otherwise, without a .env."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **environment,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "ENV_FILE": os.devnull,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def _django_setup(**env: str) -> subprocess.CompletedProcess:
    return _django_run("import django; django.setup()", **env)


# A key published in the project's history as an example.
EXAMPLE_KEY = "change-me-to-a-long-random-string"


def make_env_file(directory: Path) -> Path:
    subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), "-C", str(directory), ".env"],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=60,
    )
    return directory / ".env"


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
        EXAMPLE_KEY,
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
    started = _django_setup(DEBUG="1", SECRET_KEY=EXAMPLE_KEY)

    assert started.returncode == 0, started.stderr


def test_make_writes_a_local_env_file_with_debug_on_and_a_random_key(tmp_path):
    checkouts = [tmp_path / "one", tmp_path / "two"]
    for checkout in checkouts:
        checkout.mkdir()

    written = [
        dict(line.split("=", 1) for line in make_env_file(checkout).read_text().splitlines()
             if not line.startswith("#"))
        for checkout in checkouts
    ]  # fmt: skip

    assert [env["DEBUG"] for env in written] == ["1", "1"]
    assert len(written[0]["SECRET_KEY"]) >= 50
    assert written[0]["SECRET_KEY"] != written[1]["SECRET_KEY"]


def test_make_never_overwrites_an_existing_env_file(tmp_path):
    (tmp_path / ".env").write_text("DEBUG=0\nSECRET_KEY=kept\n")

    assert make_env_file(tmp_path).read_text() == "DEBUG=0\nSECRET_KEY=kept\n"


def test_manage_py_commands_run_with_the_generated_env_file_alone(tmp_path):
    env_file = make_env_file(tmp_path)

    started = _django_setup(ENV_FILE=str(env_file))

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


EMBEDDED_START = """
import sys
from pathlib import Path
from config.embedded_db import embedded_database_settings
print(embedded_database_settings(Path(sys.argv[1]))["HOST"])
"""
EMBEDDED_STOP = """
import sys
from pathlib import Path
from config.embedded_db import embedded_database_stop
embedded_database_stop(Path(sys.argv[1]))
"""


def test_the_embedded_database_starts_quietly_and_keeps_its_files_in_the_project(tmp_path):
    project, temp = tmp_path / "project", tmp_path / "tmp"
    project.mkdir()
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"} | {"TMPDIR": str(temp)}
    data_dir = project / ".pgdata"

    def python(code: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-W", "default", "-c", code, str(data_dir)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    started = python(EMBEDDED_START)
    stopped = python(EMBEDDED_STOP)

    assert (started.returncode, started.stderr) == (0, "")
    assert Path(started.stdout.strip()).is_relative_to(project)
    assert sorted(p.name for p in project.iterdir()) == [".pgdata", ".pgdata-run"]
    assert list(temp.iterdir()) == []
    assert stopped.returncode == 0, stopped.stderr


def test_the_image_and_the_package_hold_every_package_of_the_project():
    # The settings and every app of the project's own: an app left out of
    # either, docker-compose's services and `pip install .` fail to start.
    import tomllib

    from django.conf import settings

    packages = ["config", *(app for app in settings.INSTALLED_APPS if (ROOT / app).is_dir())]
    copied = {
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    }
    included = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]

    assert [p for p in packages if p not in copied] == []
    assert [p for p in packages if f"{p}*" not in included] == []
