"""Configuration and health (API.md "Health"; STYLE.md "Configuration")."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _django_setup(**env: str) -> subprocess.CompletedProcess:
    """Django set up in a fresh process, without DEBUG or SECRET_KEY in its
    environment and, unless ``ENV_FILE`` says otherwise, without a .env."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
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
    started = _django_setup(DEBUG="0", SECRET_KEY="a-real-secret-of-a-production-deployment")

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


def test_healthz_answers_without_a_key(client):
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_checks_the_database(db, client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


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
