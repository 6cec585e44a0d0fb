"""Laws and examples of the pure resolution: who pays, decided from plain data."""

from __future__ import annotations

from random import Random

import attrs
import pytest
from _billing_samples import team, usage, window
from hypothesis import assume, given
from hypothesis import strategies as st

from billing_core import (
    BillingPayloadError,
    BillingUsage,
    FreeBilling,
    FreeUserLimit,
    InvalidPinBilling,
    OrganizationTier,
    OtherProviderBilling,
    PaidBilling,
    RawUsage,
    Team,
    TeamPickNeededBilling,
)
from billing_core.resolution import (
    TeamChoice,
    build_status_billing,
    build_status_without_tiers,
    compute_team_preselection,
    has_paid_team,
    join_usages_with_tiers,
    paid_organization_ids,
    resolve_billing_team_id,
    team_choices,
)
from billing_core.testing import Account
from billing_core.testing.strategies import (
    accounts,
    billing_usages,
    free_user_limits,
    organization_ids,
    paid_tiers,
    raw_usages,
)
from billing_core.testing.strategies import tiers as tiers_strategy

FREE_LIMIT = FreeUserLimit(daily=window(40, 50), monthly=window(950, 1_000), limit_exceeded=False)


@st.composite
def accounts_with_paid(draw: st.DrawFn, count: int) -> Account:
    """An account whose usages hold exactly ``count`` paid organisations."""
    account = draw(accounts())
    usages = [attrs.evolve(u, tier="FREE") for u in account.usages]
    taken = {u.organization_id for u in usages} | {account.pinned_team_id}
    paid = draw(
        st.lists(
            billing_usages(tier=paid_tiers()),
            min_size=count,
            max_size=count,
            unique_by=lambda u: u.organization_id,
        ).filter(lambda us: not any(u.organization_id in taken for u in us))
    )
    for extra in paid:
        usages.insert(draw(st.integers(min_value=0, max_value=len(usages))), extra)
    return attrs.evolve(account, usages=usages)


@st.composite
def pinned_accounts(draw: st.DrawFn) -> Account:
    """An account pinned (non-empty) to one of its organisations or to a stranger."""
    account = draw(accounts())
    ids = [u.organization_id for u in account.usages if u.organization_id]  # "" is no pin
    pin = draw(st.one_of(organization_ids(), *([st.sampled_from(ids)] if ids else [])))
    return attrs.evolve(account, pinned_team_id=pin)


def free_limit_exceeded(limit: FreeUserLimit | None) -> bool:
    """Free credits are over their limit when upstream's flag or the monthly one says so."""
    return limit is not None and (limit.limit_exceeded or limit.monthly.limit_exceeded)


def status_of(account: Account, **overrides: object) -> object:
    arguments: dict[str, object] = {
        "active_provider": "byterover",
        "is_authenticated": True,
        "usages": account.usages,
        "pinned_team_id": account.pinned_team_id,
        "free_user_limit": account.free_user_limit,
    }
    arguments.update(overrides)
    return build_status_billing(**arguments)  # type: ignore[arg-type]


def paid_ids(account: Account) -> set[str]:
    return {u.organization_id for u in account.usages if u.is_paid}


# --- build_status_billing: laws ------------------------------------------------


@given(accounts(), st.one_of(st.none(), st.sampled_from(["byterover", "openai", ""])))
def test_not_signed_in_is_none_whatever_else(account: Account, provider: str | None) -> None:
    assert status_of(account, is_authenticated=False, active_provider=provider) is None


@given(accounts(), st.one_of(st.none(), st.just(""), st.text(min_size=1)))
def test_another_provider_is_other_provider_whatever_else(
    account: Account, provider: str | None
) -> None:
    assume(provider != "byterover")
    assert status_of(account, active_provider=provider) == OtherProviderBilling(
        active_provider=provider or None
    )


