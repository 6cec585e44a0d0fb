"""The team an LLM request carries: the pin a resolve read, recorded on its answer.

Laws: over any account, ``request_team_id`` is the non-empty pin, whatever the
status says and whatever failed upstream; never for another provider, a
signed-out user or a pin that could not be read. The monitor serves the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest
from _billing_samples import team, usage
from hypothesis import given
from hypothesis import strategies as st

from billing_core.errors import BillingApiError, BillingAuthError, PinStoreError
from billing_core.models import (
    BillingResolution,
    InvalidPinBilling,
    OtherProviderBilling,
    PaidBilling,
)
from billing_core.monitor import BillingMonitor
from billing_core.service import aresolve_billing, resolve_billing
from billing_core.testing import DEFAULT_SESSION_KEY, Account
from billing_core.testing.fakes import (
    AsyncInMemoryBillingService,
    InMemoryBillingService,
    InMemoryPinStore,
    Part,
)
from billing_core.testing.strategies import accounts

ACME = usage("org-acme", "Acme", tier="PRO", remaining=500)
SIDE = usage("org-side", "Side", tier="FREE")
ONE_PAID = Account(
    teams=[team("org-acme", slug="acme"), team("org-side", slug="side")], usages=[ACME, SIDE]
)
DOWN = BillingApiError("Service Unavailable", endpoint="GET /billing/usages", status_code=503)
REFUSED = BillingAuthError("expired", endpoint="GET /billing/usages", status_code=401)


def resolve(
    account: Account,
    pin: str | None,
    *,
    provider: str | None = "byterover",
    session_key: str | None = DEFAULT_SESSION_KEY,
    failures: Mapping[Part, BaseException] | None = None,
    pins: InMemoryPinStore | None = None,
) -> BillingResolution:
    return resolve_billing(
        active_provider=provider,
        session_key=session_key,
        billing=InMemoryBillingService(account, failures=failures),
        pins=InMemoryPinStore(pin) if pins is None else pins,
    )


# --- the laws ---------------------------------------------------------------------------

parts: st.SearchStrategy[set[Part]] = st.sets(st.sampled_from(["usages", "tiers", "free-limit"]))


@given(accounts(), parts, st.sampled_from([DOWN, REFUSED]))
def test_a_request_carries_the_pin_whatever_the_status_and_the_failures(
    account: Account, failing: set[Part], error: BillingApiError
) -> None:
    resolution = resolve(account, account.pinned_team_id, failures=dict.fromkeys(failing, error))
    pin = account.pinned_team_id or None
    assert resolution.pinned_team_id == pin
    assert resolution.request_team_id == pin
    if pin is not None and resolution.status is not None:
        # A pin decides: the status names the team the request carries.
        assert isinstance(resolution.status, PaidBilling | InvalidPinBilling)
        assert resolution.status.organization_id == pin


@given(accounts())
def test_async_resolves_record_the_same_pin(account: Account) -> None:
    async def both() -> BillingResolution:
        return await aresolve_billing(
            active_provider="byterover",
            session_key=DEFAULT_SESSION_KEY,
            billing=AsyncInMemoryBillingService(account),
            pins=InMemoryPinStore(account.pinned_team_id),
        )

    resolution = asyncio.run(both())
    assert resolution.request_team_id == (account.pinned_team_id or None)
    assert resolution == resolve(account, account.pinned_team_id)


@given(accounts(), st.sampled_from(["openai", "", None]))
def test_another_provider_never_carries_a_team(account: Account, provider: str | None) -> None:
    pins = InMemoryPinStore(account.pinned_team_id)
    resolution = resolve(account, None, provider=provider, pins=pins)
    assert isinstance(resolution.status, OtherProviderBilling)
    assert resolution.request_team_id is None
    assert pins.reads == 0


# --- examples ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "status", "sent"),
    [
        ("org-acme", PaidBilling, "org-acme"),  # pinned: sent
        (None, PaidBilling, None),  # auto-selected: the server picks it itself
        ("", PaidBilling, None),  # an empty pin is no pin
        ("org-side", InvalidPinBilling, "org-side"),  # FREE tier: sent, the server refuses
        ("org-gone", InvalidPinBilling, "org-gone"),  # stale: sent, the server refuses
    ],
)
def test_what_each_situation_sends(pin: str | None, status: type, sent: str | None) -> None:
    resolution = resolve(ONE_PAID, pin)
    assert isinstance(resolution.status, status)
    assert resolution.request_team_id == sent


def test_billing_down_still_sends_the_pin() -> None:
    resolution = resolve(ONE_PAID, "org-acme", failures={"usages": DOWN})
    assert resolution.status is None
    assert resolution.request_team_id == "org-acme"
    assert resolve(ONE_PAID, None, failures={"usages": DOWN}).request_team_id is None


def test_tiers_down_still_sends_the_pin() -> None:
    resolution = resolve(ONE_PAID, "org-acme", failures={"tiers": DOWN})
    assert resolution.status == PaidBilling(
        organization_id="org-acme", organization_name="Acme", remaining=500, total=1_000
    )
    assert resolution.request_team_id == "org-acme"


@pytest.mark.parametrize("session_key", [None, ""])
def test_signed_out_sends_nothing_and_reads_no_pin(session_key: str | None) -> None:
    pins = InMemoryPinStore("org-acme")
    resolution = resolve(ONE_PAID, None, session_key=session_key, pins=pins)
    assert resolution.request_team_id is None
    assert pins.reads == 0


def test_an_unreadable_pin_sends_nothing_and_says_so() -> None:
    pins = InMemoryPinStore("org-acme", fail_with=PinStoreError("permission denied"))
    resolution = resolve(ONE_PAID, None, pins=pins)
    assert resolution.request_team_id is None
    assert [p.part for p in resolution.problems] == ["pins"]


# --- the monitor serves the same ----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_the_monitor_keeps_the_pin_on_a_stale_answer() -> None:
    clock = Clock()
    billing = InMemoryBillingService(ONE_PAID)
    pins = InMemoryPinStore("org-acme")
    with BillingMonitor(
        active_provider="byterover",
        session_key=DEFAULT_SESSION_KEY,
        billing=billing,
        pins=pins,
        clock=clock,
        max_age=60,
        max_stale=600,
    ) as monitor:
        fresh = monitor.current()
        assert fresh.request_team_id == "org-acme"
        billing.failures["usages"] = DOWN
        clock.now += 60
        stale = monitor.current()
        assert stale.status == fresh.status
        assert [p.part for p in stale.problems] == ["usages"]  # served from before
        assert stale.request_team_id == "org-acme"
        pins.set_pinned_team_id(None)
        clock.now += 600  # the pin is looked at again; the usages are gone by now
        cleared = monitor.current()
        assert cleared.status is None
        assert cleared.request_team_id is None
