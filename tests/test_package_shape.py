"""The package's shape: imports form no cycle, no module is long, and the engine names no kit.

The import graph is read from the source (every import statement, at any
depth, so that a function-level import cannot hide a cycle), not by importing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "grader"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path) -> set[str]:
    """The grader modules ``name`` imports: ``from a.b import c`` is a.b.c if that is a module.
    The package uses absolute imports only (a test below holds it to that)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imported(name, path) for name, path in MODULES.items()}


def cycle_from(start: str) -> list[str] | None:
    """A path of imports from ``start`` back to itself, if there is one (depth-first, iterative)."""
    stack = [(start, [start])]
    seen = set()
    while stack:
        node, path = stack.pop()
        for nxt in GRAPH[node]:
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def is_kit(name: str) -> bool:
    """A kit's own module: grader.kits.<kit>...; grader.kits itself is the registry."""
    return name.startswith("grader.kits.")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_cycle(name):
    assert cycle_from(name) is None, " -> ".join(cycle_from(name))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_short(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name]}: {lines} lines"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not is_kit(n)))
def test_engine_imports_no_kit_by_name(name):
    assert not {m for m in GRAPH[name] if is_kit(m)}


def test_the_graph_sees_imports():
    """The checks above are only as good as the graph: it must hold the edges we know."""
    assert "grader.engine.kernel" in GRAPH["grader.runner"]
    assert "grader.kits" in GRAPH["grader.runner"]
    assert "grader.kits.llm.server" in GRAPH["grader.kits.llm"]
    assert GRAPH["grader.errors"] == set()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_are_absolute(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    assert not [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]


def test_kits_folder_holds_the_registry_and_kits():
    from grader import kits

    assert (PACKAGE / "kits" / "__init__.py").is_file()
    assert {"llm", "deployment"} <= set(kits.available())
    assert all(kits.load(name).name == name for name in kits.available())


@pytest.mark.parametrize(("old", "new", "name"), [("grader.notebook", "grader.testing.notebook", "NotebookError"),
                                                  ("grader.codec", "grader.testing.codec", "CodecError"),
                                                  ("grader.llm_server", "grader.kits.llm.model", "Reply"),
                                                  ("grader.check", "grader.testing.check", "check")])
def test_a_course_written_against_the_old_names_still_imports(old, new, name):
    import importlib

    assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)