@given(pinned_accounts())
def test_a_non_empty_pin_decides_the_organisation(account: Account) -> None:
    pin = account.pinned_team_id
    assert pin
    status = status_of(account)
    by_id = {u.organization_id: u for u in account.usages}
    pinned = by_id.get(pin)
    if pinned is None:
        assert status == InvalidPinBilling(organization_id=pin, reason="not-a-member")
    elif pinned.is_paid:
        assert isinstance(status, PaidBilling)
        assert status.organization_id == pin
        assert (status.remaining, status.total, status.tier, status.limit_exceeded) == (
            pinned.remaining,
            pinned.total_limit,
            pinned.tier,
            pinned.limit_exceeded,
        )
    else:
        assert isinstance(status, InvalidPinBilling)
        assert (status.organization_id, status.reason) == (pin, "free-tier")


@given(accounts(), st.randoms(use_true_random=False))
def test_the_order_of_usages_does_not_matter(account: Account, random: Random) -> None:
    shuffled = list(account.usages)
    random.shuffle(shuffled)
    assert status_of(account, usages=shuffled) == status_of(account)
    assert status_of(account, usages=list(reversed(account.usages))) == status_of(account)


@given(accounts(), st.lists(billing_usages(tier=st.just("FREE")), max_size=4))
def test_adding_unpinned_free_tier_orgs_changes_nothing(
    account: Account, extra: list[BillingUsage]
) -> None:
    taken = {u.organization_id for u in account.usages} | {account.pinned_team_id}
    extra = [u for u in extra if u.organization_id not in taken]
    assert status_of(account, usages=[*extra, *account.usages]) == status_of(account)


@given(accounts_with_paid(1))
def test_exactly_one_paid_org_and_no_pin_bills_it(account: Account) -> None:
    paid = [u for u in account.usages if u.is_paid]
    assert len(paid) == 1
    only = paid[0]
    for pin in (None, ""):
        assert status_of(account, pinned_team_id=pin) == PaidBilling(
            organization_id=only.organization_id,
            organization_name=only.organization_name or None,
            remaining=only.remaining,
            total=only.total_limit,
            tier=only.tier,
            limit_exceeded=only.limit_exceeded,
        )


@given(st.integers(min_value=2, max_value=5).flatmap(accounts_with_paid))
def test_two_or_more_paid_and_no_pin_needs_a_pick_with_every_paid_org(account: Account) -> None:
    assert len(paid_ids(account)) >= 2
    status = status_of(account, pinned_team_id=None)
    assert isinstance(status, TeamPickNeededBilling)
    assert {c.organization_id for c in status.candidates} == paid_ids(account)
    keys = [((c.organization_name or "").casefold(), c.organization_id) for c in status.candidates]
    assert keys == sorted(keys)
    by_id = {u.organization_id: u for u in account.usages}
    for candidate in status.candidates:
        assert candidate.limit_exceeded == by_id[candidate.organization_id].limit_exceeded
    monthly = account.free_user_limit.monthly if account.free_user_limit else None
    assert status.remaining == (monthly.remaining if monthly else None)
    assert status.total == (monthly.limit if monthly else None)
    assert status.limit_exceeded == free_limit_exceeded(account.free_user_limit)


@given(accounts_with_paid(0))
def test_no_paid_org_and_no_pin_is_free_with_the_monthly_window(account: Account) -> None:
    assert not paid_ids(account)
    monthly = account.free_user_limit.monthly if account.free_user_limit else None
    assert status_of(account, pinned_team_id="") == FreeBilling(
        remaining=monthly.remaining if monthly else None,
        total=monthly.limit if monthly else None,
        limit_exceeded=free_limit_exceeded(account.free_user_limit),
    )


@given(accounts())
def test_the_status_names_the_team_resolve_billing_team_id_predicts(account: Account) -> None:
    status = status_of(account)
    predicted = resolve_billing_team_id(
        paid_organization_ids=paid_organization_ids(account.usages),
        pinned_team_id=account.pinned_team_id,
    )
    if predicted is None:
        assert isinstance(status, (FreeBilling, TeamPickNeededBilling))
    else:
        assert isinstance(status, (PaidBilling, InvalidPinBilling))
        assert status.organization_id == predicted


