"""An async agent gating every LLM call through a billing monitor, as a long-running agent would.

    python examples/monitor_agent.py [--project DIR] [PROMPT ...]

The agent asks ``await monitor.gate()`` before each (pretend) LLM call: an
answer from memory, with no request, while the monitor is fresh. When the LLM
endpoint refuses a call for billing (HTTP 402: the credits ran out since the
monitor last looked), the agent calls ``monitor.invalidate()``: the next gate
refreshes, sees the credits are gone and refuses with the funds guard's advice
(exit 3). A subscriber prints the billing line whenever it changes.

With ``BRV_SESSION_KEY`` unset it runs against the
built-in fake API: Acme Corp has 3,000 credits and each answer costs 1,000, so
the fourth call is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import billing_core as bc

EXIT_REFUSED = 3
PROMPTS = ("plan the refactor", "write the tests", "fix the flaky one", "write the changelog")


class PaymentRequired(Exception):
    """The LLM endpoint refused the call for billing (its HTTP 402)."""


Model = Callable[[str], str]
"""A (pretend) LLM call: a prompt in, an answer out, or :class:`PaymentRequired`."""


async def run_agent(
    prompts: Sequence[str], *, monitor: bc.AsyncBillingMonitor, model: Model
) -> int:
    """Answer ``prompts`` in turn, each call gated by the monitor; 3 when billing refuses."""

    def show(old: bc.BillingResolution | None, new: bc.BillingResolution) -> None:
        print(bc.format_billing_line(new.status) if new.status else "Billing: unknown")

    unsubscribe = monitor.subscribe(show)
    answered, refused_by_model = 0, False
    try:
        while answered < len(prompts):
            try:
                await monitor.gate(when_unknown="refuse")  # memory, unless stale or invalidated
            except bc.BillingError as error:  # out of credits, invalid pin, billing unknown
                print(f"refused: {error}", file=sys.stderr)
                return EXIT_REFUSED
            try:
                print(model(prompts[answered]))
            except PaymentRequired:
                if refused_by_model:  # refused twice although billing says fine: give up
                    print("refused: the model keeps refusing for billing", file=sys.stderr)
                    return EXIT_REFUSED
                refused_by_model = True
                print("the model refused for billing (402): checking again", file=sys.stderr)
                monitor.invalidate()  # what the monitor holds is suspect: refresh on next gate
                continue
            refused_by_model = False
            answered += 1
        return 0
    finally:
        unsubscribe()
        print(f"{answered} of {len(prompts)} prompts answered")


async def agent(
    prompts: Sequence[str], *, project: Path, base_url: str, session_key: str, model: Model
) -> int:
    """One monitor for the project, over one pooled async service, for the whole run."""
    async with (
        bc.AsyncHttpBillingService(base_url) as billing,
        bc.AsyncBillingMonitor(
            active_provider="byterover",
            session_key=session_key,
            billing=billing,
            pins=bc.FilePinStore.for_project(project.resolve()),
        ) as monitor,
    ):
        return await run_agent(prompts, monitor=monitor, model=model)


def pretend_model(prompt: str) -> str:
    """Stands in for the real request, which the billing server would charge."""
    return f"(model) {prompt}: done."


def _demo(prompts: Sequence[str]) -> int:
    from billing_core.testing import FakeBillingApi
    from billing_core.testing.sample import sample_account

    cost = 1_000
    with (
        tempfile.TemporaryDirectory() as project,
        FakeBillingApi(sample_account(acme_remaining=3_000)) as api,
    ):

        def metered_model(prompt: str) -> str:
            # The server's side: it charges Acme Corp and refuses once nothing is left.
            remaining = next(u.remaining for u in api.account.usages if u.tier == "PRO")
            if remaining < cost:
                raise PaymentRequired
            api.account = sample_account(acme_remaining=remaining - cost)
            return pretend_model(prompt)

        code = asyncio.run(
            agent(
                prompts,
                project=Path(project),
                base_url=bc.brv_endpoints(api.brv_environ()).billing_api_url,
                session_key=api.session_key,
                model=metered_model,
            )
        )
        print(f"{api.request_count} billing requests")
    return code


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompts", nargs="*", default=list(PROMPTS))
    parser.add_argument("--project", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    session_key = os.environ.get("BRV_SESSION_KEY")
    if not session_key:
        return _demo(args.prompts)
    # The root domain in BRV_BILLING_BASE_URL (default: production), as brv reads it.
    base_url = bc.brv_endpoints().billing_api_url
    return asyncio.run(
        agent(
            args.prompts,
            project=args.project,
            base_url=base_url,
            session_key=session_key,
            model=pretend_model,
        )
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
