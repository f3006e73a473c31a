"""Tests that need Chromium or Redis (``@pytest.mark.needs``, tests/conftest.py):
skipped with the reason and the install command on a machine without them,
failed instead under REQUIRE_ALL_TESTS=1, as CI runs them."""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER_TEST = "tests/billing/test_celery_worker.py"
BROWSER_TEST = (
    "tests/billing/test_statement_html.py::"
    "test_headless_chromium_renders_the_charts_offline_and_saves_a_screenshot"
)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bare_machine(**env: str) -> dict[str, str]:
    """This environment without Chromium on PATH and with no Redis at the
    test broker's address."""
    return {
        **{k: v for k, v in os.environ.items() if k != "REQUIRE_ALL_TESTS"},
        "PATH": str(Path(sys.executable).parent),
        "CELERY_TEST_BROKER_URL": f"redis://127.0.0.1:{closed_port()}/15",
        **env,
    }


def pytest_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_redis_and_chromium_the_tests_are_skipped_with_the_install_command():
    result = pytest_run(WORKER_TEST, BROWSER_TEST, env=bare_machine())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 skipped" in result.stdout
    assert "SKIPPED" in result.stdout
    assert "install it with: apt-get install chromium" in result.stdout
    assert "install and start it with: apt-get install redis-server" in result.stdout


def test_with_require_all_tests_a_missing_redis_or_chromium_fails_the_run():
    result = pytest_run(WORKER_TEST, BROWSER_TEST, env=bare_machine(REQUIRE_ALL_TESTS="1"))

    assert result.returncode == 1
    assert "2 errors" in result.stdout
    assert "REQUIRE_ALL_TESTS=1 and Chromium is not installed" in result.stdout
    assert "REQUIRE_ALL_TESTS=1 and no Redis answers" in result.stdout
