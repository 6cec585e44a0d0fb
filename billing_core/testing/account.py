"""`Account`: one user's whole billing world, as the fake API serves it."""

from __future__ import annotations

from attrs import field, frozen

from billing_core.models import (
    BillingUsage,
    FreeUserLimit,
    OrganizationTier,
    RawUsage,
    Team,
)

__all__ = ["DEFAULT_SESSION_KEY", "Account"]

DEFAULT_SESSION_KEY = "test-session-key-0123456789"


@frozen(kw_only=True)
class Account:
    """A consistent account: teams, their joined usages, free credits and a pin.

    ``usages`` hold every organisation the user belongs to (free ones too), with
    their tier; ``pinned_team_id`` is what the project's pin file would say (it
    may be stale or name a free-tier team: the fake API does not care, it only
    serves the account).
    """

    teams: tuple[Team, ...] = field(default=(), converter=tuple[Team, ...])
    usages: tuple[BillingUsage, ...] = field(default=(), converter=tuple[BillingUsage, ...])
    free_user_limit: FreeUserLimit | None = None
    pinned_team_id: str | None = None

    def raw_usages(self) -> tuple[RawUsage, ...]:
        """The usages as ``/billing/usages`` returns them, before the tier join."""
        return tuple(u.without_tier() for u in self.usages)

    def tiers(self) -> tuple[OrganizationTier, ...]:
        """The tier entries ``/billing/organizations/tiers`` returns.

        FREE organisations that are not trialing get no entry, which the join
        must read as FREE: this keeps that rule exercised.
        """
        return tuple(
            OrganizationTier(
                organization_id=u.organization_id, tier=u.tier, is_trialing=u.is_trialing
            )
            for u in self.usages
            if u.is_paid or u.is_trialing
        )
