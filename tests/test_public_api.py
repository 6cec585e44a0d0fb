"""The public surface: every exported name resolves, is listed alike everywhere, imports cheaply."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

import billing_core
import billing_core.testing


@pytest.mark.parametrize("name", billing_core.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(billing_core, name) is not None


@pytest.mark.parametrize("name", billing_core.testing.__all__)
def test_every_testing_name_resolves(name: str) -> None:
    assert getattr(billing_core.testing, name) is not None


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = billing_core.no_such_name  # type: ignore[attr-defined]


@pytest.mark.parametrize("module", ["billing_core", "billing_core.testing"])
def test_importing_pulls_in_neither_httpx_nor_hypothesis_nor_cattrs(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "heavy = sorted(m for m in ('httpx', 'hypothesis', 'cattrs') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    assert result.stdout.strip() == ""


def test_the_shell_loads_httpx_only_when_an_adapter_is_used() -> None:
    code = (
        "import sys, billing_core\n"
        "billing_core.resolve_billing\n"
        "assert 'httpx' not in sys.modules, 'the orchestration imported httpx'\n"
        "billing_core.HttpBillingService\n"
        "assert 'httpx' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_public_names_are_listed_once_each_way() -> None:
    """``__all__`` is exactly the eager exceptions, the lazy names and the version."""
    from billing_core import errors

    lazy = set(billing_core._LAZY)
    assert set(billing_core.__all__) == lazy | set(errors.__all__) | {"__version__"}
    assert not lazy & set(errors.__all__)


# --- the three lists of a package's __init__.py agree ------------------------------------
#
# Each package lists its public names three times: imports under ``if TYPE_CHECKING:``
# (what mypy sees), the ``_LAZY`` table (what ``__getattr__`` loads) and ``__all__``
# (what mypy re-exports; it must stay a literal). The tests below read the source
# with ``ast`` and hold the three to one another exactly.

PACKAGES = ["billing_core", "billing_core.testing"]


@attrs.frozen
class Surface:
    """What a package's ``__init__.py`` says about its public names, read with ``ast``."""

    eager: dict[str, str]  # name -> module, imported when the package is
    type_checking: dict[str, str]  # name -> module, imported under ``if TYPE_CHECKING:``
    assigned: frozenset[str]  # public names bound at the top level (``__version__``)
    all_: list[str]  # the literal ``__all__``


def _imports(node: ast.ImportFrom) -> dict[str, str]:
    assert node.module is not None, ast.unparse(node)
    assert all(alias.asname in (None, alias.name) for alias in node.names), ast.unparse(node)
    return {alias.name: node.module for alias in node.names}


def _is_type_checking(test: ast.expr) -> bool:
    return ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _add(names: dict[str, str], more: dict[str, str], where: str) -> None:
    repeated = sorted(names.keys() & more.keys())
    assert not repeated, f"imported twice {where}: {repeated}"
    names.update(more)


def read_surface(package: str) -> Surface:
    path = Path(importlib.import_module(package).__file__ or "")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    eager: dict[str, str] = {}
    type_checking: dict[str, str] = {}
    assigned: set[str] = set()
    all_: list[str] | None = None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("billing_core"):
            _add(eager, _imports(node), "eagerly")
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            assert not node.orelse, "if TYPE_CHECKING: has an else"
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
                _add(type_checking, _imports(statement), "under TYPE_CHECKING")
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                assert isinstance(target, ast.Name), ast.unparse(node)
                if target.id == "__all__":
                    assert node.value is not None
                    all_ = ast.literal_eval(node.value)  # mypy needs a literal list
                elif not target.id.startswith("_") or target.id == "__version__":
                    assigned.add(target.id)
    assert isinstance(all_, list), f"{path} has no literal __all__ list"
    return Surface(eager, type_checking, frozenset(assigned), all_)


def top_level_definitions(module: str) -> set[str]:
    """The names ``module`` binds itself at run time, not by import: classes, functions
    and assignments (type aliases included), outside ``if TYPE_CHECKING:``."""
    spec = importlib.util.find_spec(module)
    assert spec is not None
    assert spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    names: set[str] = set()
    statements: list[ast.stmt] = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.If) and not _is_type_checking(node.test):
            statements += node.body + node.orelse
        elif isinstance(node, ast.Try):
            statements += node.body + node.orelse + node.finalbody
            statements += [s for handler in node.handlers for s in handler.body]
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_a_literal_list_of_unique_names(package: str) -> None:
    surface = read_surface(package)
    assert len(set(surface.all_)) == len(surface.all_), "__all__ repeats a name"
    assert surface.all_ == importlib.import_module(package).__all__


@pytest.mark.parametrize("package", PACKAGES)
def test_type_checking_imports_are_exactly_the_lazy_table(package: str) -> None:
    """Same names, each from the same module: what mypy sees is what ``__getattr__`` loads."""
    surface = read_surface(package)
    lazy: dict[str, str] = importlib.import_module(package)._LAZY
    assert surface.type_checking == lazy


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_exactly_the_eager_lazy_and_assigned_names(package: str) -> None:
    surface = read_surface(package)
    lazy = set(importlib.import_module(package)._LAZY)
    eager = set(surface.eager)
    assert not eager & lazy, "a name is both imported eagerly and loaded lazily"
    assert not surface.assigned & (eager | lazy)
    exported = eager | lazy | surface.assigned
    assert sorted(set(surface.all_) - exported) == [], "in __all__ but never bound"
    assert sorted(exported - set(surface.all_)) == [], "bound but missing from __all__"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_is_defined_in_the_module_it_is_loaded_from(package: str) -> None:
    """Each name comes from the module that defines it, not from one that re-imports it."""
    surface = read_surface(package)
    init = importlib.import_module(package)
    for name, module in (surface.eager | init._LAZY).items():
        assert name in top_level_definitions(module), f"{module} does not define {name}"
        assert getattr(init, name) is getattr(importlib.import_module(module), name)


def test_in_memory_pin_store_is_the_testing_fake_at_the_top_level_too() -> None:
    """The fakes live in billing_core.testing.fakes; the top level keeps its lazy re-export."""
    assert billing_core._LAZY["InMemoryPinStore"] == "billing_core.testing.fakes"
    assert billing_core.InMemoryPinStore is billing_core.testing.InMemoryPinStore
