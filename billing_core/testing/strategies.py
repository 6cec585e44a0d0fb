"""Hypothesis strategies for every billing_core model and for whole accounts.

Needs the ``testing`` extra (``pip install 'billing-core[testing]'``).

>>> from hypothesis import given
>>> from billing_core.testing.strategies import accounts
>>> @given(accounts())
... def test_resolution_never_crashes(account): ...

The generated values lean on the edges that matter: unknown tiers
(``ENTERPRISE``, arbitrary upper-case strings and the empty string), zero and
negative remaining credits, the rounding boundaries of ``format_credits``,
stale, empty and free-tier pins, teams without usage, an organisation with an
empty id, names differing only by case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from hypothesis import strategies as st

from billing_core.models import (
    FREE_TIER,
    STATUS_BILLING_VARIANTS,
    BillingResolution,
    BillingUsage,
    FreeBilling,
    FreeUserLimit,
    FreeUserLimitWindow,
    InvalidPinBilling,
    OrganizationTier,
    OtherProviderBilling,
    PaidBilling,
    Problem,
    RawUsage,
    StatusBilling,
    Team,
    TeamPickNeededBilling,
)
from billing_core.testing.account import Account

__all__ = [
    "accounts",
    "billing_resolutions",
    "billing_usages",
    "credits",
    "free_billings",
    "free_user_limit_windows",
    "free_user_limits",
    "invalid_pin_billings",
    "organization_ids",
    "organization_names",
    "organization_tiers",
    "other_provider_billings",
    "paid_billings",
    "paid_tiers",
    "percents",
    "problems",
    "raw_usages",
    "status_billings",
    "team_pick_needed_billings",
    "teams",
    "tiers",
]

# Boundaries of format_credits, tone and exhaustion.
_EDGE_CREDITS: tuple[int, ...] = (
    0,
    1,
    9,
    10,
    100,
    999,
    1_000,
    1_049,
    1_050,
    1_250,
    12_400,
    12_450,
    999_499,
)
_EDGE_CREDITS += (999_500, 999_999, 1_000_000, 1_050_000, 2_500_000, 10**12)


def credits(*, min_value: int = -1_000) -> st.SearchStrategy[int]:
    """Credit amounts: edge numbers, small numbers and large ones (negatives included)."""
    return st.one_of(
        st.sampled_from([c for c in _EDGE_CREDITS if c >= min_value]),
        st.integers(min_value=max(min_value, -1_000), max_value=5_000),
        st.integers(min_value=max(min_value, 0), max_value=10**13),
    )


def percents() -> st.SearchStrategy[float]:
    """``percentUsed`` values: ints and finite floats in 0..100."""
    return st.one_of(
        st.integers(min_value=0, max_value=100),
        st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False),
    )


def organization_ids() -> st.SearchStrategy[str]:
    """Non-empty organisation (team) ids."""
    return st.one_of(
        st.uuids().map(str),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_", min_size=1, max_size=10),
    )


# Names a hostile or broken upstream may send: a forged second line, terminal
# escapes, a bidi override, a zero-width character, the line separator.
_UNSHOWABLE_NAMES: tuple[str, ...] = (
    "Evil\nBilling: Personal free credits",
    "\x1b[2J\x1b[31mRed",
    "Acme\u202eproC",
    "Zero\u200bwidth",
    "Line\u2028break",
    "\r",
)


def organization_names() -> st.SearchStrategy[str]:
    """Human names, including case-only differences, accents, the empty string and
    names with control or format characters (which views must not print as such)."""
    return st.one_of(
        st.sampled_from(["Acme Corp", "acme corp", "Beta", "beta", "Zeta Ltd", "Élan", ""]),
        st.sampled_from(_UNSHOWABLE_NAMES),
        st.text(max_size=20),
    )


def paid_tiers() -> st.SearchStrategy[str]:
    """Paid tiers, known and unknown (every tier but ``FREE`` is paid, ``""`` too)."""
    return st.one_of(
        st.sampled_from(["PRO", "TEAM", "ENTERPRISE", ""]),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=12).filter(
            lambda t: t != FREE_TIER
        ),
    )


def tiers() -> st.SearchStrategy[str]:
    """Any tier: ``FREE`` about half the time, else a paid one."""
    return st.one_of(st.just(FREE_TIER), paid_tiers())


def organization_tiers() -> st.SearchStrategy[OrganizationTier]:
    """Entries of ``/billing/organizations/tiers``."""
    return st.builds(
        OrganizationTier,
        organization_id=organization_ids(),
        tier=tiers(),
        is_trialing=st.booleans(),
    )


@st.composite
def _usage_numbers(draw: st.DrawFn) -> dict[str, Any]:
    limit = draw(credits(min_value=0))
    add_on_remaining = draw(st.one_of(st.just(0), credits(min_value=0)))
    total_limit = limit + add_on_remaining
    if draw(st.booleans()):  # consistent: remaining = total - used
        used = draw(st.integers(min_value=0, max_value=total_limit + 10))
        remaining = total_limit - used
    else:  # whatever upstream says: the library must not assume consistency
        used = draw(credits(min_value=0))
        remaining = draw(credits())
    return {
        "limit": limit,
        "add_on_remaining": add_on_remaining,
        "total_limit": total_limit,
        "used": used,
        "remaining": remaining,
        "percent_used": draw(percents()),
        # Drawn on its own: upstream may say "exceeded" with credits left, and
        # "not exceeded" with none left; the library must judge both.
        "limit_exceeded": draw(st.booleans()),
    }


@st.composite
def raw_usages(
    draw: st.DrawFn, *, organization_id: st.SearchStrategy[str] | None = None
) -> RawUsage:
    """Entries of ``/billing/usages`` (before the tier join)."""
    return RawUsage(
        organization_id=draw(organization_ids() if organization_id is None else organization_id),
        organization_name=draw(organization_names()),
        organization_status=draw(st.sampled_from(["active", "suspended", "ACTIVE", ""])),
        **draw(_usage_numbers()),
    )


@st.composite
def billing_usages(
    draw: st.DrawFn,
    *,
    organization_id: st.SearchStrategy[str] | None = None,
    tier: st.SearchStrategy[str] | None = None,
) -> BillingUsage:
    """Usages joined with a tier."""
    raw = draw(raw_usages(organization_id=organization_id))
    return raw.with_tier(draw(tiers() if tier is None else tier), is_trialing=draw(st.booleans()))


@st.composite
def free_user_limit_windows(draw: st.DrawFn) -> FreeUserLimitWindow:
    """One window of personal free credits."""
    numbers = draw(_usage_numbers())
    return FreeUserLimitWindow(
        limit=numbers["total_limit"],
        used=numbers["used"],
        remaining=numbers["remaining"],
        percent_used=numbers["percent_used"],
        limit_exceeded=numbers["limit_exceeded"],
    )


def free_user_limits() -> st.SearchStrategy[FreeUserLimit]:
    """The user's personal free credits (daily and monthly windows)."""
    return st.builds(
        FreeUserLimit,
        daily=free_user_limit_windows(),
        monthly=free_user_limit_windows(),
        limit_exceeded=st.booleans(),
    )


