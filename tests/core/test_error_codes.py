"""Error codes are named once (core.errors.ErrorCode): a code raised or
returned anywhere in the project is a member, never a string written at the
raising site, so a typo cannot invent a code clients do not know."""

import ast
from pathlib import Path

import pytest

from core.errors import ErrorCode

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCES = sorted(
    path
    for app in ("core", "routing", "billing", "ledger", "ops", "config")
    for path in (ROOT / app).rglob("*.py")
    if "migrations" not in path.parts and path.name != "errors.py"
)


def literal_codes(path: Path) -> list[str]:
    """Where a string stands for a code: ``code="..."`` or a FieldError's
    second argument."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        candidates = [kw.value for kw in node.keywords if kw.arg == "code"]
        if getattr(node.func, "id", getattr(node.func, "attr", "")) == "FieldError":
            candidates += node.args[1:2]
        found += [
            f"{path.relative_to(ROOT)}:{value.lineno} {value.value!r}"
            for value in candidates
            if isinstance(value, ast.Constant) and isinstance(value.value, str)
        ]
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_error_code_is_written_as_a_string(path):
    assert literal_codes(path) == []


def test_every_code_is_its_own_string():
    assert all(member == member.value for member in ErrorCode)
    assert len({member.value for member in ErrorCode}) == len(ErrorCode)
