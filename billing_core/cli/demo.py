"""``billing-core demo``: the whole flow on the embedded fake API, in a temporary project.

The real HTTP adapters, pin file and resolution run against a
:class:`~billing_core.testing.FakeBillingApi` serving the sample account, so
a newcomer sees every command work with no account, network or settings. The
command line runs each step (:data:`RunStep`); this module only tells the
story and checks that every step exits as it should.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeAlias

from attrs import field, frozen

from billing_core.cli.exits import EXIT_NO_FUNDS, EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, PROG
from billing_core.cli.settings import PIN_FILE
from billing_core.cli.terminal import Console, bold, tint

__all__ = ["DemoUpstream", "RunStep", "run_demo"]


@frozen(kw_only=True)
class DemoUpstream:
    """What the demo's commands run against instead of the user's settings.

    ``environ`` holds the variables a brv user would set to use the fake API
    (root domains, the session key, the provider); ``project`` is where the
    project search starts.
    """

    environ: Mapping[str, str] = field(repr=False)
    project: Path


RunStep: TypeAlias = Callable[[Sequence[str], DemoUpstream], int]
"""Runs one command line (``argv`` without the program name) against the demo's
upstream and returns its exit code, its error line (if any) printed on stdout so
the walk-through reads in order when piped."""


def run_demo(console: Console, *, run_step: RunStep) -> int:
    """Walk through status, teams and pin; exit 1 if a step did not exit as expected."""
    # Here, not at the top: the test harness (an HTTP server, the sample account)
    # is loaded only when the demo runs, never by the rest of the command line.
    from billing_core.testing.fake_api import FakeBillingApi
    from billing_core.testing.sample import sample_account

    failures = 0

    def step(note: str, argv: Sequence[str], *, expect: int) -> None:
        nonlocal failures
        console.print()
        console.print(tint(f"# {note}", "inactive"))
        console.print(bold(f"$ {PROG} {' '.join(argv)}"))
        code = run_step(argv, upstream)
        console.print(tint(f"(exit {code})", "inactive"))
        if code != expect:
            failures += 1
            console.error(f"demo step `{' '.join(argv)}` exited {code}, expected {expect}")

    console.print(bold(f"{PROG} demo"))
    console.print(
        "The real HTTP adapters, pin file and resolution, against a fake billing API on\n"
        "127.0.0.1 serving a sample account: Acme Corp (PRO), Side Project (FREE)."
    )
    with (
        tempfile.TemporaryDirectory(prefix="billing-core-demo-") as project,
        FakeBillingApi(sample_account()) as api,
    ):
        console.hide(api.session_key)
        root = Path(project).resolve()
        # Its own .brv, so that the project search stops here: a .brv above the
        # temporary directory (the user's, or a hostile /tmp/.brv pointer) is
        # never the demo's project, and its pin is never written.
        (root / ".brv").mkdir()
        upstream = DemoUpstream(environ=api.brv_environ(), project=root)
        console.print(f"Project: {upstream.project} (a temporary directory)")
        step(
            "Nothing pinned, exactly one paid team: billing picks Acme Corp by itself.",
            ["status"],
            expect=EXIT_OK,
        )
        step(
            "The team picker: a FREE-tier team cannot be billed; > marks the suggestion.",
            ["teams"],
            expect=EXIT_OK,
        )
        step("Pinning the FREE-tier team is refused.", ["pin", "side-project"], expect=EXIT_USAGE)
        step(
            f"Pin Acme Corp for this project (written to {PIN_FILE}).",
            ["pin", "acme"],
            expect=EXIT_OK,
        )
        step("The pin decides who pays.", ["status"], expect=EXIT_OK)
        api.account = sample_account(acme_remaining=0)
        step(
            "Acme Corp has used all its credits: an agent gates its next request on the"
            " funds guard.",
            ["status", "--require-funds"],
            expect=EXIT_NO_FUNDS,
        )
        step("Clear the pin again.", ["pin", "--clear"], expect=EXIT_OK)
        requests = api.request_count
    console.print()
    console.print(f"Done: {requests} HTTP requests to the fake API, no account needed.")
    return EXIT_UNEXPECTED if failures else EXIT_OK
