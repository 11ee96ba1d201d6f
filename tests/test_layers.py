"""The package layout keeps its promise: dependencies point one way (DESIGN.md §7)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import modelreg

PACKAGE = Path(modelreg.__file__).parent

# Lowest first: a module may import its own layer and the layers before it, never after.
LAYERS = (
    "errors",
    "adapters",
    "stats",
    "forge",
    "registry",
    "promotion",
    "serving",
    "monitoring",
    "training",
    "commands",
    "cli",  # and demo, which sits beside it
)
TOP = {"cli": "cli", "demo": "cli"}
# The package root, the public API and the deprecated shims of old module paths may
# import anything.
FREE = {"modelreg", "modelreg.__init__", "modelreg.__main__", "modelreg.api", "modelreg.drift"}
PRINTING = "modelreg.output"  # usable by commands, cli and demo only
HEAVY = ("numpy", "pandas", "scipy", "sklearn", "dvc", "github3")

# Known exceptions, each with the issue that removes it. The test fails on any edge that
# is not listed here, and on a listed edge that no longer exists (so the list shrinks).
KNOWN: dict[tuple[str, str], str] = {}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        if "templates" in rel.parts:  # pipeline scripts copied into users' repositories
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        yield ".".join(parts), path


def _imports(path: Path) -> set[str]:
    """Every module named in an import, at the top and inside functions alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from modelreg.x import y` where y is itself a module
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in MODULES
            )
    return found


MODULES = {name for name, _ in _modules()}


def _layer(module: str) -> int | None:
    if module in FREE or module == PRINTING:
        return None
    head = module.split(".")[1]
    return LAYERS.index(TOP.get(head, head))


@cache
def _edges() -> tuple[tuple[str, str], ...]:
    """(importer, imported) for every import in the package."""
    return tuple((name, imported) for name, path in _modules() for imported in _imports(path))


def test_every_module_belongs_to_a_layer() -> None:
    heads = {m.split(".")[1] for m in MODULES if m not in FREE and m != PRINTING}
    assert heads - (set(LAYERS[:-1]) | set(TOP)) == set()


def test_no_module_imports_a_higher_layer() -> None:
    upward = set()
    for importer, imported in _edges():
        if not imported.startswith("modelreg.") or imported not in MODULES:
            continue
        low, high = _layer(importer), _layer(imported)
        if low is not None and high is not None and high > low:
            upward.add((importer, imported))
    assert sorted(upward - KNOWN.keys()) == [], "new upward imports"
    assert sorted(KNOWN.keys() - upward) == [], "fixed: remove them from KNOWN"


def test_only_commands_cli_and_demo_use_the_printing_helpers() -> None:
    lowest = LAYERS.index("commands")
    users = {a for a, b in _edges() if b == PRINTING and a not in FREE and a != PRINTING}
    assert {u for u in users if (_layer(u) or 0) < lowest} == set()


def test_the_registry_layer_imports_no_numerical_or_remote_library() -> None:
    heavy = [
        (importer, imported)
        for importer, imported in _edges()
        if importer.startswith("modelreg.registry") and imported.split(".")[0] in HEAVY
    ]
    assert heavy == []


def test_the_cli_and_the_demo_do_not_import_each_other() -> None:
    edges = set(_edges())
    assert ("modelreg.cli", "modelreg.demo") not in edges
    assert ("modelreg.demo", "modelreg.cli") not in edges
