"""Timing helpers and sample data shared by the benchmarks."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

from billing_core import BillingUsage
from billing_core._endpoints import PATHS
from billing_core._session import SESSION_HEADER
from billing_core.testing import FakeBillingApi


def best_of(*runs: Callable[[], object], repeats: int) -> list[float]:
    """Best wall time of each run over ``repeats`` rounds.

    The runs alternate within a round, so a burst of load on a shared machine
    hits a run and its baseline alike; the cyclic GC is paused as
    :mod:`timeit` does.
    """
    best = [float("inf")] * len(runs)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for slot, run in enumerate(runs):
                start = time.perf_counter()
                run()
                best[slot] = min(best[slot], time.perf_counter() - start)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def median_seconds(action: Callable[[], object], *, runs: int) -> float:
    """Median wall time of ``action`` over ``runs`` calls, after one warm-up call.

    For network round trips, where the median says more than the best.
    """
    action()  # warm up: connections, codec, thread start-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def amedian_seconds(action: Callable[[], Awaitable[object]], *, runs: int) -> float:
    """The async twin of :func:`median_seconds`."""
    await action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def paid_usage(
    org_id: str, name: str, *, tier: str = "PRO", total: int = 20_000, used: int = 7_600
) -> BillingUsage:
    """A usage of ``total`` credits with ``used`` spent."""
    return BillingUsage(
        organization_id=org_id,
        organization_name=name,
        organization_status="active",
        limit=total,
        add_on_remaining=0,
        total_limit=total,
        used=used,
        remaining=total - used,
        percent_used=round(100 * used / total, 2),
        limit_exceeded=False,
        tier=tier,
    )


def one_get_seconds(api: FakeBillingApi, *, runs: int) -> float:
    """Median time of one plain keep-alive GET of the usages: the round-trip baseline."""
    with httpx.Client(headers={SESSION_HEADER: api.session_key}) as client:
        url = api.base_url + PATHS["usages"]
        return median_seconds(lambda: client.get(url).raise_for_status(), runs=runs)
