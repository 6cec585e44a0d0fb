"""Bursts: many resolves at once, against the fake upstream and over one shared service.

- ``burst_100_fake_api_unclean`` / ``burst_100_fake_api_s``: 100
  ``aresolve_billing`` at once, each over its own ``AsyncHttpBillingService``
  (so 300 connections arrive together), against one in-process
  :class:`~billing_core.testing.FakeBillingApi`: how many did not come back
  with a status and no problem (goal: none), and the seconds the burst took.
- ``burst_500_projects_unclean`` / ``burst_500_projects_s``: 500 projects
  (each its own pin file) resolved at once over one ``AsyncHttpBillingService``,
  the upstream in its own process answering after 50 ms.
- ``burst_500_projects_vs_bare_bounded``: the wall time of that burst over
  that of the same 1,500 GETs made by a bare ``httpx.AsyncClient`` with the
  same bound on requests in flight (each body through ``json.loads``). Both
  pools have httpx's default size, the service's bound.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx
from _common import upstream_process

from billing_core import (
    AsyncHttpBillingService,
    BillingResolution,
    FilePinStore,
    PinStore,
    aresolve_billing,
)
from billing_core._endpoints import BILLING_PATHS
from billing_core._session import SESSION_HEADER
from billing_core.adapters.http import DEFAULT_MAX_IN_FLIGHT
from billing_core.testing import DEFAULT_SESSION_KEY, FakeBillingApi
from billing_core.testing.sample import sample_account

PROVIDER = "byterover"
KEY = DEFAULT_SESSION_KEY
PROJECTS = 500
LATENCY_S = 0.05


def _clean(resolution: BillingResolution | BaseException) -> bool:
    return isinstance(resolution, BillingResolution) and (
        resolution.status is not None and not resolution.problems
    )


async def _resolve(billing: AsyncHttpBillingService, pins: PinStore) -> BillingResolution:
    return await aresolve_billing(
        active_provider=PROVIDER, session_key=KEY, billing=billing, pins=pins
    )


async def _burst_of_100(base_url: str, pins: PinStore) -> tuple[int, float]:
    services = [AsyncHttpBillingService(base_url) for _ in range(100)]
    start = time.perf_counter()
    results = await asyncio.gather(
        *(_resolve(billing, pins) for billing in services), return_exceptions=True
    )
    elapsed = time.perf_counter() - start
    for billing in services:
        await billing.aclose()
    return sum(map(_clean, results)), elapsed


async def _projects_at_once(base_url: str, stores: list[FilePinStore]) -> tuple[int, float]:
    async with AsyncHttpBillingService(base_url) as billing:
        start = time.perf_counter()
        results = await asyncio.gather(
            *(_resolve(billing, pins) for pins in stores), return_exceptions=True
        )
        return sum(map(_clean, results)), time.perf_counter() - start


async def _bare_bounded(base_url: str, *, requests: int) -> float:
    urls = [base_url + path for path in BILLING_PATHS.values()]
    bound = asyncio.Semaphore(DEFAULT_MAX_IN_FLIGHT)
    async with httpx.AsyncClient(headers={SESSION_HEADER: KEY}) as client:

        async def one(url: str) -> object:
            async with bound:
                return json.loads((await client.get(url)).raise_for_status().content)

        start = time.perf_counter()
        await asyncio.gather(*(one(urls[i % len(urls)]) for i in range(requests)))
        return time.perf_counter() - start


def measure() -> dict[str, float]:
    """Clean resolves and seconds of each burst, and the shared service over bare httpx."""
    with tempfile.TemporaryDirectory() as root:
        stores = [FilePinStore(Path(root) / f"project-{i}" / ".brv") for i in range(PROJECTS)]
        with FakeBillingApi(sample_account()) as api:
            clean_100, seconds_100 = asyncio.run(_burst_of_100(api.base_url, stores[0]))
        with upstream_process(latency=LATENCY_S) as base_url:
            asyncio.run(_bare_bounded(base_url, requests=30))  # warm up the upstream
            bare_s = asyncio.run(_bare_bounded(base_url, requests=3 * PROJECTS))
            clean_500, seconds_500 = asyncio.run(_projects_at_once(base_url, stores))
    return {
        "burst_100_fake_api_unclean": float(100 - clean_100),
        "burst_100_fake_api_s": seconds_100,
        "burst_500_projects_unclean": float(PROJECTS - clean_500),
        "burst_500_projects_s": seconds_500,
        "burst_500_projects_vs_bare_bounded": seconds_500 / bare_s,
    }


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value:.2f}")
