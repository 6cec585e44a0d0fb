"""Laws and messages of the funds guard: what it refuses, and the advice it gives."""

from __future__ import annotations

import unicodedata

import attrs
import pytest
from _billing_samples import usage
from hypothesis import example, given
from hypothesis import strategies as st

from billing_core import (
    BillingConfigError,
    BillingError,
    BillingUnknownError,
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
from billing_core.funds import WhenUnknown, ensure_billing_funds, is_billing_exhausted
from billing_core.presentation import billing_tone
from billing_core.resolution import build_status_billing
from billing_core.testing import Account
from billing_core.testing.strategies import (
    accounts,
    billing_usages,
    free_billings,
    invalid_pin_billings,
    organization_ids,
    paid_billings,
    status_billings,
    team_pick_needed_billings,
)


def raised(
    status: StatusBilling | None,
    usages: list[BillingUsage] | tuple[BillingUsage, ...] = (),
    *,
    when_unknown: WhenUnknown = "refuse",
) -> BillingError | None:
    try:
        ensure_billing_funds(status, usages=usages, when_unknown=when_unknown)
    except BillingError as error:
        return error
    return None


# --- laws -------------------------------------------------------------------------------

when_unknown_choices = st.sampled_from(["allow", "refuse"])


@given(
    st.one_of(st.none(), status_billings()),
    st.lists(billing_usages(), max_size=4),
    when_unknown_choices,
)
def test_the_guard_raises_iff_exhausted_invalid_pin_or_unknown_and_refused(
    status: StatusBilling | None, usages: list[BillingUsage], when_unknown: WhenUnknown
) -> None:
    error = raised(status, usages, when_unknown=when_unknown)
    if isinstance(status, InvalidPinBilling):
        assert isinstance(error, InvalidPinError)
        assert status.organization_id in str(error) or (status.organization_name or "") in str(
            error
        )
    elif is_billing_exhausted(status):
        assert isinstance(error, InsufficientCreditsError)
    elif status is None and when_unknown == "refuse":
        assert isinstance(error, BillingUnknownError)
    else:
        assert error is None
    if status is not None:  # what to do with unknown billing changes nothing else
        other: WhenUnknown = "allow" if when_unknown == "refuse" else "refuse"
        assert repr(raised(status, usages, when_unknown=other)) == repr(error)


@given(status_billings())
def test_exhaustion_is_no_credits_left_or_the_limit_exceeded(status: StatusBilling) -> None:
    # Wider than "remaining <= 0", deliberately: the server refuses a
    # payer whose limit is exceeded, and the danger tone says so (one rule).
    if isinstance(status, (FreeBilling, PaidBilling, TeamPickNeededBilling)):
        remaining = status.remaining
        expected = status.limit_exceeded or (remaining is not None and remaining <= 0)
        assert is_billing_exhausted(status) == expected
        assert expected == (billing_tone(status) == "danger")
    else:
        assert not is_billing_exhausted(status)


@given(accounts(), st.booleans())
def test_the_guard_agrees_with_the_resolved_status(account: Account, signed_in: bool) -> None:
    status = build_status_billing(
        active_provider="byterover",
        is_authenticated=signed_in,
        usages=account.usages,
        pinned_team_id=account.pinned_team_id,
        free_user_limit=account.free_user_limit,
    )
    error = raised(status, account.usages)
    assert (error is not None) == (
        status is None or isinstance(status, InvalidPinBilling) or is_billing_exhausted(status)
    )


def test_nothing_to_guard_passes() -> None:
    assert raised(None, when_unknown="allow") is None
    assert raised(OtherProviderBilling(active_provider="openai")) is None
    assert raised(FreeBilling()) is None
    assert raised(PaidBilling(organization_id="org-1")) is None
    assert raised(PaidBilling(organization_id="org-1", remaining=1, total=10_000)) is None


# --- unknown billing ------------------------------------------------------------------


def test_unknown_billing_is_refused_unless_allowed() -> None:
    # None is what a signed-out user or an outage resolves to: passing it used to
    # let the request through, billed to whoever the server would pick.
    expected = (
        "Who pays for the next request is unknown (not signed in, or billing could not be "
        "resolved). Sign in with `brv login`, or try again once billing answers."
    )
    by_default = raised(None)
    refused = raised(None, [usage("acme", "Acme", remaining=5, tier="PRO")], when_unknown="refuse")
    for error in (by_default, refused):
        assert isinstance(error, BillingUnknownError)
        assert not isinstance(error, InsufficientCreditsError | InvalidPinError)
        assert str(error) == expected
    assert raised(None, when_unknown="allow") is None


@pytest.mark.parametrize("bad", ["ALLOW", "", "deny", None, True, 0])
@pytest.mark.parametrize("status", [None, FreeBilling(remaining=5)], ids=["unknown", "free"])
def test_a_bad_when_unknown_is_a_config_error_whatever_the_status(
    bad: object, status: StatusBilling | None
) -> None:
    with pytest.raises(BillingConfigError, match="when_unknown must be 'allow' or 'refuse', not"):
        ensure_billing_funds(status, when_unknown=bad)  # type: ignore[call-overload]


# --- the laws of the messages ----------------------------------------------------------


@st.composite
def payer_and_usages(draw: st.DrawFn) -> tuple[PaidBilling, list[BillingUsage]]:
    """An exhausted paid status and the user's usages (the payer's among them or not),
    named plainly so the listing in the message can be read back."""
    usages = draw(st.lists(billing_usages(), max_size=6, unique_by=lambda u: u.organization_id))
    usages = [attrs.evolve(u, organization_name=f"Team {i}") for i, u in enumerate(usages)]
    ids = [u.organization_id for u in usages]
    payer_id = draw(st.one_of(organization_ids(), *([st.sampled_from(ids)] if ids else [])))
    exceeded = draw(st.booleans())
    payer = PaidBilling(
        organization_id=payer_id,
        organization_name="The Payer",
        remaining=draw(st.integers(max_value=0 if not exceeded else 10**6)),
        total=10_000,
        tier="PRO",
        limit_exceeded=exceeded,
    )
    return payer, usages


@given(payer_and_usages())
def test_an_exhausted_payer_lists_exactly_the_other_usable_paid_teams(
    case: tuple[PaidBilling, list[BillingUsage]],
) -> None:
    payer, usages = case
    error = raised(payer, usages)
    assert isinstance(error, InsufficientCreditsError)
    usable = [
        u
        for u in usages
        if u.tier != "FREE"
        and u.remaining > 0
        and not u.limit_exceeded
        and u.organization_id != payer.organization_id
    ]
    # Most remaining first; names (then ids) order the ties.
    usable.sort(key=lambda u: (-u.remaining, u.organization_name.casefold(), u.organization_id))
    message = str(error)
    if not usable:
        assert "Paid teams with credits" not in message
        assert message.endswith("Top up The Payer's credits to keep going.")
    else:
        listing = ", ".join(f"{u.organization_name} ({u.remaining:,} credits)" for u in usable)
        assert f"Paid teams with credits: {listing}. Pin one with" in message
    for u in usages:
        if u not in usable:
            assert f"{u.organization_name} (" not in message


@given(free_billings().filter(is_billing_exhausted), st.lists(billing_usages(), max_size=4))
def test_exhausted_free_credits_never_hint_at_a_team(
    status: FreeBilling, usages: list[BillingUsage]
) -> None:
    error = raised(status, usages)
    assert isinstance(error, InsufficientCreditsError)
    message = str(error).casefold()
    assert "upgrade" in message
    for hint in ("pin", "team", "--team"):
        assert hint not in message


@given(team_pick_needed_billings().filter(is_billing_exhausted))
def test_exhausted_free_credits_with_teams_to_pick_list_every_candidate(
    status: TeamPickNeededBilling,
) -> None:
    error = raised(status)
    assert isinstance(error, InsufficientCreditsError)
    message = str(error)
    assert "`billing-core pin TEAM`" in message
    listing = message[message.index("(") + 1 : message.rindex(") with")]
    for candidate in status.candidates:
        name = candidate.organization_name
        label = name if name and name.strip() else candidate.organization_id
        assert shown(label) in listing


@given(invalid_pin_billings(), st.lists(billing_usages(), max_size=4))
def test_an_invalid_pin_is_always_an_invalid_pin_error(
    status: InvalidPinBilling, usages: list[BillingUsage]
) -> None:
    error = raised(status, usages)
    assert isinstance(error, InvalidPinError)
    assert not isinstance(error, InsufficientCreditsError)
    assert "Pin a paid team with `billing-core pin TEAM`." in str(error)


# --- names are shown safely ------------------------------------------------------------------

_UNSHOWABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def shown(text: str) -> str:
    return "".join("\ufffd" if unicodedata.category(c) in _UNSHOWABLE else c for c in text)


any_names = st.one_of(st.none(), st.text(max_size=10))


@given(
    st.one_of(
        paid_billings().flatmap(
            lambda s: st.builds(attrs.evolve, st.just(s), organization_name=any_names)
        ),
        invalid_pin_billings().flatmap(
            lambda s: st.builds(attrs.evolve, st.just(s), organization_name=any_names)
        ),
        status_billings(),
    ),
    st.lists(
        billing_usages().flatmap(
            lambda u: st.builds(attrs.evolve, st.just(u), organization_name=st.text(max_size=10))
        ),
        max_size=4,
    ),
)
@example(
    PaidBilling(organization_id="o\n", organization_name="\x1b[2J\n", remaining=0),
    [usage("b", "Beta\u2028Billing: ok", remaining=5, tier="PRO")],
)
def test_refusals_are_one_safe_line(status: StatusBilling, usages: list[BillingUsage]) -> None:
    error = raised(status, usages)
    if error is not None:
        message = str(error)
        assert message == shown(message)
        assert len(message.splitlines()) == 1


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
        usage("acme", "Acme", remaining=0, tier="PRO"),
        usage("beta", "Beta", remaining=1_200, tier="PRO"),
        usage("home", "Home", remaining=9_000, tier="FREE"),
        usage("dry", "Dry", remaining=0, tier="TEAM"),
        usage("zeta", "Zeta", remaining=5_000, tier="ENTERPRISE"),
        usage("alfa", "alfa", remaining=1_200, tier="PRO"),
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
    usages = [
        usage("acme", "Acme", remaining=-5, tier="PRO"),
        usage("home", "Home", remaining=10, tier="FREE"),
    ]
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
    usages = [
        usage("home", "Home", remaining=10, tier="FREE"),
        usage("acme", "Acme", remaining=7, tier="PRO"),
    ]
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


# --- an exceeded limit ---------------------------------------------------------------------------


def test_free_credits_over_their_limit_are_refused() -> None:
    error = raised(FreeBilling(remaining=500, total=1_000, limit_exceeded=True))
    assert isinstance(error, InsufficientCreditsError)
    assert str(error) == (
        "Your personal free credits are over their usage limit. "
        "Upgrade to a paid plan to keep going."
    )


def test_a_paid_team_over_its_limit_is_refused_and_not_offered() -> None:
    usages = [
        usage("acme", "Acme", remaining=500, exceeded=True, tier="PRO"),
        usage("beta", "Beta", remaining=9_000, exceeded=True, tier="PRO"),
        usage("zeta", "Zeta", remaining=50, tier="PRO"),
    ]
    status = PaidBilling(
        organization_id="acme", organization_name="Acme", remaining=500, limit_exceeded=True
    )
    error = raised(status, usages)
    assert isinstance(error, InsufficientCreditsError)
    assert str(error) == (
        "Acme is over its credit limit. Paid teams with credits: Zeta (50 credits). "
        "Pin one with `billing-core pin TEAM`."
    )


def test_teams_to_pick_are_listed_with_their_exceeded_limits() -> None:
    status = TeamPickNeededBilling(
        candidates=[
            PaidBilling(organization_id="a", organization_name="Acme", remaining=2_500),
            PaidBilling(
                organization_id="b", organization_name="Beta", remaining=100, limit_exceeded=True
            ),
        ],
        remaining=300,
        total=1_000,
        limit_exceeded=True,
    )
    error = raised(status)
    assert isinstance(error, InsufficientCreditsError)
    assert str(error) == (
        "Your personal free credits are over their usage limit and no billing team is pinned. "
        "Pick one of your paid teams (Acme (2,500 credits), Beta (100 credits, limit exceeded)) "
        "with `billing-core pin TEAM`."
    )


def test_a_paid_team_with_no_credits_left_is_never_offered_even_if_not_over_its_limit() -> None:
    # Upstream may leave limitExceeded false at 0 left: "no credits" is its own rule.
    dry = usage("dry", "Dry", tier="PRO", remaining=0, exceeded=False)
    overdrawn = usage("minus", "Minus", tier="PRO", remaining=-3, exceeded=False)
    zeta = usage("zeta", "Zeta", tier="PRO", remaining=50)
    usages = [usage("acme", "Acme", remaining=0, tier="PRO"), dry, overdrawn, zeta]
    payer = PaidBilling(organization_id="acme", organization_name="Acme", remaining=0)
    assert str(raised(payer, usages)) == (
        "Acme has no credits left. Paid teams with credits: Zeta (50 credits). "
        "Pin one with `billing-core pin TEAM`."
    )
    pin = InvalidPinBilling(organization_id="gone", reason="not-a-member")
    assert str(raised(pin, [dry, overdrawn])) == (
        "The pinned team gone is not one of your teams. "
        "Pin a paid team with `billing-core pin TEAM`."
    )


def test_a_team_listed_twice_is_offered_once_and_never_with_conflicting_numbers() -> None:
    beta = usage("beta", "Beta", tier="PRO", remaining=1_200)
    zeta = usage("zeta", "Zeta", tier="PRO", remaining=50)
    payer = PaidBilling(organization_id="acme", organization_name="Acme", remaining=0)
    assert str(raised(payer, [beta, zeta, beta])) == (
        "Acme has no credits left. Paid teams with credits: Beta (1,200 credits), "
        "Zeta (50 credits). Pin one with `billing-core pin TEAM`."
    )
    # Which Beta figure is true? Neither is offered, whatever the order.
    other_beta = attrs.evolve(beta, remaining=9_000)
    for usages in ([beta, zeta, other_beta], [other_beta, zeta, beta]):
        assert str(raised(payer, usages)) == (
            "Acme has no credits left. Paid teams with credits: Zeta (50 credits). "
            "Pin one with `billing-core pin TEAM`."
        )


def test_a_paid_team_with_an_empty_id_is_never_offered() -> None:
    # Upstream may list one; it cannot be pinned, so advising it would be a dead end.
    ghost = usage("", "Ghost Org", tier="PRO", remaining=9_000)
    zeta = usage("zeta", "Zeta", tier="PRO", remaining=50)
    payer = PaidBilling(organization_id="acme", organization_name="Acme", remaining=0)
    assert str(raised(payer, [ghost, zeta])) == (
        "Acme has no credits left. Paid teams with credits: Zeta (50 credits). "
        "Pin one with `billing-core pin TEAM`."
    )
    pin = InvalidPinBilling(organization_id="gone", reason="not-a-member")
    assert "Ghost" not in str(raised(pin, [ghost]))
