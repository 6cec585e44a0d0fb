"""A whole resolve against the loopback fake API with 80 ms of latency per answer.

- ``resolve_<account>_<flavour>_vs_one_get``: wall time of one
  ``resolve_billing`` / ``aresolve_billing`` (pin file read, usages, tiers and
  free limit) over one plain keep-alive GET to the same server, for a one-paid-
  team account, a free account and a two-paid-team account. The reference
  design needed two sequential round trips on the free path (ratio ~2); one
  concurrent gathering costs one (ratio ~1).
- ``connections_for_5_resolves_<flavour>``: TCP connections opened over the
  first five consecutive resolves through one new service instance: at most
  one per concurrent request (3), then the pool is reused.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from _common import amedian_seconds, median_seconds, one_get_seconds, paid_usage

from billing_core import (
    AsyncHttpBillingService,
    BillingResolution,
    FilePinStore,
    HttpBillingService,
    aresolve_billing,
    resolve_billing,
)
from billing_core.testing import Account, FakeBillingApi
from billing_core.testing.sample import sample_account

LATENCY_S = 0.08
PROVIDER = "byterover"


def _accounts() -> dict[str, Account]:
    one_paid = sample_account()
    free_only = Account(
        teams=one_paid.teams[1:],
        usages=one_paid.usages[1:],
        free_user_limit=one_paid.free_user_limit,
    )
    two_paid = Account(
        usages=(*one_paid.usages, paid_usage("org-beta", "Beta", tier="TEAM")),
        free_user_limit=one_paid.free_user_limit,
    )
    return {"one_paid": one_paid, "free": free_only, "two_paid": two_paid}


def _checked(resolution: BillingResolution) -> BillingResolution:
    if resolution.status is None or resolution.problems:
        raise RuntimeError(f"the benchmark resolve went wrong: {resolution}")
    return resolution


def _sync_figures(api: FakeBillingApi, pins: FilePinStore, *, runs: int) -> tuple[float, int]:
    with HttpBillingService(api.base_url) as billing:

        def resolve() -> BillingResolution:
            return _checked(
                resolve_billing(
                    active_provider=PROVIDER,
                    session_key=api.session_key,
                    billing=billing,
                    pins=pins,
                )
            )

        api.reset_counters()
        for _ in range(5):
            resolve()
        connections = api.connection_count
        return median_seconds(resolve, runs=runs), connections


async def _async_figures(
    api: FakeBillingApi, pins: FilePinStore, *, runs: int
) -> tuple[float, int]:
    async with AsyncHttpBillingService(api.base_url) as billing:

        async def resolve() -> BillingResolution:
            return _checked(
                await aresolve_billing(
                    active_provider=PROVIDER,
                    session_key=api.session_key,
                    billing=billing,
                    pins=pins,
                )
            )

        api.reset_counters()
        for _ in range(5):
            await resolve()
        connections = api.connection_count
        return await amedian_seconds(resolve, runs=runs), connections


def measure(*, runs: int = 7) -> dict[str, float]:
    """Resolve wall time over one GET, per account and flavour, and pooled connections."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as project:
        pins = FilePinStore(Path(project) / ".brv")
        for name, account in _accounts().items():
            with FakeBillingApi(account, latency=LATENCY_S) as api:
                one_get_s = one_get_seconds(api, runs=runs)
                sync_s, sync_connections = _sync_figures(api, pins, runs=runs)
                async_s, async_connections = asyncio.run(_async_figures(api, pins, runs=runs))
            figures[f"resolve_{name}_sync_vs_one_get"] = sync_s / one_get_s
            figures[f"resolve_{name}_async_vs_one_get"] = async_s / one_get_s
            if name == "one_paid":
                figures["connections_for_5_resolves_sync"] = float(sync_connections)
                figures["connections_for_5_resolves_async"] = float(async_connections)
    return figures


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value:.2f}")
