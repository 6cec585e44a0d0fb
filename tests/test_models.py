"""Construction rules of the models that the wire and views rely on."""

from __future__ import annotations

import typing
from random import Random

import pytest
from hypothesis import find, given
from hypothesis import strategies as st

from billing_core import (
    BillingResolution,
    BillingUsage,
    FreeBilling,
    InvalidPinBilling,
    OrganizationTier,
    OtherProviderBilling,
    PaidBilling,
    Problem,
    RawUsage,
    StatusBilling,
    Team,
    TeamPickNeededBilling,
    from_wire,
    is_paid_tier,
    to_wire,
)
from billing_core.models import STATUS_BILLING_VARIANTS
from billing_core.testing.strategies import (
    billing_usages,
    paid_billings,
    paid_tiers,
    raw_usages,
    tiers,
)


def test_candidates_repeating_a_team_are_refused() -> None:
    # Same id and name, other numbers: the sort key ties, so before the rule the
    # two orders built two unequal values for the same answer.
    first = PaidBilling(organization_id="org-1", organization_name="Acme", remaining=5)
    second = PaidBilling(organization_id="org-1", organization_name="Acme", remaining=9)
    for candidates in ([first, second], [second, first], [first, first]):
        with pytest.raises(ValueError, match=r"^candidates .*'org-1' is repeated$"):
            TeamPickNeededBilling(candidates=candidates)


@given(
    st.lists(paid_billings(), max_size=6, unique_by=lambda c: c.organization_id),
    st.randoms(use_true_random=False),
)
def test_candidates_in_any_order_build_one_value(
    candidates: list[PaidBilling], random: Random
) -> None:
    shuffled = list(candidates)
    random.shuffle(shuffled)
    status = TeamPickNeededBilling(candidates=candidates)
    assert TeamPickNeededBilling(candidates=shuffled) == status
    assert hash(TeamPickNeededBilling(candidates=shuffled)) == hash(status)


@given(paid_billings(), st.data())
def test_a_repeated_candidate_is_refused_wherever_it_sits(
    candidate: PaidBilling, data: st.DataObject
) -> None:
    others = data.draw(
        st.lists(
            paid_billings().filter(lambda c: c.organization_id != candidate.organization_id),
            max_size=3,
            unique_by=lambda c: c.organization_id,
        )
    )
    twin = PaidBilling(
        organization_id=candidate.organization_id, remaining=data.draw(st.integers())
    )
    items = [candidate, *others]
    items.insert(data.draw(st.integers(min_value=0, max_value=len(items))), twin)
    with pytest.raises(ValueError, match="candidates"):
        TeamPickNeededBilling(candidates=items)


@pytest.mark.parametrize(
    ("cls", "required"),
    [
        (PaidBilling, {"organization_id": "o"}),
        (FreeBilling, {}),
        (TeamPickNeededBilling, {"candidates": []}),
    ],
)
def test_limit_exceeded_defaults_to_false_and_must_be_a_bool(
    cls: type, required: dict[str, object]
) -> None:
    assert cls(**required).limit_exceeded is False
    assert cls(**required, limit_exceeded=True).limit_exceeded is True
    for wrong in (1, None, "true"):
        with pytest.raises(TypeError, match="limit_exceeded must be a bool"):
            cls(**required, limit_exceeded=wrong)


@given(billing_usages())
def test_a_usage_without_its_tier_joins_back_to_itself(usage: BillingUsage) -> None:
    raw = usage.without_tier()
    assert type(raw) is RawUsage
    assert raw.with_tier(usage.tier, is_trialing=usage.is_trialing) == usage


@given(raw_usages(), tiers(), st.booleans())
def test_a_raw_usage_with_a_tier_drops_back_to_itself(
    raw: RawUsage, tier: str, is_trialing: bool
) -> None:
    assert raw.with_tier(tier, is_trialing=is_trialing).without_tier() == raw


def test_the_status_variants_are_the_status_billing_union() -> None:
    assert typing.get_args(StatusBilling) == STATUS_BILLING_VARIANTS


def test_problems_are_kept_as_a_tuple_whatever_iterable_holds_them() -> None:
    problem = Problem(part="usages", message="down")
    resolution = BillingResolution(status=None, problems=iter([problem]))
    assert resolution.problems == (problem,)
    assert resolution == BillingResolution(status=None, problems=[problem])
    assert not resolution.ok
    assert BillingResolution(status=None).ok


# --- the pin a resolution records -----------------------------------------------------------

ACME_PAID = PaidBilling(organization_id="org-1", organization_name="Acme", remaining=5)


