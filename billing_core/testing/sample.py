"""The demo's sample account: one paid team, one free team, personal free credits.

``billing-core demo`` serves it from :class:`~billing_core.testing.FakeBillingApi`;
examples and tests use it when they want a small, realistic account without
hypothesis.

>>> from billing_core import build_status_billing, format_billing_line
>>> account = sample_account()
>>> format_billing_line(build_status_billing(
...     active_provider="byterover", is_authenticated=True, usages=account.usages,
...     free_user_limit=account.free_user_limit))
'Billing: Acme Corp (12,400 credits, PRO)'
"""

from __future__ import annotations

from typing import Final

from billing_core.models import (
    FREE_TIER,
    BillingUsage,
    FreeUserLimit,
    FreeUserLimitWindow,
    Team,
)
from billing_core.testing.account import Account

__all__ = ["ACME_TEAM_ID", "SIDE_PROJECT_TEAM_ID", "sample_account"]

ACME_TEAM_ID: Final = "org-acme-7f3a"
"""The paid team of the sample account: "Acme Corp", slug ``acme``, PRO tier."""

SIDE_PROJECT_TEAM_ID: Final = "org-side-2b81"
"""The free team of the sample account: "Side Project", slug ``side-project``, FREE tier."""

_ACME_TOTAL: Final = 20_000


def _window(*, limit: int, used: int) -> FreeUserLimitWindow:
    remaining = max(limit - used, 0)
    return FreeUserLimitWindow(
        limit=limit,
        used=used,
        remaining=remaining,
        percent_used=round(100 * used / limit, 1) if limit else 0,
        limit_exceeded=remaining <= 0,
    )


def sample_account(*, acme_remaining: int = 12_400, pinned_team_id: str | None = None) -> Account:
    """A small account: "Acme Corp" (PRO, ``acme_remaining`` of 20,000 credits),
    "Side Project" (FREE) and 950 of 1,000 personal free credits this month.

    Pass ``acme_remaining=0`` for the same account once Acme's credits are used up.

    >>> [(u.organization_name, u.tier, u.remaining) for u in sample_account().usages]
    [('Acme Corp', 'PRO', 12400), ('Side Project', 'FREE', 500)]
    """
    used = _ACME_TOTAL - acme_remaining
    acme = BillingUsage(
        organization_id=ACME_TEAM_ID,
        organization_name="Acme Corp",
        organization_status="active",
        limit=_ACME_TOTAL,
        add_on_remaining=0,
        total_limit=_ACME_TOTAL,
        used=used,
        remaining=acme_remaining,
        percent_used=round(100 * used / _ACME_TOTAL, 1),
        limit_exceeded=acme_remaining <= 0,
        tier="PRO",
    )
    side_project = BillingUsage(
        organization_id=SIDE_PROJECT_TEAM_ID,
        organization_name="Side Project",
        organization_status="active",
        limit=500,
        add_on_remaining=0,
        total_limit=500,
        used=0,
        remaining=500,
        percent_used=0,
        limit_exceeded=False,
        tier=FREE_TIER,
    )
    return Account(
        teams=(
            Team(
                id=ACME_TEAM_ID,
                name="acme",
                display_name="Acme Corp",
                slug="acme",
                is_default=True,
            ),
            Team(
                id=SIDE_PROJECT_TEAM_ID,
                name="side-project",
                display_name="Side Project",
                slug="side-project",
            ),
        ),
        usages=(acme, side_project),
        free_user_limit=FreeUserLimit(
            daily=_window(limit=100, used=5),
            monthly=_window(limit=1_000, used=50),
            limit_exceeded=False,
        ),
        pinned_team_id=pinned_team_id,
    )
