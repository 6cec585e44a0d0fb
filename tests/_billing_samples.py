"""Small hand-made accounts for the HTTP adapter and fake API tests."""

from __future__ import annotations

from billing_core import BillingUsage, FreeUserLimit, FreeUserLimitWindow, Team
from billing_core.testing import Account


def usage(
    org_id: str, name: str, *, tier: str = "FREE", remaining: int = 500, trialing: bool = False
) -> BillingUsage:
    """A usage of 1,000 credits with ``remaining`` left."""
    return BillingUsage(
        organization_id=org_id,
        organization_name=name,
        organization_status="active",
        limit=1_000,
        add_on_remaining=0,
        total_limit=1_000,
        used=1_000 - remaining,
        remaining=remaining,
        percent_used=(1_000 - remaining) / 10,
        limit_exceeded=remaining <= 0,
        tier=tier,
        is_trialing=trialing,
    )


def team(team_id: str, *, name: str = "", slug: str = "") -> Team:
    """A team whose name, display name and slug default to its id."""
    name = name or team_id
    return Team(id=team_id, name=name, display_name=name.title(), slug=slug or name)


def sample_account() -> Account:
    """A paid team, a trialing team, a free team, and a free-credit allowance."""
    window = FreeUserLimitWindow(
        limit=1_000, used=50, remaining=950, percent_used=5.0, limit_exceeded=False
    )
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
        free_user_limit=FreeUserLimit(daily=window, monthly=window, limit_exceeded=False),
    )
