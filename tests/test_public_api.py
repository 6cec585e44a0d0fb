"""The public surface: every exported name resolves, and importing stays cheap."""

from __future__ import annotations

import subprocess
import sys

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
