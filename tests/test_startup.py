"""Start-up: what the command line loads before it answers, and the ``--version`` shortcut."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import pytest

from billing_core import __version__
from billing_core.cli import PROG
from billing_core.cli.exits import _CliError
from billing_core.cli.parser import _asks_version, _parser


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_loads_neither_the_models_nor_httpx(flag: str) -> None:
    code = (
        "import sys\n"
        "from billing_core.cli import main\n"
        f"assert main([{flag!r}]) == 0\n"
        "heavy = ('attrs', 'cattrs', 'httpx', 'billing_core.models', 'billing_core.cli.settings')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == [f"{PROG} {__version__}", "[]"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["--vers"],
        ["--v"],
        ["--project", "x", "--version"],
        ["--project=x", "--version"],
        ["--bogus", "--version"],
        ["--version", "status"],
        ["--timeout", "--version"],  # the value of --timeout, then no command
        ["--project", "--version", "status"],
        ["--help", "--version"],
        ["-h", "--version"],
        ["status", "--version"],
        ["--", "--version"],
        ["--version=1"],
        ["--json", "--version"],
        [],
    ],
)
def test_the_version_shortcut_answers_exactly_when_argparse_would(argv: list[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            _parser().parse_args(argv)
            code: object = None
        except SystemExit as exit_:
            code = exit_.code
        except _CliError:  # argparse refusing the arguments
            code = "refused"
    argparse_says_version = code == 0 and out.getvalue() == f"{PROG} {__version__}\n"
    assert _asks_version(argv) == argparse_says_version
