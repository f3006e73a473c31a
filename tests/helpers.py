"""Assertions, waits and addresses shared across the tests."""

import time
from urllib.parse import quote

from django.conf import settings


def assert_error(response, status: int, code: str) -> dict:
    """``response`` answers ``status`` in API.md's error envelope,
    ``{"error": {"code", "message", "details"}}``, with ``code``. Returns the
    error object, for a test to check its message and details."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str), error
    assert error["code"] == code, error
    return error


def wait_until(condition, *, within_s: float = 60.0) -> float:
    """Poll ``condition()`` until it holds, for something another thread or
    process does; fails after ``within_s`` seconds. Returns the seconds it
    took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < within_s, f"not true within {within_s} s"
        time.sleep(0.05)
    return time.monotonic() - start


def shared_database_url() -> str:
    """The test database pytest-django created, for another process (a
    worker, a command) to use: a test that starts one commits its data
    (transaction=True)."""
    db = settings.DATABASES["default"]
    # The embedded server listens on a socket directory: a percent-encoded
    # path is a host in a database URL.
    host = quote(db["HOST"], safe="")
    user = f"{db['USER']}:{db.get('PASSWORD', '')}"
    return f"postgres://{user}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