# --- build_status_billing: examples ----------------------------------------------


def test_three_orgs_pinned_to_a_paid_one() -> None:
    usages = [usage("acme", tier="PRO"), usage("beta", tier="ENTERPRISE"), usage("home")]
    status = build_status_billing(
        active_provider="byterover",
        is_authenticated=True,
        usages=usages,
        pinned_team_id="beta",
        free_user_limit=FREE_LIMIT,
    )
    assert status == PaidBilling(
        organization_id="beta",
        organization_name="Beta",
        remaining=500,
        total=1_000,
        tier="ENTERPRISE",
    )


def test_a_pin_to_a_free_tier_team_is_invalid_and_named() -> None:
    status = build_status_billing(
        active_provider="byterover",
        is_authenticated=True,
        usages=[usage("acme", tier="PRO"), usage("home", "Home")],
        pinned_team_id="home",
    )
    assert status == InvalidPinBilling(
        organization_id="home", reason="free-tier", organization_name="Home"
    )


def test_needs_pick_lists_candidates_with_their_numbers_and_the_free_window() -> None:
    status = build_status_billing(
        active_provider="byterover",
        is_authenticated=True,
        usages=[
            usage("zeta", "zeta", tier="TEAM"),
            usage("acme", "Acme", tier="PRO", remaining=7),
        ],
        free_user_limit=FREE_LIMIT,
    )
    assert status == TeamPickNeededBilling(
        candidates=[
            PaidBilling(
                organization_id="acme",
                organization_name="Acme",
                remaining=7,
                total=1_000,
                tier="PRO",
            ),
            PaidBilling(
                organization_id="zeta",
                organization_name="zeta",
                remaining=500,
                total=1_000,
                tier="TEAM",
            ),
        ],
        remaining=950,
        total=1_000,
    )


def test_an_empty_provider_name_is_absent() -> None:
    assert build_status_billing(active_provider="", is_authenticated=True) == OtherProviderBilling()


def test_an_empty_organisation_name_is_no_name() -> None:
    status = build_status_billing(
        active_provider="byterover", is_authenticated=True, usages=[usage("acme", "", tier="PRO")]
    )
    assert isinstance(status, PaidBilling)
    assert status.organization_name is None


def test_identical_duplicate_usages_count_once() -> None:
    twice = [usage("acme", tier="PRO"), usage("acme", tier="PRO"), usage("home")]
    assert build_status_billing(
        active_provider="byterover", is_authenticated=True, usages=twice
    ) == build_status_billing(active_provider="byterover", is_authenticated=True, usages=twice[1:])


@pytest.mark.parametrize("pin", [None, "acme"])
def test_conflicting_duplicates_of_a_deciding_org_are_refused(pin: str | None) -> None:
    usages = [usage("acme", tier="PRO", remaining=5), usage("acme", tier="PRO", remaining=6)]
    with pytest.raises(BillingPayloadError, match="acme"):
        build_status_billing(
            active_provider="byterover", is_authenticated=True, usages=usages, pinned_team_id=pin
        )


def test_usages_may_be_a_one_shot_iterator() -> None:
    status = build_status_billing(
        active_provider="byterover",
        is_authenticated=True,
        usages=iter([usage("acme", tier="PRO"), usage("home")]),
    )
    assert isinstance(status, PaidBilling)


# --- resolve_billing_team_id -------------------------------------------------------


@given(
    st.lists(organization_ids(), max_size=5), st.one_of(st.none(), st.just(""), organization_ids())
)
def test_resolve_billing_team_id_precedence(ids: list[str], pin: str | None) -> None:
    result = resolve_billing_team_id(paid_organization_ids=ids, pinned_team_id=pin)
    if pin:
        assert result == pin
    elif len(set(ids)) == 1:
        assert result == ids[0]
    else:
        assert result is None


def test_resolve_billing_team_id_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError, match="string"):
        resolve_billing_team_id(paid_organization_ids="org-1")


