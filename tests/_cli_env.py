"""The environment the command-line tests run in: a user of the fake API, nothing stray.

The brv CLI's files are looked for in an empty home, never the developer's;
``COLUMNS`` is dropped too (pytest-xdist sets it in its workers, and the team
table fits it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from billing_core.testing import FakeBillingApi


def _stray(name: str) -> bool:
    return name.startswith(("BRV_", "XDG_")) or name in ("NO_COLOR", "TERM", "COLUMNS")


def user_environ(api: FakeBillingApi, tmp_path: Path) -> dict[str, str]:
    """This process's environment without stray settings, plus ``api``'s brv variables."""
    home = tmp_path / "home"
    home.mkdir()
    base = {name: value for name, value in os.environ.items() if not _stray(name)}
    return {**base, "HOME": str(home), **api.brv_environ()}


def use_environ(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> None:
    """Make ``environ`` this process's environment for the test (stray settings removed)."""
    for name in list(os.environ):
        if _stray(name):
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