@st.composite
def teams(draw: st.DrawFn, *, team_id: st.SearchStrategy[str] | None = None) -> Team:
    """Teams as ``/teams`` lists them, slugs and display names included."""
    name = draw(organization_names())
    return Team(
        id=draw(organization_ids() if team_id is None else team_id),
        name=name,
        display_name=draw(st.one_of(st.just(name), organization_names())),
        slug=draw(
            st.one_of(
                st.just(name),
                st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=12),
            )
        ),
        avatar_url=draw(st.one_of(st.none(), st.just("https://example.com/a.png"))),
        is_default=draw(st.booleans()),
    )


# --- StatusBilling variants ---------------------------------------------------


def _optional_credits() -> st.SearchStrategy[int | None]:
    return st.one_of(st.none(), credits())


def other_provider_billings() -> st.SearchStrategy[OtherProviderBilling]:
    """``other-provider`` statuses, with and without a provider name."""
    return st.builds(
        OtherProviderBilling,
        active_provider=st.one_of(st.none(), st.sampled_from(["openai", "anthropic"])),
    )


def paid_billings() -> st.SearchStrategy[PaidBilling]:
    """``paid`` statuses, from sparse to complete, over their limit or not."""
    return st.builds(
        PaidBilling,
        organization_id=organization_ids(),
        organization_name=st.one_of(st.none(), organization_names()),
        remaining=_optional_credits(),
        total=_optional_credits(),
        tier=st.one_of(st.none(), paid_tiers()),
        limit_exceeded=st.booleans(),
    )


