"""``get_usages`` written once for the adapters: raw usages and tiers fetched at once, then joined.

Both flavours wait for both fetches. When both fail, an expired session
(:class:`~billing_core.BillingAuthError`) wins, as everywhere in the shell:
"sign in again" is what the user can act on; otherwise the usages' error wins
(the tiers' error is the one to report only when the usages came back).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeGuard

from billing_core._threads import start
from billing_core.errors import BillingAuthError
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
    except Exception as usages_error:
        tiers_error = _error_of(pending_tiers)  # waits: no request outlives the call
        if _is_auth(tiers_error) and not _is_auth(usages_error):
            raise tiers_error from None
        raise
    except BaseException:
        pending_tiers.abandon()
        raise
    return join_usages_with_tiers(fetched, pending_tiers())


async def ajoined_usages(
    raw_usages: Awaitable[Iterable[RawUsage]],
    tiers: Awaitable[Iterable[OrganizationTier]],
) -> tuple[BillingUsage, ...]:
    """Await ``raw_usages`` and ``tiers`` concurrently, then join."""
    fetched, fetched_tiers = await asyncio.gather(raw_usages, tiers, return_exceptions=True)
    if isinstance(fetched, BaseException):
        if _is_auth(fetched_tiers) and not _is_auth(fetched) and isinstance(fetched, Exception):
            raise fetched_tiers
        raise fetched
    if isinstance(fetched_tiers, BaseException):
        raise fetched_tiers
    return join_usages_with_tiers(fetched, fetched_tiers)


def _error_of(pending: Callable[[], object]) -> Exception | None:
    try:
        pending()
    except Exception as error:
        return error
    return None


def _is_auth(outcome: object) -> TypeGuard[BillingAuthError]:
    return isinstance(outcome, BillingAuthError)
