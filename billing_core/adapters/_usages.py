"""``get_usages`` written once for the adapters: raw usages and tiers fetched at once, then joined.

Both flavours wait for both fetches, and the usages' error wins when both fail
(the tiers' error is the one to report only when the usages came back).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from billing_core._threads import start
from billing_core.models import BillingUsage, OrganizationTier, RawUsage
from billing_core.resolution import join_usages_with_tiers

__all__ = ["ajoined_usages", "joined_usages"]


def joined_usages(
    raw_usages: Callable[[], Iterable[RawUsage]],
    tiers: Callable[[], Iterable[OrganizationTier]],
) -> tuple[BillingUsage, ...]:
    """Call ``raw_usages`` in this thread and ``tiers`` in the shared pool, then join."""
    pending_tiers = start(tiers)
    try:
        fetched = raw_usages()
    except BaseException:
        pending_tiers.abandon()  # no request outlives the call (the caller may close next)
        raise
    return join_usages_with_tiers(fetched, pending_tiers())


async def ajoined_usages(
    raw_usages: Awaitable[Iterable[RawUsage]],
    tiers: Awaitable[Iterable[OrganizationTier]],
) -> tuple[BillingUsage, ...]:
    """Await ``raw_usages`` and ``tiers`` concurrently, then join."""
    fetched, fetched_tiers = await asyncio.gather(raw_usages, tiers, return_exceptions=True)
    if isinstance(fetched, BaseException):
        raise fetched
    if isinstance(fetched_tiers, BaseException):
        raise fetched_tiers
    return join_usages_with_tiers(fetched, fetched_tiers)
