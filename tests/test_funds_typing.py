"""mypy makes the unsafe funds gate visible: a status that may be ``None`` must say what to do.

``ensure_billing_funds(status)`` with ``status: StatusBilling | None`` used to
type-check and pass ``None`` (signed out, or an outage) silently. The guard's
overloads now demand ``when_unknown`` exactly where ``None`` can reach it; this
runs mypy (strict, with the project's configuration) on a small module to prove it.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent

_ERROR = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?::\d+)?: error: (?P<message>.*)$")

# Lines ending in "# unsafe" must be errors, and no other line may be.
CALLERS = textwrap.dedent(
    """\
    from __future__ import annotations

    import billing_core as bc
    from billing_core.funds import ensure_billing_funds


    def gate(status: bc.StatusBilling | None) -> None:
        bc.ensure_billing_funds(status)  # unsafe
        ensure_billing_funds(status, usages=())  # unsafe
        bc.ensure_billing_funds(status, hints=bc.CommandHints(), teams=())  # unsafe
        bc.ensure_billing_funds(status, when_unknown="refuse")
        bc.ensure_billing_funds(status, when_unknown="allow")
        bc.ensure_billing_funds(status, when_unknown="ignore")  # unsafe
        bc.ensure_billing_funds(status, when_unknown="refuse", hints=bc.DEFAULT_COMMAND_HINTS)
        bc.ensure_billing_funds(status, when_unknown="allow", teams=[], hints=bc.CommandHints())
        bc.ensure_billing_funds(status, when_unknown="refuse", hints="brv")  # unsafe
        bc.ensure_billing_funds(status, when_unknown="refuse", teams=["acme"])  # unsafe


    def gate_known(status: bc.StatusBilling, teams: list[bc.Team]) -> None:
        bc.ensure_billing_funds(status)
        bc.ensure_billing_funds(status, usages=(), when_unknown="allow")
        bc.ensure_billing_funds(status, hints=bc.CommandHints(web_app_url="https://a"))
        bc.ensure_billing_funds(status, teams=teams)


    def gate_signed_out() -> None:
        bc.ensure_billing_funds(None)  # unsafe
        bc.ensure_billing_funds(None, when_unknown="refuse")
    """
)


def test_mypy_rejects_a_gate_that_leaves_unknown_billing_to_chance(tmp_path: Path) -> None:
    callers = tmp_path / "callers.py"
    callers.write_text(CALLERS, encoding="utf-8")
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--no-pretty",
            "--no-error-summary",
            str(callers),
        ]
    )
    assert status in (0, 1), f"mypy did not run (exit {status}):\n{stdout}{stderr}"
    flagged = {
        int(match["line"]): match["message"]
        for match in map(_ERROR.match, stdout.splitlines())
        if match
    }
    unsafe = {
        number for number, line in enumerate(CALLERS.splitlines(), 1) if line.endswith("# unsafe")
    }
    assert set(flagged) == unsafe, stdout
    # mypy words it after the overload it finds closest; each names the guard.
    assert all('"ensure_billing_funds"' in message for message in flagged.values()), stdout