# --- small helpers -----------------------------------------------------------------


@given(st.lists(billing_usages(), max_size=6))
def test_paid_ids_and_has_paid_team_agree(usages: list[BillingUsage]) -> None:
    ids = paid_organization_ids(usages)
    assert ids == frozenset(u.organization_id for u in usages if u.tier != "FREE")
    assert has_paid_team(usages) == bool(ids)


@given(accounts())
def test_join_restores_the_account_usages(account: Account) -> None:
    assert join_usages_with_tiers(account.raw_usages(), account.tiers()) == account.usages


@given(st.lists(raw_usages(), max_size=5), st.randoms(use_true_random=False))
def test_join_keeps_the_raw_order_and_defaults_to_free(
    raws: list[RawUsage], random: Random
) -> None:
    tiers = [
        OrganizationTier(organization_id=r.organization_id, tier="PRO", is_trialing=True)
        for r in raws[::2]
    ]
    random.shuffle(tiers)
    joined = join_usages_with_tiers(raws, tiers)
    tiered = {t.organization_id for t in tiers}
    assert [u.organization_id for u in joined] == [r.organization_id for r in raws]
    for raw, joined_usage in zip(raws, joined, strict=True):
        expected = ("PRO", True) if raw.organization_id in tiered else ("FREE", False)
        assert (joined_usage.tier, joined_usage.is_trialing) == expected
        assert joined_usage.remaining == raw.remaining


def test_join_refuses_conflicting_tier_entries() -> None:
    raw = [
        RawUsage(
            organization_id="acme",
            organization_name="Acme",
            organization_status="active",
            limit=1,
            add_on_remaining=0,
            total_limit=1,
            used=0,
            remaining=1,
            percent_used=0,
            limit_exceeded=False,
        )
    ]
    tiers = [
        OrganizationTier(organization_id="acme", tier="PRO"),
        OrganizationTier(organization_id="acme", tier="FREE"),
    ]
    with pytest.raises(BillingPayloadError, match="acme"):
        join_usages_with_tiers(raw, tiers)


# --- build_status_without_tiers ----------------------------------------------------------


@given(pinned_accounts(), st.data())
def test_without_tiers_the_pinned_team_is_what_any_tiers_would_bill(
    account: Account, data: st.DataObject
) -> None:
    raws = account.raw_usages()
    pin = account.pinned_team_id
    status = build_status_without_tiers(raw_usages=raws, pinned_team_id=pin)
    assert (status is None) == (pin not in {r.organization_id for r in raws})
    # Whatever the tiers would have been, as long as they make the pin paid:
    tiers = [
        OrganizationTier(
            organization_id=r.organization_id,
            tier=data.draw(paid_tiers() if r.organization_id == pin else tiers_strategy()),
            is_trialing=data.draw(st.booleans()),
        )
        for r in raws
    ]
    billed = status_of(account, usages=join_usages_with_tiers(raws, tiers))
    if status is not None:
        assert isinstance(billed, PaidBilling)
        assert billed == attrs.evolve(status, tier=billed.tier)
        assert billed.tier == next(t.tier for t in tiers if t.organization_id == pin)


@pytest.mark.parametrize("pin", [None, "", "stranger"])
def test_without_tiers_and_without_a_pin_among_the_usages_nothing_is_known(
    pin: str | None,
) -> None:
    raws = [usage("acme", tier="PRO").without_tier(), usage("beta").without_tier()]
    assert build_status_without_tiers(raw_usages=raws, pinned_team_id=pin) is None


def test_without_tiers_duplicates_of_the_pin_count_once_unless_they_conflict() -> None:
    acme = usage("acme", "", remaining=0).without_tier()
    expected = PaidBilling(
        organization_id="acme", remaining=0, total=1_000, tier=None, limit_exceeded=True
    )
    twice = iter([acme, acme])  # a one-shot iterator will do
    assert build_status_without_tiers(raw_usages=twice, pinned_team_id="acme") == expected
    conflicting = [acme, attrs.evolve(acme, remaining=5)]
    assert build_status_without_tiers(raw_usages=conflicting, pinned_team_id="acme") is None