@pytest.mark.parametrize(
    "status",
    [None, ACME_PAID, InvalidPinBilling(organization_id="org-1", reason="free-tier")],
    ids=["unknown", "paid", "invalid-pin"],
)
def test_a_pinned_resolution_names_the_pinned_team_or_no_one(status: StatusBilling | None) -> None:
    resolution = BillingResolution(status=status, pinned_team_id="org-1")
    assert resolution.pinned_team_id == "org-1"
    assert resolution.request_team_id == "org-1"


@pytest.mark.parametrize(
    ("status", "pin", "error", "says"),
    [
        (ACME_PAID, "org-2", ValueError, "names 'org-1', not the pinned team 'org-2'"),
        (
            InvalidPinBilling(organization_id="org-9", reason="not-a-member"),
            "org-1",
            ValueError,
            "names 'org-9'",
        ),
        (FreeBilling(), "org-1", ValueError, "cannot be a FreeBilling"),
        (
            TeamPickNeededBilling(candidates=[ACME_PAID]),
            "org-1",
            ValueError,
            "cannot be a TeamPickNeededBilling",
        ),
        (OtherProviderBilling(), "org-1", ValueError, "cannot be a OtherProviderBilling"),
        (None, "", ValueError, "must not be empty"),
        (None, 7, TypeError, "must be a string"),
    ],
)
def test_a_pin_the_status_contradicts_is_refused(
    status: StatusBilling | None, pin: object, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        BillingResolution(status=status, pinned_team_id=pin)  # type: ignore[arg-type]


def test_the_recorded_pin_is_provenance_not_part_of_the_answer() -> None:
    pinned = BillingResolution(status=ACME_PAID, pinned_team_id="org-1")
    auto = BillingResolution(status=ACME_PAID)
    assert pinned == auto  # one answer: the same payer, numbers and problems
    assert hash(pinned) == hash(auto)
    assert (pinned.request_team_id, auto.request_team_id) == ("org-1", None)
    assert "pinned_team_id='org-1'" in repr(pinned)


def test_the_recorded_pin_survives_the_wire() -> None:
    pinned = BillingResolution(status=ACME_PAID, pinned_team_id="org-1")
    wire = to_wire(pinned)
    assert wire["pinnedTeamId"] == "org-1"
    assert from_wire(BillingResolution, wire).pinned_team_id == "org-1"
    assert "pinnedTeamId" not in to_wire(BillingResolution(status=ACME_PAID))
    assert from_wire(BillingResolution, {"status": None, "problems": []}).pinned_team_id is None


@given(st.one_of(st.none(), paid_billings()), st.booleans())
def test_only_the_pin_is_ever_sent_with_a_request(status: PaidBilling | None, pinned: bool) -> None:
    pin = (status.organization_id if status is not None else "org-x") if pinned else None
    resolution = BillingResolution(status=status, pinned_team_id=pin)
    assert resolution.request_team_id == pin


# --- odd but valid upstream values ---------------------------------------------------------

RAW_FIELDS: dict[str, object] = {
    "organization_name": "Ghost",
    "organization_status": "active",
    "limit": 10,
    "add_on_remaining": 0,
    "total_limit": 10,
    "used": 0,
    "remaining": 10,
    "percent_used": 0,
    "limit_exceeded": False,
}


def test_an_empty_tier_is_an_unknown_tier_and_so_paid() -> None:
    # The spec: every tier but FREE is paid, unknown ones included; "" is one.
    assert is_paid_tier("")
    entry = OrganizationTier(organization_id="org-1", tier="")
    assert (entry.tier, entry.is_paid) == ("", True)
    usage = BillingUsage(organization_id="org-1", tier="", **RAW_FIELDS)  # type: ignore[arg-type]
    assert (usage.tier, usage.is_paid) == ("", True)


def test_upstream_entries_may_have_an_empty_organisation_id_but_payers_may_not() -> None:
    raw = RawUsage(organization_id="", **RAW_FIELDS)  # type: ignore[arg-type]
    assert raw.organization_id == ""
    assert raw.with_tier("PRO").organization_id == ""
    assert OrganizationTier(organization_id="", tier="PRO").organization_id == ""
    # Such an organisation can never be pinned or billed: these name one, so need an id.
    for build in (
        lambda: PaidBilling(organization_id=""),
        lambda: InvalidPinBilling(organization_id="", reason="not-a-member"),
        lambda: Team(id="", name="n", display_name="N", slug="n"),
    ):
        with pytest.raises(ValueError, match="must not be empty"):
            build()


def test_the_tier_strategies_reach_the_empty_tier() -> None:
    # Every law drawing tiers() or paid_tiers() then covers it.
    assert find(paid_tiers(), lambda tier: tier == "") == ""
    assert find(tiers(), lambda tier: tier == "") == ""
