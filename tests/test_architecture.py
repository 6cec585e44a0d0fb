"""The package's import graph: no cycle, and nothing but the harness imports the harness.

Every ``import`` statement of every module under ``billing_core/`` counts, at
module level or inside a function (a lazy import is still an arrow), except
those under ``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

import billing_core

PACKAGE_DIR = Path(billing_core.__file__).parent
HARNESS = "billing_core.testing"

# The demo command runs the embedded fake API on purpose: its one lazy import,
# made only when someone runs `billing-core demo`, is the one arrow into the
# harness from outside it.
HARNESS_IMPORT_ALLOWED = {"billing_core.cli.demo"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, ast.Module]:
    return {
        _module_name(path): ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
    }


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def _imported(node: ast.AST, module: str, modules: set[str]) -> Iterator[str]:
    """The billing_core modules ``node`` imports, TYPE_CHECKING blocks left out."""
    if _is_type_checking_block(node):
        return
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.startswith("billing_core"):
                yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:  # relative: resolve against this module's package
            base = module.split(".")[: -node.level] if module in modules else []
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        if target.startswith("billing_core"):
            # `from billing_core.x import y` imports y itself when y is a module.
            submodules = [f"{target}.{alias.name}" for alias in node.names]
            found = [name for name in submodules if name in modules]
            yield from found or [target]
    for child in ast.iter_child_nodes(node):
        yield from _imported(child, module, modules)


@cache
def _graph() -> dict[str, frozenset[str]]:
    modules = _modules()
    names = set(modules)
    return {
        module: frozenset(target for target in _imported(tree, module, names) if target != module)
        for module, tree in modules.items()
    }


def _in_harness(module: str) -> bool:
    return module == HARNESS or module.startswith(HARNESS + ".")


def test_the_graph_sees_the_known_arrows() -> None:
    # Not vacuous: the walk finds imports at module level, inside functions and
    # from packages.
    graph = _graph()
    assert "billing_core.models" in graph["billing_core.resolution"]
    assert "billing_core.wire" in graph["billing_core.adapters._answers"]  # lazy, in a function
    assert any(_in_harness(target) for target in graph["billing_core.cli.demo"])
    assert "billing_core.cli.demo" in HARNESS_IMPORT_ALLOWED


def test_nothing_outside_the_harness_imports_it() -> None:
    offenders = {
        module: sorted(target for target in targets if _in_harness(target))
        for module, targets in _graph().items()
        if not _in_harness(module) and module not in HARNESS_IMPORT_ALLOWED
    }
    assert {module: targets for module, targets in offenders.items() if targets} == {}


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph()
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module in done or module not in graph:
            return
        path.append(module)
        for target in sorted(graph[module]):
            # A package's __init__ is imported before any of its modules: that
            # arrow is Python's, not the code's, so only explicit ones count.
            visit(target)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_every_module_opens_with_one_line_saying_its_job() -> None:
    vague = {
        module: ast.get_docstring(tree)
        for module, tree in _modules().items()
        if not (ast.get_docstring(tree) or "").split("\n")[0].rstrip().endswith((".", ":"))
    }
    assert vague == {}