# --- compute_team_preselection -------------------------------------------------------


@given(accounts(), st.one_of(st.none(), organization_ids()))
def test_preselection_is_none_or_a_paid_team_in_the_list(
    account: Account, workspace: str | None
) -> None:
    paid = paid_organization_ids(account.usages)
    chosen = compute_team_preselection(
        teams=account.teams,
        paid_organization_ids=paid,
        pinned_team_id=account.pinned_team_id,
        workspace_team_id=workspace,
    )
    team_ids = {t.id for t in account.teams}
    assert chosen is None or (chosen in team_ids and chosen in paid)
    pin = account.pinned_team_id
    if pin and pin in team_ids and pin in paid:
        assert chosen == pin
    elif len(team_ids & paid) == 1:
        assert chosen == next(iter(team_ids & paid))
    elif workspace and workspace in team_ids & paid:
        assert chosen == workspace
    else:
        assert chosen is None


def test_preselection_skips_a_free_pin_and_a_free_workspace() -> None:
    teams = [Team(id=i, name=i, display_name=i, slug=i) for i in ("a", "b", "c")]
    assert (
        compute_team_preselection(
            teams=teams, paid_organization_ids={"b", "c"}, pinned_team_id="a", workspace_team_id="a"
        )
        is None
    )
    assert (
        compute_team_preselection(
            teams=teams,
            paid_organization_ids={"b", "c", "zz"},
            pinned_team_id="zz",
            workspace_team_id="c",
        )
        == "c"
    )


# --- team_choices ----------------------------------------------------------------------


@given(accounts())
def test_team_choices_rows_follow_their_usage(account: Account) -> None:
    rows = team_choices(
        teams=account.teams, usages=account.usages, pinned_team_id=account.pinned_team_id
    )
    by_id = {u.organization_id: u for u in account.usages}
    assert [r.team for r in rows] == list(account.teams)
    for row in rows:
        known = by_id.get(row.team.id)
        assert row.usage == known
        assert row.selectable == (known is not None and known.tier != "FREE")
        assert row.reason == (
            None if row.selectable else ("no-usage" if known is None else "free-tier")
        )
        assert row.tier == (known.tier if known else None)
        assert row.is_pinned == (
            bool(account.pinned_team_id) and row.team.id == account.pinned_team_id
        )
    assert sum(r.is_pinned for r in rows) <= 1


def test_every_join_reads_duplicates_by_one_rule() -> None:
    # Identical repeats are one entry; repeats that disagree are a payload error.
    acme = team("acme")
    (row,) = team_choices(teams=[acme], usages=[usage("acme"), usage("acme")])
    assert row.usage == usage("acme")
    with pytest.raises(BillingPayloadError, match=r"conflicting usage entries.*'acme'") as caught:
        team_choices(teams=[acme], usages=[usage("acme", remaining=5), usage("acme")])
    assert caught.value.path == "usages"
    raw = usage("acme", tier="PRO").without_tier()
    pro = OrganizationTier(organization_id="acme", tier="PRO")
    assert join_usages_with_tiers([raw], [pro, pro]) == (usage("acme", tier="PRO"),)
    with pytest.raises(BillingPayloadError, match=r"conflicting tier entries.*'acme'") as caught:
        join_usages_with_tiers([raw], [pro, attrs.evolve(pro, is_trialing=True)])
    assert caught.value.path == "tiers"


def test_a_team_choice_is_its_team_usage_and_pin() -> None:
    # tier, selectable and reason are read from the usage: no state of their own.
    acme = team("acme")
    assert [a.name for a in attrs.fields(TeamChoice)] == ["team", "usage", "is_pinned"]
    choice = TeamChoice(team=acme, usage=usage("acme"))
    assert choice == TeamChoice(team=acme, usage=usage("acme"))
    assert hash(choice) == hash(TeamChoice(team=acme, usage=usage("acme")))
    assert (choice.tier, choice.selectable, choice.reason) == ("FREE", False, "free-tier")
    paid = attrs.evolve(choice, usage=usage("acme", tier="PRO"))
    assert (paid.tier, paid.selectable, paid.reason) == ("PRO", True, None)


