"""The package map: stage packages, imports only downward, no import cycles, durable in one adapter."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "engine" / "imr_rules"

LAYERS = {
    "common": 0,
    "cases": 1,
    "intake": 2,
    "rulebase": 2,
    "engine": 3,
    "review": 4,
    "authoring": 5,
    "regression": 5,
    "api": 6,
    "scale": 6,
    "service": 7,
}
"""Stage of each package: a module may import its own package and lower stages, never a higher or equal one."""

TOP = 9  # the CLI and the package root sit above every stage


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return -1  # the package root holds only the version string
    return LAYERS.get(parts[1], TOP)


def test_modules_live_in_stage_packages() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "cli.py"]


def test_no_upward_imports() -> None:
    upward = []
    for module, imported in _graph().items():
        for target in imported:
            own = module.split(".")[:2] == target.split(".")[:2]
            if not own and _layer(module) != TOP and _layer(target) >= _layer(module):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph[node]):
            if target in path:
                cycles.append([*path[path.index(target):], target])
            elif len(path) < 12:
                visit(target, [*path, target])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []


def test_durable_rules_is_imported_in_exactly_one_module() -> None:
    users = sorted(_module_name(p) for p in PACKAGE.rglob("*.py")
                   if any(m.split(".")[0] in ("durable", "durable_rules_engine") for m in _imports(p)))
    assert users == ["imr_rules.engine.durable_adapter"]
