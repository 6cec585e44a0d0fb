"""Odd but valid upstream values reach resolution whole: an empty tier, an empty organisation id.

Found by running the reference implementation side by side: it accepts both,
and billing_core used to reject the whole payload for either one, which the
shell then reported as a failed part (no status, or a degraded one).
"""

from __future__ import annotations

from typing import Any

from _billing_samples import team, usage

import billing_core as bc
from billing_core.testing import Account, FakeBillingApi

ACME = usage("acme", "Acme", tier="", remaining=700)  # paid, by the unknown tier ""
GHOST = usage("", "Ghost Org", remaining=9_000)  # FREE, listed with no id


def test_the_wire_decodes_an_empty_tier_and_an_empty_id() -> None:
    usages: list[Any] = [bc.to_wire(u.without_tier()) for u in (GHOST, ACME)]
    tiers: list[Any] = [{"organizationId": "acme", "tier": "", "isTrialing": False}]
    raw = bc.from_wire(list[bc.RawUsage], usages, path="organizations")
    entries = bc.from_wire(list[bc.OrganizationTier], tiers)
    assert [r.organization_id for r in raw] == ["", "acme"]
    assert bc.join_usages_with_tiers(raw, entries) == (GHOST, ACME)
    assert bc.from_wire(bc.BillingUsage, bc.to_wire(ACME)) == ACME  # "" survives


def test_the_shell_resolves_them_without_a_problem() -> None:
    account = Account(teams=[team("acme", name="Acme")], usages=[GHOST, ACME])
    with FakeBillingApi(account) as api, bc.HttpBillingService(api.base_url) as billing:
        resolution = bc.resolve_billing(
            active_provider="byterover",
            session_key=api.session_key,
            billing=billing,
            pins=bc.InMemoryPinStore(),
        )
    assert resolution.problems == ()
    assert resolution.status == bc.PaidBilling(
        organization_id="acme", organization_name="Acme", remaining=700, total=1_000, tier=""
    )
    # The empty tier is not shown as an empty pair of words after a comma.
    assert bc.format_billing_line(resolution.status) == "Billing: Acme (700 credits)"
