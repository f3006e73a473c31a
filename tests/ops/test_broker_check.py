"""``manage.py broker_check``, which ``make worker`` and ``make beat`` run
before starting: no broker configured or none answering is an error that
says what to set, and a non-zero exit."""

import io
import socket
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from tests.conftest import CELERY_TEST_BROKER_URL


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_without_a_broker_url_the_worker_is_refused_with_what_to_set(settings):
    settings.CELERY_BROKER_URL = ""

    with pytest.raises(CommandError) as refused:
        call_command("broker_check", purpose="make worker")

    assert str(refused.value).startswith(
        "make worker needs a Celery broker (Redis or RabbitMQ): set CELERY_BROKER_URL, "
        "e.g. redis://127.0.0.1:6379/0"
    )


def test_a_broker_that_does_not_answer_is_refused_with_its_address(settings):
    port = closed_port()
    settings.CELERY_BROKER_URL = f"redis://:secret@127.0.0.1:{port}/0"

    with pytest.raises(CommandError) as refused:
        call_command("broker_check", purpose="make beat")

    message = str(refused.value)
    assert message.startswith(
        f"make beat needs the Celery broker at redis://:**@127.0.0.1:{port}/0, "
        "which does not answer"
    )
    assert "secret" not in message


def test_the_command_exits_non_zero_without_a_broker():
    result = subprocess.run(
        [sys.executable, "manage.py", "broker_check", "--for", "make worker"],
        cwd=django_settings.BASE_DIR,
        env={"PATH": "/usr/bin:/bin", "DEBUG": "1", "CELERY_BROKER_URL": "",
             "DATABASE_URL": "postgres://postgres@127.0.0.1:1/unused"},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip

    assert result.returncode == 1
    assert "make worker needs a Celery broker" in result.stderr


@pytest.mark.needs("redis")
def test_a_broker_that_answers_is_reported(settings):
    settings.CELERY_BROKER_URL = CELERY_TEST_BROKER_URL
    out = io.StringIO()

    call_command("broker_check", stdout=out)

    assert out.getvalue() == f"Celery broker {CELERY_TEST_BROKER_URL} answers.\n"
