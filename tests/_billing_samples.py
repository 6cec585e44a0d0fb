"""Small hand-made builders and accounts shared by the tests.

Example tests name only what they are about (``usage("acme", tier="PRO",
remaining=0)``); everything else takes a plain default.
"""

from __future__ import annotations

from billing_core import BillingUsage, FreeUserLimit, FreeUserLimitWindow, Team
from billing_core.testing import Account


def usage(
    org_id: str,
    name: str | None = None,
    *,
    tier: str = "FREE",
    remaining: int = 500,
    limit: int = 1_000,
    exceeded: bool | None = None,
    trialing: bool = False,
) -> BillingUsage:
    """A usage of ``limit`` credits with ``remaining`` left.

    ``name`` defaults to the id title-cased. The limit is exceeded when
    ``exceeded`` says so; by default exactly when nothing is left.
    """
    return BillingUsage(
        organization_id=org_id,
        organization_name=org_id.title() if name is None else name,
        organization_status="active",
        limit=limit,
        add_on_remaining=0,
        total_limit=limit,
        used=limit - remaining,
        remaining=remaining,
        percent_used=(limit - remaining) * 100 / limit if limit else 0.0,
        limit_exceeded=remaining <= 0 if exceeded is None else exceeded,
        tier=tier,
        is_trialing=trialing,
    )


def window(
    remaining: int, limit: int = 1_000, *, exceeded: bool | None = None
) -> FreeUserLimitWindow:
    """A window of personal free credits; exceeded as :func:`usage` decides it."""
    return FreeUserLimitWindow(
        limit=limit,
        used=limit - remaining,
        remaining=remaining,
        percent_used=(limit - remaining) * 100 / limit if limit else 0.0,
        limit_exceeded=remaining <= 0 if exceeded is None else exceeded,
    )


def team(team_id: str, *, name: str = "", display: str = "", slug: str = "") -> Team:
    """A team whose name and slug default to its id, and display name to its name title-cased."""
    name = name or team_id
    return Team(id=team_id, name=name, display_name=display or name.title(), slug=slug or name)


def three_team_account() -> Account:
    """A paid team, a trialing team, a free team, and a free-credit allowance.

    Not :func:`billing_core.testing.sample_account`, the demo's two-team
    account: this one adds a trialing team.
    """
    monthly = window(950)
    return Account(
        teams=[
            team("org-acme", name="acme", slug="acme-corp"),
            team("org-trial", name="trial"),
            team("org-free", name="free"),
        ],
        usages=[
            usage("org-acme", "Acme Corp", tier="PRO", remaining=12_400),
            usage("org-trial", "Trial Inc", tier="TEAM", trialing=True),
            usage("org-free", "Free Co"),
        ],
        free_user_limit=FreeUserLimit(daily=monthly, monthly=monthly, limit_exceeded=False),
    )