def free_billings() -> st.SearchStrategy[FreeBilling]:
    """``free`` statuses, with and without numbers, over their limit or not."""
    return st.builds(
        FreeBilling,
        remaining=_optional_credits(),
        total=_optional_credits(),
        limit_exceeded=st.booleans(),
    )


def team_pick_needed_billings() -> st.SearchStrategy[TeamPickNeededBilling]:
    """``needs-pick`` statuses with two or more distinct candidates."""
    return st.builds(
        TeamPickNeededBilling,
        candidates=st.lists(
            paid_billings(), min_size=2, max_size=5, unique_by=lambda c: c.organization_id
        ),
        remaining=_optional_credits(),
        total=_optional_credits(),
        limit_exceeded=st.booleans(),
    )


def invalid_pin_billings() -> st.SearchStrategy[InvalidPinBilling]:
    """``invalid-pin`` statuses for both reasons."""
    return st.builds(
        InvalidPinBilling,
        organization_id=organization_ids(),
        reason=st.sampled_from(["free-tier", "not-a-member"]),
        organization_name=st.one_of(st.none(), organization_names()),
    )


def status_billings() -> st.SearchStrategy[StatusBilling]:
    """Any ``StatusBilling`` variant."""
    return st.one_of(*(_VARIANT_STRATEGIES[variant]() for variant in STATUS_BILLING_VARIANTS))


# One strategy per variant: a variant added to StatusBilling without one fails
# at import, instead of going untested.
_VARIANT_STRATEGIES: Final[Mapping[type[StatusBilling], Callable[[], st.SearchStrategy[Any]]]] = {
    OtherProviderBilling: other_provider_billings,
    PaidBilling: paid_billings,
    FreeBilling: free_billings,
    TeamPickNeededBilling: team_pick_needed_billings,
    InvalidPinBilling: invalid_pin_billings,
}
if set(_VARIANT_STRATEGIES) != set(STATUS_BILLING_VARIANTS):
    raise ImportError(
        "billing_core.testing.strategies lacks a strategy for a StatusBilling variant"
    )


def problems() -> st.SearchStrategy[Problem]:
    """Problems reported by a resolve, one per failing part."""
    return st.builds(
        Problem,
        part=st.sampled_from(["usages", "tiers", "free-limit", "pins", "auth"]),
        message=st.text(max_size=30),
    )


def billing_resolutions() -> st.SearchStrategy[BillingResolution]:
    """What a resolve returns: a status or ``None``, and problems."""
    return st.builds(
        BillingResolution,
        status=st.one_of(st.none(), status_billings()),
        problems=st.lists(problems(), max_size=3),
    )


# --- whole accounts -------------------------------------------------------------


@st.composite
def accounts(draw: st.DrawFn, *, max_organizations: int = 6) -> Account:
    """Consistent accounts: each organisation is a team with a joined usage.

    Covers every resolution outcome: no paid team, one, several (needs-pick),
    pins to a paid team, to a FREE-tier team, to a team the user is not in
    (stale), the empty-string pin, teams without a usage entry, and no free
    credits data at all. Some hold one more usage, with an empty organisation
    id, on the FREE tier: upstream may send it, it belongs to no team, and it
    never changes who pays (a paid one would: resolution refuses to guess).
    """
    ids = draw(st.lists(organization_ids(), min_size=0, max_size=max_organizations, unique=True))
    usages: list[BillingUsage] = []
    team_list: list[Team] = []
    for org_id in ids:
        team = draw(teams(team_id=st.just(org_id)))
        team_list.append(team)
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            continue  # a team whose usage upstream does not report
        usage = draw(billing_usages(organization_id=st.just(org_id)))
        usages.append(usage)
    if draw(st.integers(min_value=0, max_value=7)) == 0:
        # FREE and not trialing: the account has no tier entry for it, as for any such org.
        anonymous = draw(raw_usages(organization_id=st.just(""))).with_tier()
        usages.insert(draw(st.integers(min_value=0, max_value=len(usages))), anonymous)
    stale_id = draw(organization_ids().filter(lambda i: i not in ids))
    pin = draw(
        st.one_of(
            st.none(),
            st.just(""),
            st.just(stale_id),
            st.sampled_from(ids) if ids else st.none(),
        )
    )
    return Account(
        teams=team_list,
        usages=usages,
        free_user_limit=draw(st.one_of(st.none(), free_user_limits())),
        pinned_team_id=pin,
    )
