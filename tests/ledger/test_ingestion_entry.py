"""Ingestion has one way in (ledger/ingestion.py): it stores a batch through
the ledger's storage step and meters the charges in the same transaction
(DESIGN.md "Spend limits and alerts"). A module that called the storage step
itself would store records whose charges no spend limit ever sees."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORAGE_STEP = {"calls_store", "outcomes_store"}
# The entry, and the module that defines the storage step.
ALLOWED = {Path("ledger/ingestion.py"), Path("ledger/services.py")}


def storage_step_uses(path: Path) -> list[str]:
    """Where a module names the storage step: a call, an attribute or an
    import (``path:line name``)."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
        else:
            continue
        uses += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n in STORAGE_STEP]
    return uses


def project_modules() -> list[Path]:
    """The project's Python files outside the tests (and outside hidden
    folders such as a virtualenv)."""
    return sorted(
        path
        for path in ROOT.rglob("*.py")
        if not any(part.startswith(".") or part == "tests" for part in path.relative_to(ROOT).parts)
    )


def test_only_ledger_ingestion_calls_the_storage_step():
    modules = project_modules()
    uses = [use for path in modules for use in storage_step_uses(path)]
    outside = [use for use in uses if Path(use.split(":")[0]) not in ALLOWED]

    assert Path("ledger/ingestion.py") in {path.relative_to(ROOT) for path in modules}
    assert {use.split()[-1] for use in uses if use.startswith("ledger/ingestion.py:")} == (
        STORAGE_STEP
    )
    assert outside == []
