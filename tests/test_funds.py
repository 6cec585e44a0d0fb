"""Laws and messages of the funds guard (spec §6)."""

from __future__ import annotations

import doctest

from hypothesis import given
from hypothesis import strategies as st

import billing_core.funds
from billing_core import (
    BillingError,
    BillingUsage,
    FreeBilling,
    InsufficientCreditsError,
    InvalidPinBilling,
    InvalidPinError,
    OtherProviderBilling,
    PaidBilling,
    StatusBilling,
    TeamPickNeededBilling,
)
from billing_core.funds import ensure_billing_funds, is_billing_exhausted
from billing_core.presentation import billing_tone
from billing_core.resolution import build_status_billing
from billing_core.testing import Account
from billing_core.testing.strategies import accounts, billing_usages, status_billings


def usage(org_id: str, name: str, *, remaining: int, tier: str = "PRO") -> BillingUsage:
    return BillingUsage(
        organization_id=org_id,
        organization_name=name,
        organization_status="active",
        limit=10_000,
        add_on_remaining=0,
        total_limit=10_000,
        used=10_000 - remaining,
        remaining=remaining,
        percent_used=0.0,
        limit_exceeded=remaining <= 0,
        tier=tier,
    )


def raised(
    status: StatusBilling | None, usages: list[BillingUsage] | tuple[BillingUsage, ...] = ()
) -> BillingError | None:
    try:
        ensure_billing_funds(status, usages=usages)
    except BillingError as error:
        return error
    return None


def test_docstring_examples() -> None:
    assert doctest.testmod(billing_core.funds).failed == 0


# --- laws -------------------------------------------------------------------------------


@given(status_billings(), st.lists(billing_usages(), max_size=4))
def test_the_guard_raises_iff_exhausted_or_invalid_pin(
    status: StatusBilling, usages: list[BillingUsage]
) -> None:
    error = raised(status, usages)
    if isinstance(status, InvalidPinBilling):
        assert isinstance(error, InvalidPinError)
        assert status.organization_id in str(error) or (status.organization_name or "") in str(
            error
        )
    elif is_billing_exhausted(status):
        assert isinstance(error, InsufficientCreditsError)
    else:
        assert error is None


@given(status_billings())
def test_exhaustion_is_remaining_at_most_zero(status: StatusBilling) -> None:
    remaining = getattr(status, "remaining", None)
    expected = (
        not isinstance(status, (OtherProviderBilling, InvalidPinBilling))
        and remaining is not None
        and remaining <= 0
    )
    assert is_billing_exhausted(status) == expected
    if (
        isinstance(status, (FreeBilling, PaidBilling, TeamPickNeededBilling))
        and remaining is not None
    ):
        assert expected == (billing_tone(status) == "danger")


@given(accounts())
def test_the_guard_agrees_with_the_resolved_status(account: Account) -> None:
    status = build_status_billing(
        active_provider="byterover",
        is_authenticated=True,
        usages=account.usages,
        pinned_team_id=account.pinned_team_id,
        free_user_limit=account.free_user_limit,
    )
    error = raised(status, account.usages)
    assert (error is not None) == (
        isinstance(status, InvalidPinBilling) or is_billing_exhausted(status)
    )


def test_nothing_to_guard_passes() -> None:
    assert raised(None) is None
    assert raised(OtherProviderBilling(active_provider="openai")) is None
    assert raised(FreeBilling()) is None
    assert raised(PaidBilling(organization_id="org-1")) is None
    assert raised(PaidBilling(organization_id="org-1", remaining=1, total=10_000)) is None


# --- messages ------------------------------------------------------------------------------


def test_exhausted_free_credits_say_upgrade_without_a_team_hint() -> None:
    error = raised(FreeBilling(remaining=0, total=1_000))
    assert isinstance(error, InsufficientCreditsError)
    assert str(error) == (
        "Your personal free credits are used up (0 of 1,000 left this month). "
        "Upgrade to a paid plan to keep going."
    )
    assert "pin" not in str(error)
    assert "--team" not in str(error)


def test_exhausted_paid_team_lists_the_other_paid_teams_with_credits_most_first() -> None:
    usages = [
        usage("acme", "Acme", remaining=0),
        usage("beta", "Beta", remaining=1_200),
        usage("home", "Home", remaining=9_000, tier="FREE"),
        usage("dry", "Dry", remaining=0, tier="TEAM"),
        usage("zeta", "Zeta", remaining=5_000, tier="ENTERPRISE"),
        usage("alfa", "alfa", remaining=1_200),
    ]
    status = PaidBilling(
        organization_id="acme", organization_name="Acme", remaining=0, total=10_000
    )
    error = raised(status, usages)
    assert isinstance(error, InsufficientCreditsError)
    assert str(error) == (
        "Acme has no credits left. Paid teams with credits: Zeta (5,000 credits), "
        "alfa (1,200 credits), Beta (1,200 credits). Pin one with `billing-core pin TEAM`."
    )


def test_exhausted_paid_team_without_alternatives_says_top_up() -> None:
    usages = [usage("acme", "Acme", remaining=-5), usage("home", "Home", remaining=10, tier="FREE")]
    status = PaidBilling(organization_id="acme", organization_name="Acme", remaining=-5)
    error = raised(status, usages)
    assert isinstance(error, InsufficientCreditsError)
    assert str(error) == "Acme has no credits left. Top up Acme's credits to keep going."


def test_exhausted_free_credits_with_teams_to_pick_list_them() -> None:
    status = TeamPickNeededBilling(
        candidates=[
            PaidBilling(organization_id="b", organization_name="Beta", remaining=100),
            PaidBilling(organization_id="a", organization_name="Acme", remaining=2_500),
            PaidBilling(organization_id="c"),
        ],
        remaining=0,
        total=1_000,
    )
    error = raised(status)
    assert isinstance(error, InsufficientCreditsError)
    assert str(error) == (
        "Your personal free credits are used up and no billing team is pinned. "
        "Pick one of your paid teams (Acme (2,500 credits), Beta (100 credits), c) "
        "with `billing-core pin TEAM`."
    )


def test_invalid_pin_tells_to_pick_a_paid_team() -> None:
    status = InvalidPinBilling(organization_id="home", reason="free-tier", organization_name="Home")
    usages = [usage("home", "Home", remaining=10, tier="FREE"), usage("acme", "Acme", remaining=7)]
    error = raised(status, usages)
    assert isinstance(error, InvalidPinError)
    assert str(error) == (
        "The pinned team Home (home) is on the FREE tier and cannot be billed. "
        "Paid teams with credits: Acme (7 credits). Pin a paid team with `billing-core pin TEAM`."
    )


def test_invalid_pin_without_usages() -> None:
    error = raised(InvalidPinBilling(organization_id="gone", reason="not-a-member"))
    assert isinstance(error, InvalidPinError)
    assert str(error) == (
        "The pinned team gone is not one of your teams. "
        "Pin a paid team with `billing-core pin TEAM`."
    )
