"""The import rules of docs/ARCHITECTURE.md, checked on the source: a module
imports only modules of its own layer or a lower one, and nothing but an
entry point imports an entry point. A new module must be placed in LAYERS
(the test names it), so the map stays whole."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "routing", "billing", "ledger", "ops", "config")

# The layers, bottom up (docs/ARCHITECTURE.md "Layers"): by module, or by
# package where the whole package sits on one layer.
LAYERS = {
    0: ["core"],
    1: [
        "routing.models",
        "routing.pricing",
        "routing.selectors",
        "routing.services",
        "routing.importers",
        "routing.serializers",
        "billing.models",
        "billing.auth",
        "billing.selectors",
        "billing.scope",
        "billing.services",
        "billing.serializers",
        "billing.periods",
        "billing.intervals",
        "billing.formulas",
        "billing.charts",
        "billing.nightly",
        "billing.metering",
    ],
    2: [
        "ledger.models",
        "ledger.records",
        "ledger.bulk",
        "ledger.route_ids",
        "ledger.decision_log",
        "ledger.services",
        "ledger.selectors",
        "ledger.attribution",
        "ledger.roi_selectors",
        "ledger.rollups",
        "ledger.journal",
        "ledger.otlp",
        "ledger.serializers",
        "ledger.ingestion",
    ],
    3: [
        "routing.decisions",
        "routing.success_model",
        "routing.learning",
        "routing.policy_selectors",
        "routing.serving",
        "routing.simulation",
        "billing.settlement",
        "billing.roi",
        "billing.finance",
        "billing.reprice",
        "billing.webhooks",
        "billing.alerts",
    ],
    4: ["ops.demo"],
}
# Entry points stand above every layer: they may import anything, and
# nothing but another entry point imports them.
ENTRY_POINTS = (
    "config",
    "ops.nightly",
    "ops.apps",
    "ops.management",
    "core.apps",
    "core.management",
    *(
        f"{app}.{part}"
        for app in ("routing", "billing", "ledger")
        for part in ("api", "admin", "urls", "tasks", "apps", "management")
    ),
)
# A service queues a task's delivery once its transaction commits: the one
# import of an entry point below it, and only of a tasks module.
QUEUES_TASKS = {"billing.metering": "billing.tasks", "billing.webhooks": "billing.tasks"}


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> int | None:
    if any(_under(module, entry) for entry in ENTRY_POINTS):
        return None
    best = max(
        (prefix for prefixes in LAYERS.values() for prefix in prefixes if _under(module, prefix)),
        key=len,
        default=None,
    )
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and ARCHITECTURE.md")
    return next(layer for layer, prefixes in LAYERS.items() if best in prefixes)


def project_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if len(parts) > 1:  # an app's own package holds no code
                modules[".".join(parts)] = path
    return modules


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in APPS)
    return found


def resolved(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an import names (``from billing import services``
    names billing.services)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


MODULES = project_modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_no_higher_layer_and_no_entry_point(module):
    own = layer_of(module)
    wrong = set()
    for name in imports_of(MODULES[module]):
        target = resolved(name, MODULES)
        if target is None or target == module:
            continue
        theirs = layer_of(target)
        if own is None:
            continue
        if theirs is None:
            if QUEUES_TASKS.get(module) != target:
                wrong.add(f"{target} (an entry point)")
        elif theirs > own:
            wrong.add(f"{target} (layer {theirs} above {own})")
    assert wrong == set(), f"{module} (layer {own}) imports {sorted(wrong)}"


def test_the_ground_floor_imports_no_app():
    core_imports = {
        name for module in MODULES if _under(module, "core") for name in imports_of(MODULES[module])
    }
    assert {name.split(".")[0] for name in core_imports} <= {"core"}
