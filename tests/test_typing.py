"""mypy names every dispatch on ``StatusBilling`` that misses a variant; the check is not vacuous.

Each ``match status:`` in billing_core ends with ``case _: raise unhandled_status(status)``,
whose parameter is ``Never``: mypy accepts the call only where every variant was
handled. These tests run mypy (strict, as ``make test`` does) to prove it: on
the small modules in ``tests/typing/``, and on a copy of the package whose union
gained a sixth variant.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import attrs
import pytest
from mypy import api

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "typing"

_ERROR = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?::\d+)?: error: (?P<message>.*)$")
_MARKER = re.compile(r"#\s*error:\s*(?P<type>\S+)\s*$")


@attrs.frozen
class MypyError:
    path: Path
    line: int
    message: str


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for this module's runs: the second reuses the first's analysis of the
    stdlib, the dependencies and every module the new variant leaves unchanged
    (2.5-3.5 s for the first run, 1.5-2.5 s for the second, on a shared 2-core machine)."""
    return tmp_path_factory.mktemp("mypy-cache")


def run_mypy(*paths: Path, cache_dir: Path) -> list[MypyError]:
    """Run mypy with the project's configuration, strict, and return its errors."""
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--cache-dir",
            str(cache_dir),
            "--show-absolute-path",
            "--no-pretty",
            "--no-error-summary",
            *map(str, paths),
        ]
    )
    assert status in (0, 1), f"mypy did not run (exit {status}):\n{stdout}{stderr}"
    errors = []
    for line in stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            errors.append(
                MypyError(Path(match["path"]).resolve(), int(match["line"]), match["message"])
            )
    assert status == (1 if errors else 0), stdout
    return errors


def _unhandled(type_name: str) -> str:
    return f'Argument 1 to "unhandled_status" has incompatible type "{type_name}"; expected "Never"'


def test_mypy_rejects_a_dispatch_that_leaves_a_case_out(mypy_cache: Path) -> None:
    """``complete.py`` passes; ``incomplete.py`` fails at each marked line, naming
    the case left out (a variant, or ``None``), and nowhere else."""
    complete, incomplete = CASES / "complete.py", CASES / "incomplete.py"
    expected = {
        number: marker["type"]
        for number, text in enumerate(incomplete.read_text(encoding="utf-8").splitlines(), 1)
        if (marker := _MARKER.search(text))
    }
    assert sorted(expected.values()) == ["InvalidPinBilling", "None"]

    errors = run_mypy(complete, incomplete, cache_dir=mypy_cache)

    assert [e for e in errors if e.path == complete] == []
    found = {e.line: e.message for e in errors if e.path == incomplete}
    assert found.keys() == expected.keys(), errors
    for number, type_name in expected.items():
        assert found[number].startswith(_unhandled(type_name)), found[number]


# --- the package itself: a sixth variant is reported where it must be handled ----------

NEW_VARIANT = "NewBilling"

# Every dispatch on StatusBilling in billing_core: (module, function).
DISPATCHES = {
    ("presentation.py", "format_billing_line"),
    ("presentation.py", "billing_tone"),
    ("funds.py", "is_billing_exhausted"),
    ("funds.py", "ensure_billing_funds"),
}


def with_a_new_variant(models: str) -> str:
    """``models.py``'s source with one more class in the ``StatusBilling`` union."""
    tree = ast.parse(models)
    (alias,) = (
        node
        for node in tree.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "StatusBilling"
    )
    assert alias.value is not None
    value = alias.value
    assert value.end_lineno is not None
    assert value.end_col_offset is not None
    lines = models.splitlines(keepends=True)
    # Offsets are in UTF-8 bytes; edit the end line as bytes, then the rest as lines.
    end = lines[value.end_lineno - 1].encode()
    lines[value.end_lineno - 1] = (
        end[: value.end_col_offset] + f" | {NEW_VARIANT}".encode() + end[value.end_col_offset :]
    ).decode()
    new_class = (
        "@final\n"
        "@frozen(kw_only=True)\n"
        f"class {NEW_VARIANT}:\n"
        '    source: ClassVar[Literal["new"]] = "new"\n'
        "\n\n"
    )
    lines.insert(alias.lineno - 1, new_class)
    return "".join(lines)


def enclosing_function(path: Path, line: int) -> str | None:
    """The name of the innermost function of ``path`` around ``line``."""
    innermost: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.lineno <= line <= (node.end_lineno or node.lineno)
            and (innermost is None or node.lineno > innermost.lineno)
        ):
            innermost = node
    return innermost.name if innermost else None


def test_mypy_names_every_dispatch_when_a_variant_is_added(
    tmp_path: Path, mypy_cache: Path
) -> None:
    """Copy billing_core, add a variant to the copy's union, run mypy on the copy:
    each dispatch of presentation.py and funds.py must be an error naming it."""
    package = tmp_path.resolve() / "billing_core"
    shutil.copytree(
        ROOT / "billing_core", package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    models = package / "models.py"
    models.write_text(with_a_new_variant(models.read_text(encoding="utf-8")), encoding="utf-8")

    errors = run_mypy(package, cache_dir=mypy_cache)

    reported = {
        (e.path.relative_to(package).as_posix(), enclosing_function(e.path, e.line))
        for e in errors
        if e.path.is_relative_to(package) and e.message.startswith(_unhandled(NEW_VARIANT))
    }
    assert reported >= DISPATCHES, "\n".join(f"{e.path}:{e.line}: {e.message}" for e in errors)