def test_team_choice_refuses_a_usage_of_another_team() -> None:
    acme = team("acme")
    with pytest.raises(ValueError, match="beta"):
        TeamChoice(team=acme, usage=usage("beta"))
    with pytest.raises(TypeError, match="is_pinned"):
        TeamChoice(team=acme, is_pinned=1)  # type: ignore[arg-type]


@given(free_user_limits())
def test_free_user_limit_numbers_come_from_the_monthly_window(limit: FreeUserLimit) -> None:
    status = build_status_billing(
        active_provider="byterover", is_authenticated=True, free_user_limit=limit
    )
    assert status == FreeBilling(
        remaining=limit.monthly.remaining,
        total=limit.monthly.limit,
        limit_exceeded=limit.limit_exceeded or limit.monthly.limit_exceeded,
    )


@pytest.mark.parametrize(
    ("top", "monthly", "daily", "exceeded"),
    [
        (False, False, False, False),
        (True, False, False, True),  # upstream's verdict (say, the daily window)
        (False, True, False, True),  # the window the status shows
        (False, False, True, False),  # the daily flag alone is not the verdict
        (True, True, True, True),
    ],
)
def test_free_credits_are_over_their_limit_when_upstream_or_the_month_says_so(
    top: bool, monthly: bool, daily: bool, exceeded: bool
) -> None:
    limit = FreeUserLimit(
        daily=attrs.evolve(window(40, 50), limit_exceeded=daily),
        monthly=attrs.evolve(window(950, 1_000), limit_exceeded=monthly),
        limit_exceeded=top,
    )
    free = build_status_billing(
        active_provider="byterover", is_authenticated=True, free_user_limit=limit
    )
    assert free == FreeBilling(remaining=950, total=1_000, limit_exceeded=exceeded)
    pick = build_status_billing(
        active_provider="byterover",
        is_authenticated=True,
        usages=[usage("acme", tier="PRO"), usage("beta", tier="PRO")],
        free_user_limit=limit,
    )
    assert isinstance(pick, TeamPickNeededBilling)
    assert pick.limit_exceeded is exceeded


def test_a_paid_status_carries_its_usage_s_exceeded_limit() -> None:
    exceeded = usage("acme", tier="PRO", remaining=500, exceeded=True)
    status = build_status_billing(
        active_provider="byterover", is_authenticated=True, usages=[exceeded]
    )
    assert status == PaidBilling(
        organization_id="acme",
        organization_name="Acme",
        remaining=500,
        total=1_000,
        tier="PRO",
        limit_exceeded=True,
    )


# --- odd but valid upstream values: empty tiers, empty organisation ids -------------------


def test_an_empty_tier_is_an_unknown_tier_kept_and_paid() -> None:
    # Upstream sent tier "" for Acme: the spec's rule for unknown tiers applies.
    raw = usage("acme", "Acme", remaining=700).without_tier()
    (joined,) = join_usages_with_tiers([raw], [OrganizationTier(organization_id="acme", tier="")])
    assert joined.tier == ""
    assert joined.is_paid
    assert paid_organization_ids([joined]) == {"acme"}
    status = build_status_billing(
        active_provider="byterover", is_authenticated=True, usages=[joined]
    )
    assert status == PaidBilling(
        organization_id="acme", organization_name="Acme", remaining=700, total=1_000, tier=""
    )
    two = [joined, usage("beta", tier="PRO")]
    pick = build_status_billing(active_provider="byterover", is_authenticated=True, usages=two)
    assert isinstance(pick, TeamPickNeededBilling)
    assert [c.tier for c in pick.candidates] == ["", "PRO"]
    (row,) = team_choices(teams=[team("acme")], usages=[joined])
    assert (row.selectable, row.reason, row.tier) == (True, None, "")


