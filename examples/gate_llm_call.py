"""Gate a (pretend) LLM call on the funds guard, as a CLI embedding billing_core would.

    python examples/gate_llm_call.py [--project DIR] PROMPT

Prints the billing line first, then either the model's answer or why the
request was refused (exit 3). Unknown billing (billing down, or not signed in)
is refused too: nobody can tell who would pay. With ``BRV_SESSION_KEY`` set it
asks the API at the root domain in ``BRV_BILLING_BASE_URL`` (default:
production); unset, it runs against the built-in fake API and a temporary
project, and ``--scenario`` picks the situation to show:

- ``ok``: the paid team pays (the default);
- ``exhausted``: the paid team has no credits left;
- ``free-pin``: the project is pinned to a FREE-tier team;
- ``outage``: the billing API answers 503, so who pays is unknown.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import billing_core as bc

EXIT_REFUSED = 3


def pretend_llm_call(prompt: str) -> str:
    """Stands in for the real request, which the billing server would charge."""
    return f"(model) You asked: {prompt!r}. Here is a thoughtful answer."


def gated_call(prompt: str, *, project: Path, base_url: str, session_key: str) -> int:
    """Resolve who pays, print it, and call the model only if the payer can pay."""
    pins = bc.FilePinStore.for_project(project.resolve())
    with bc.HttpBillingService(base_url) as billing:
        resolution = bc.resolve_billing(
            active_provider="byterover", session_key=session_key, billing=billing, pins=pins
        )
        for problem in resolution.problems:
            print(f"warning: {problem.part}: {problem.message}", file=sys.stderr)
        status = resolution.status
        if status is not None:
            print(bc.format_billing_line(status))
        refusal = funds_refusal(status, lambda: billing.get_usages(session_key))
    if refusal is not None:
        print(f"refused: {refusal}", file=sys.stderr)
        return EXIT_REFUSED
    print(pretend_llm_call(prompt))
    return 0


def funds_refusal(
    status: bc.StatusBilling | None, fetch_usages: Callable[[], Sequence[bc.BillingUsage]]
) -> str | None:
    """Why the next request must not be sent, or ``None`` when the payer can pay.

    The funds guard decides on the status alone; the usages only word a
    refusal (which other paid teams still have credits). So they are fetched
    on the refusal path only, a second request that a payer with credits never
    waits for, and never for unknown billing, which no team listing can help.
    ``billing-core status --require-funds`` takes the same two steps.
    """
    refusal = _refusal(status, usages=())
    if refusal is None or status is None:
        return refusal
    try:
        usages = fetch_usages()
    except bc.BillingError:  # the advice is a bonus: the refusal stands without it
        usages = ()
    return _refusal(status, usages=usages)


def _refusal(status: bc.StatusBilling | None, *, usages: Sequence[bc.BillingUsage]) -> str | None:
    try:
        # None (signed out, or billing down) is refused: whoever the server picks would pay.
        bc.ensure_billing_funds(status, usages=usages, when_unknown="refuse")
    except bc.BillingUnknownError as exc:
        return f"billing unknown: {exc}"
    except bc.InsufficientCreditsError as exc:
        return f"out of credits: {exc}"
    except bc.InvalidPinError as exc:
        return f"invalid billing pin: {exc}"
    return None


@contextlib.contextmanager
def _fake_upstream(scenario: str) -> Iterator[tuple[str, str, Path]]:
    from billing_core.testing import FakeBillingApi
    from billing_core.testing.sample import SIDE_PROJECT_TEAM_ID, sample_account

    account = sample_account(acme_remaining=0 if scenario == "exhausted" else 12_400)
    with tempfile.TemporaryDirectory() as project, FakeBillingApi(account) as api:
        if scenario == "outage":
            api.fail("usages", status=503)
        if scenario == "free-pin":
            pins = bc.FilePinStore.for_project(Path(project).resolve())
            pins.set_pinned_team_id(SIDE_PROJECT_TEAM_ID)
        yield bc.brv_endpoints(api.brv_environ()).billing_api_url, api.session_key, Path(project)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt", nargs="?", default="What is a billing pin?")
    parser.add_argument("--project", type=Path, default=Path.cwd())
    parser.add_argument(
        "--scenario",
        choices=("ok", "exhausted", "free-pin", "outage"),
        default="ok",
        help="the fake account's situation (only without BRV_* settings)",
    )
    args = parser.parse_args(argv)
    session_key = os.environ.get("BRV_SESSION_KEY")
    if session_key:
        # The root domain in BRV_BILLING_BASE_URL (default: production), as brv reads it.
        base_url = bc.brv_endpoints().billing_api_url
        return gated_call(
            args.prompt, project=args.project, base_url=base_url, session_key=session_key
        )
    with _fake_upstream(args.scenario) as (fake_url, fake_key, project):
        return gated_call(args.prompt, project=project, base_url=fake_url, session_key=fake_key)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
