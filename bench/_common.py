"""Timing helpers and sample data shared by the benchmarks."""

from __future__ import annotations

import contextlib
import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator

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


# The upstream runs in its own process for CPU figures: its handler threads
# would otherwise be counted in the client's process time (and take its GIL).
_UPSTREAM_SCRIPT = """
import sys
from billing_core.testing import FakeBillingApi
from billing_core.testing.sample import sample_account

api = FakeBillingApi(sample_account(), latency=float(sys.argv[1])).start()
print(api.base_url, flush=True)
sys.stdin.read()  # until the parent closes the pipe
api.stop()
"""


@contextlib.contextmanager
def upstream_process(*, latency: float = 0.0) -> Iterator[str]:
    """The base URL of a :class:`FakeBillingApi` serving the sample account in a child process.

    It checks :data:`~billing_core.testing.DEFAULT_SESSION_KEY`; it stops when the block ends.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", _UPSTREAM_SCRIPT, str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stdin, stdout = child.stdin, child.stdout
    if stdin is None or stdout is None:  # pragma: no cover - both are pipes
        raise RuntimeError("the upstream process has no pipes")
    try:
        yield stdout.readline().strip()
    finally:
        stdin.close()
        child.wait(timeout=10)


def median_cpu_ratio(
    ours: Callable[[], object], baseline: Callable[[], object], *, samples: int, inner: int
) -> float:
    """Median process CPU of ``ours`` over that of ``baseline`` (every thread counted).

    Each sample runs each action ``inner`` times, alternating the two, so a
    burst of load on a shared machine hits both alike.
    """
    for action in (ours, baseline):
        action()  # warm up: connections, codec, threads
    costs: tuple[list[float], list[float]] = ([], [])
    for _ in range(samples):
        for slot, action in enumerate((ours, baseline)):
            start = time.process_time()
            for _ in range(inner):
                action()
            costs[slot].append(time.process_time() - start)
    return statistics.median(costs[0]) / statistics.median(costs[1])