def anonymous(tier: str = "PRO", remaining: int = 9_000) -> BillingUsage:
    """An organisation upstream listed with an empty id."""
    return usage("", "Ghost Org", tier=tier, remaining=remaining)


def test_an_entry_with_an_empty_id_that_does_not_decide_is_ignored() -> None:
    acme = usage("acme", "Acme", tier="PRO", remaining=700)
    alone = build_status_billing(active_provider="byterover", is_authenticated=True, usages=[acme])
    assert isinstance(alone, PaidBilling)
    for usages, pin in (
        ([anonymous(tier="FREE"), acme], None),  # a FREE one is never a payer
        ([acme, anonymous(), anonymous(remaining=1)], "acme"),  # the pin decides
    ):
        status = build_status_billing(
            active_provider="byterover",
            is_authenticated=True,
            usages=usages,
            pinned_team_id=pin,
        )
        assert status == alone
    assert build_status_billing(
        active_provider="byterover", is_authenticated=True, usages=[anonymous()], pinned_team_id="x"
    ) == InvalidPinBilling(organization_id="x", reason="not-a-member")


@pytest.mark.parametrize("others", [[], [usage("acme", tier="PRO")]], ids=["alone", "with-one"])
def test_a_paid_entry_with_an_empty_id_when_nothing_is_pinned_is_refused(
    others: list[BillingUsage],
) -> None:
    # Counted, it would be one more paid team (who can be neither billed nor picked);
    # ignored, a user of two paid teams would be told the other one pays. Neither: say so.
    for pin in (None, ""):
        with pytest.raises(BillingPayloadError, match="paid tier has an empty id") as caught:
            build_status_billing(
                active_provider="byterover",
                is_authenticated=True,
                usages=[*others, anonymous()],
                pinned_team_id=pin,
            )
        assert caught.value.path == "usages"


def test_an_empty_id_is_never_predicted_nor_offered_nor_a_picker_row() -> None:
    assert resolve_billing_team_id(paid_organization_ids={""}) is None
    assert resolve_billing_team_id(paid_organization_ids={"", "acme"}) is None
    rows = team_choices(
        teams=[team("acme")],
        usages=[anonymous(), anonymous(tier="FREE"), usage("acme", tier="PRO")],
    )
    assert [(r.team.id, r.usage) for r in rows] == [("acme", usage("acme", tier="PRO"))]
    assert (
        compute_team_preselection(teams=[team("acme")], paid_organization_ids={"", "acme"})
        == "acme"
    )


def test_entries_with_an_empty_id_join_like_any_other() -> None:
    raw = anonymous().without_tier()
    tier = OrganizationTier(organization_id="", tier="PRO")
    assert join_usages_with_tiers([raw], [tier, tier]) == (anonymous(),)
    assert join_usages_with_tiers([raw], []) == (anonymous(tier="FREE"),)
    with pytest.raises(BillingPayloadError, match="conflicting tier entries") as caught:
        join_usages_with_tiers([raw], [tier, attrs.evolve(tier, tier="FREE")])
    assert caught.value.path == "tiers"


@given(
    accounts(),
    billing_usages(organization_id=st.just("")),
    st.integers(min_value=0),
    st.one_of(st.none(), st.just(""), organization_ids()),
)
def test_an_entry_with_an_empty_id_changes_the_answer_never_silently(
    account: Account, anonymous: BillingUsage, at: int, pin: str | None
) -> None:
    usages = list(account.usages)
    usages.insert(at % (len(usages) + 1), anonymous)
    if anonymous.is_paid and not pin:
        with pytest.raises(BillingPayloadError, match="empty id"):
            status_of(account, usages=usages, pinned_team_id=pin)
    else:
        assert status_of(account, usages=usages, pinned_team_id=pin) == status_of(
            account, pinned_team_id=pin
        )
    assert team_choices(teams=account.teams, usages=usages, pinned_team_id=pin) == team_choices(
        teams=account.teams, usages=account.usages, pinned_team_id=pin
    )
