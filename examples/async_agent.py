"""An async agent resolving billing for several projects at once, over one connection pool.

Each project has its own pin file; all of them are resolved concurrently over
ONE ``AsyncHttpBillingService`` wrapping ONE caller-owned ``httpx.AsyncClient``,
so the whole batch costs about one round trip on a handful of pooled connections.

    python examples/async_agent.py [PROJECT_DIR ...]

With ``BRV_SESSION_KEY`` set, it resolves the given
project directories (default: the current one) against the API at the root domain
in ``BRV_BILLING_BASE_URL`` (default: production). Without a key it
starts the built-in fake API with the sample account and makes three temporary
projects: one without a pin, one pinned to the paid team, one pinned to the
FREE-tier team (an invalid pin).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

import billing_core as bc


async def resolve_projects(
    projects: Sequence[Path],
    *,
    billing: bc.AsyncBillingService,
    session_key: str,
    active_provider: str = "byterover",
) -> list[bc.BillingResolution]:
    """Resolve every project concurrently, sharing ``billing`` (and its connections)."""
    return await asyncio.gather(
        *(
            bc.aresolve_billing(
                active_provider=active_provider,
                session_key=session_key,
                billing=billing,
                pins=bc.FilePinStore.for_project(project.resolve()),
            )
            for project in projects
        )
    )


async def report(
    projects: Sequence[Path], *, base_url: str, session_key: str, rounds: int = 2
) -> int:
    """Print one billing line per project; return 0 when every project resolved.

    The agent checks billing again before each of its ``rounds`` of work: later
    rounds reuse the pooled connections of the first.
    """
    async with httpx.AsyncClient() as client:
        billing = bc.AsyncHttpBillingService(base_url, client=client)
        resolutions = await resolve_projects(projects, billing=billing, session_key=session_key)
        for _ in range(rounds - 1):
            again = await resolve_projects(projects, billing=billing, session_key=session_key)
            if again != resolutions:
                print("billing changed between rounds", file=sys.stderr)
                resolutions = again
    width = max(len(project.name) for project in projects)
    unresolved = 0
    for project, resolution in zip(projects, resolutions, strict=True):
        if resolution.status is None:
            unresolved += 1
            line = "billing unknown"
        else:
            line = bc.format_billing_line(resolution.status)
            line += f"  [{bc.billing_tone(resolution.status)}]"
        print(f"{project.name.ljust(width)}  {line}")
        for problem in resolution.problems:
            print(f"{' ' * width}  warning: {problem.part}: {problem.message}", file=sys.stderr)
    return 1 if unresolved else 0


def _demo() -> int:
    from billing_core.testing import FakeBillingApi
    from billing_core.testing.sample import (
        ACME_TEAM_ID,
        SIDE_PROJECT_TEAM_ID,
        sample_account,
    )

    with tempfile.TemporaryDirectory() as tmp, FakeBillingApi(sample_account()) as api:
        pins = {"no-pin": None, "pinned-acme": ACME_TEAM_ID, "pinned-free": SIDE_PROJECT_TEAM_ID}
        projects = []
        for name, team_id in pins.items():
            project = Path(tmp, name)
            project.mkdir()
            if team_id is not None:
                # What `billing-core pin` would refuse for the free team: written
                # directly here to show how an invalid pin resolves.
                bc.FilePinStore.for_project(project.resolve()).set_pinned_team_id(team_id)
            projects.append(project)
        code = asyncio.run(
            report(
                projects,
                base_url=bc.brv_endpoints(api.brv_environ()).billing_api_url,
                session_key=api.session_key,
            )
        )
        print(
            f"{len(projects)} projects, 2 rounds: {api.request_count} requests"
            f" over {api.connection_count} pooled connections"
        )
    return code


def main(argv: Sequence[str]) -> int:
    session_key = os.environ.get("BRV_SESSION_KEY")
    if not session_key:
        return _demo()
    projects = [Path(arg) for arg in argv] or [Path.cwd()]
    # The root domain in BRV_BILLING_BASE_URL (default: production), as brv reads it.
    base_url = bc.brv_endpoints().billing_api_url
    return asyncio.run(report(projects, base_url=base_url, session_key=session_key))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
