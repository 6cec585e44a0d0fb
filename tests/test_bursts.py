"""Bursts: many resolves at once against one FakeBillingApi, and over one shared service."""

from __future__ import annotations

import asyncio
import time

import pytest

from billing_core import (
    AsyncHttpBillingService,
    BillingResolution,
    PinStore,
    aresolve_billing,
)
from billing_core.testing import FakeBillingApi, InMemoryPinStore
from billing_core.testing.sample import ACME_TEAM_ID, sample_account

pytestmark = pytest.mark.timeout(60)


async def _resolve(billing: AsyncHttpBillingService, pins: PinStore, key: str) -> BillingResolution:
    return await aresolve_billing(
        active_provider="byterover", session_key=key, billing=billing, pins=pins
    )


def test_100_resolves_at_once_against_the_fake_api_all_come_back_clean() -> None:
    # Each resolve over its own service: 300 connections arrive together. No
    # retry is allowed, so a connection the server dropped would be a problem.
    async def burst(api: FakeBillingApi) -> list[BillingResolution]:
        services = [AsyncHttpBillingService(api.base_url, max_retries=0) for _ in range(100)]
        try:
            return await asyncio.gather(
                *(_resolve(billing, InMemoryPinStore(), api.session_key) for billing in services)
            )
        finally:
            for billing in services:
                await billing.aclose()

    with FakeBillingApi(sample_account()) as api:
        start = time.monotonic()
        resolutions = asyncio.run(burst(api))
        elapsed = time.monotonic() - start
        assert api.request_count == 300
    assert [r.problems for r in resolutions] == [()] * 100
    assert {r.status.organization_id for r in resolutions if r.status} == {ACME_TEAM_ID}
    # A connection the kernel dropped stalls a second before the client retries it.
    assert elapsed < 5


def test_500_projects_resolve_at_once_over_one_async_service() -> None:
    # 1,500 requests at once through one service. Without the in-flight bound
    # they all wait in httpx's pool, whose bookkeeping grows with the crowd
    # (quadratically) until every request times out; bounded at the pool size,
    # they queue in the service and all succeed. The budget is generous: this
    # is about succeeding on a busy machine, not about speed (see bench/).
    async def burst(api: FakeBillingApi) -> list[BillingResolution]:
        async with AsyncHttpBillingService(api.base_url, timeout=30) as billing:
            return await asyncio.gather(
                *(_resolve(billing, InMemoryPinStore(), api.session_key) for _ in range(500))
            )

    with FakeBillingApi(sample_account(), latency=0.02) as api:
        resolutions = asyncio.run(burst(api))
        assert api.request_count == 1500
    assert [r.problems for r in resolutions] == [()] * 500
    assert all(r.status is not None for r in resolutions)
