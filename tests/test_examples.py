"""The examples run as documented: each in its own interpreter, with no settings."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core import (
    BillingApiError,
    BillingUsage,
    InsufficientCreditsError,
    InvalidPinError,
    StatusBilling,
    ensure_billing_funds,
)
from billing_core.cli.commands import _funds_refusal
from billing_core.testing.strategies import billing_usages, status_billings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(*argv: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # No BRV_* settings: every example then starts the built-in fake API.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRV_")}
    env.update(extra_env or {})
    done = subprocess.run(
        [sys.executable, *argv],
        env=env,
        cwd=EXAMPLES.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_async_agent_resolves_every_project_over_one_pool() -> None:
    done = _run(str(EXAMPLES / "async_agent.py"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split(maxsplit=1) == [
        "no-pin",
        "Billing: Acme Corp (12,400 credits, PRO)  [ok]",
    ]
    assert lines[1].split(maxsplit=1) == [
        "pinned-acme",
        "Billing: Acme Corp (12,400 credits, PRO)  [ok]",
    ]
    assert lines[2].startswith("pinned-free")
    assert "Side Project" in lines[2]
    assert lines[2].endswith("[danger]")
    # 3 projects x 3 requests x 2 rounds; the second round reuses the first's connections.
    assert lines[3].startswith("3 projects, 2 rounds: 18 requests over ")
    connections = int(lines[3].split(" over ")[1].split()[0])
    assert connections <= 9


@pytest.mark.parametrize(
    ("scenario", "code", "out", "err"),
    [
        ("ok", 0, "You asked: 'hello'", ""),
        ("exhausted", 3, "Billing: Acme Corp (0 credits, PRO)", "refused: out of credits"),
        ("free-pin", 3, "pinned team Side Project", "refused: invalid billing pin"),
    ],
)
def test_gate_llm_call(scenario: str, code: int, out: str, err: str) -> None:
    done = _run(str(EXAMPLES / "gate_llm_call.py"), "--scenario", scenario, "hello")
    assert done.returncode == code, done.stderr
    billing_line, *_ = done.stdout.splitlines()
    assert billing_line.startswith("Billing: ")  # the billing line comes first
    assert out in done.stdout
    assert err in done.stderr
    if code != 0:
        assert "(model)" not in done.stdout  # the model is not called


def test_gate_llm_call_refuses_when_billing_is_unknown() -> None:
    # Billing down resolves to no status; the gate used to need its own check
    # for that, and the guard alone let such a request through.
    done = _run(str(EXAMPLES / "gate_llm_call.py"), "--scenario", "outage", "hello")
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""  # no billing line to show, and the model is not called
    assert "warning: usages: " in done.stderr
    assert "refused: billing unknown: Who pays for the next request is unknown" in done.stderr


def test_monitor_agent_gates_from_memory_and_invalidates_on_a_refusal() -> None:
    done = _run(str(EXAMPLES / "monitor_agent.py"))
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == [
        "Billing: Acme Corp (3,000 credits, PRO)",
        "(model) plan the refactor: done.",
        "(model) write the tests: done.",
        "(model) fix the flaky one: done.",
        "Billing: Acme Corp (0 credits, PRO)",  # seen by the refresh after the 402
        "3 of 4 prompts answered",
        "6 billing requests",  # 2 refreshes of 3 GETs: the first, and the one asked for
    ]
    assert "the model refused for billing (402)" in done.stderr
    assert "refused: Acme Corp has no credits left." in done.stderr


def test_downstream_property_test_passes() -> None:
    done = _run(
        "-m",
        "pytest",
        str(EXAMPLES / "downstream_property_test.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        extra_env={"BILLING_EXAMPLES": "20"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def _import_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GATE = _import_example("gate_llm_call")


class _Fetch:
    """The usages fetch of a refusal: counts itself, and may fail like upstream."""

    def __init__(self, usages: Sequence[BillingUsage], *, fails: bool) -> None:
        self.usages, self.fails, self.calls = usages, fails, 0

    def __call__(self) -> Sequence[BillingUsage]:
        self.calls += 1
        if self.fails:
            raise BillingApiError("down", endpoint="/billing/usages", status_code=503)
        return self.usages


def test_the_example_refuses_unknown_billing_without_fetching_usages() -> None:
    fetch = _Fetch([], fails=False)
    refusal = GATE.funds_refusal(None, fetch)
    assert refusal is not None
    assert refusal.startswith("billing unknown: Who pays for the next request is unknown")
    assert fetch.calls == 0  # no team listing can word this refusal better


@settings(max_examples=200)
@given(status=status_billings(), usages=st.lists(billing_usages(), max_size=4))
def test_the_example_gates_as_the_cli_does(
    status: StatusBilling, usages: list[BillingUsage]
) -> None:
    """One rule: refused iff the guard refuses the status; usages fetched only then."""
    refuses = False
    try:
        ensure_billing_funds(status)
    except (InsufficientCreditsError, InvalidPinError):
        refuses = True
    example_fetch, cli_fetch = _Fetch(usages, fails=False), _Fetch(usages, fails=False)
    example = GATE.funds_refusal(status, example_fetch)
    cli = _funds_refusal(status, cli_fetch)
    assert (example is not None, cli is not None) == (refuses, refuses)
    assert example_fetch.calls == cli_fetch.calls == int(refuses)
    if example is not None and cli is not None:
        assert example.endswith(cli)  # the example adds "out of credits: " and the like
        assert GATE.funds_refusal(status, _Fetch(usages, fails=True)) is not None
