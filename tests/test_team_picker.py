"""The team picker use case: list_team_choices / alist_team_choices.

Every test runs in both flavours, with the in-memory fakes (and a real
FilePinStore for the corrupt pin file): the rows, the suggestion and the
reported pin problem are the pure core's answer for what the ports said.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from _billing_samples import team, usage
from attrs import frozen
from hypothesis import HealthCheck, given, settings

from billing_core import (
    BillingApiError,
    BillingAuthError,
    BillingPayloadError,
    FilePinStore,
    FreeUserLimit,
    FreeUserLimitWindow,
    NotAuthenticatedError,
    PinStore,
    PinStoreError,
    Problem,
    TeamChoice,
    TeamPicker,
    alist_team_choices,
    compute_team_preselection,
    list_team_choices,
    paid_organization_ids,
    team_choices,
)
from billing_core.testing import (
    DEFAULT_SESSION_KEY,
    Account,
    AsyncInMemoryBillingService,
    AsyncInMemoryTeamService,
    InMemoryBillingService,
    InMemoryPinStore,
    InMemoryTeamService,
)
from billing_core.testing.strategies import accounts

KEY = DEFAULT_SESSION_KEY
WINDOW = FreeUserLimitWindow(
    limit=1_000, used=50, remaining=950, percent_used=5.0, limit_exceeded=False
)
FREE_CREDITS = FreeUserLimit(daily=WINDOW, monthly=WINDOW, limit_exceeded=False)

ACME = usage("org-acme", "Acme Corp", tier="PRO", remaining=12_400)
BETA = usage("org-beta", "Beta", tier="ENTERPRISE", remaining=300)
SIDE = usage("org-side", "Side Project")
TEAMS = (
    team("org-acme", name="acme"),
    team("org-beta", name="beta"),
    team("org-side", name="side"),
    team("org-ghost", name="ghost"),  # a team billing reports no usage for
)
ONE_PAID = Account(teams=TEAMS, usages=[ACME, SIDE], free_user_limit=FREE_CREDITS)
TWO_PAID = Account(teams=TEAMS, usages=[ACME, BETA, SIDE], free_user_limit=FREE_CREDITS)

DOWN = BillingApiError("Service Unavailable", endpoint="/teams", status_code=503)
EXPIRED = BillingAuthError("Invalid or expired session", endpoint="/billing/x", status_code=401)


@frozen
class Flavor:
    """Sync or async: builds the matching fakes and lists the choices to completion."""

    is_async: bool

    def billing(self, account: Account, **options: Any) -> Any:
        cls = AsyncInMemoryBillingService if self.is_async else InMemoryBillingService
        return cls(account, **options)

    def teams(self, account: Account, **options: Any) -> Any:
        cls = AsyncInMemoryTeamService if self.is_async else InMemoryTeamService
        return cls(account, **options)

    def meet(self, barrier: threading.Barrier) -> Callable[[], object]:
        """A service hook that waits at ``barrier`` (in a worker thread when async)."""
        if self.is_async:
            return lambda: asyncio.to_thread(barrier.wait)
        return barrier.wait

    def picker(
        self,
        account: Account,
        *,
        pins: PinStore | None = None,
        session_key: str | None = KEY,
        **services: Any,
    ) -> TeamPicker:
        arguments = {
            "session_key": session_key,
            "billing": services.get("billing") or self.billing(account),
            "teams": services.get("teams") or self.teams(account),
            "pins": InMemoryPinStore() if pins is None else pins,
        }
        if self.is_async:
            return asyncio.run(alist_team_choices(**arguments))
        return list_team_choices(**arguments)


@pytest.fixture(params=[Flavor(False), Flavor(True)], ids=["sync", "async"])
def flavor(request: pytest.FixtureRequest) -> Flavor:
    return request.param  # type: ignore[no-any-return]


def _rows(picker: TeamPicker) -> list[tuple[str, bool, str | None, bool]]:
    return [(r.team.id, r.selectable, r.reason, r.is_pinned) for r in picker.rows]


# --- rows and the suggestion --------------------------------------------------------


def test_one_paid_team_is_suggested_and_every_team_is_a_row(flavor: Flavor) -> None:
    picker = flavor.picker(ONE_PAID)
    assert _rows(picker) == [
        ("org-acme", True, None, False),
        ("org-beta", False, "no-usage", False),
        ("org-side", False, "free-tier", False),
        ("org-ghost", False, "no-usage", False),
    ]
    assert picker.rows[0].usage == ACME
    assert (picker.preselected_team_id, picker.problems) == ("org-acme", ())


def test_two_paid_teams_suggest_nothing_until_one_is_pinned(flavor: Flavor) -> None:
    assert flavor.picker(TWO_PAID).preselected_team_id is None
    pinned = flavor.picker(TWO_PAID, pins=InMemoryPinStore("org-beta"))
    assert pinned.preselected_team_id == "org-beta"
    assert [r.team.id for r in pinned.rows if r.is_pinned] == ["org-beta"]


def test_a_free_tier_pin_is_marked_but_never_suggested(flavor: Flavor) -> None:
    picker = flavor.picker(TWO_PAID, pins=InMemoryPinStore("org-side"))
    assert ("org-side", False, "free-tier", True) in _rows(picker)
    assert picker.preselected_team_id is None
    assert picker.problems == ()  # a pin that cannot be billed is not a read problem


# --- the pin: reported, never raised ---------------------------------------------------


def test_a_corrupt_pin_file_is_a_pins_problem_and_no_pin(flavor: Flavor, tmp_path: Path) -> None:
    brv = tmp_path / ".brv"
    brv.mkdir()
    corrupt = '{"billing": {"pinnedTeamId": 5}, "other": 1}'
    (brv / "brv-provider.json").write_text(corrupt)
    picker = flavor.picker(TWO_PAID, pins=FilePinStore(brv))
    assert not any(r.is_pinned for r in picker.rows)
    assert picker.preselected_team_id is None
    (problem,) = picker.problems
    assert problem.part == "pins"
    assert "corrupt" in problem.message
    assert problem.message.endswith("treating the project as unpinned")
    assert (brv / "brv-provider.json").read_text() == corrupt  # listing writes nothing


def test_a_failing_pin_store_is_a_problem_without_the_session_key(flavor: Flavor) -> None:
    pins = InMemoryPinStore("org-acme", fail_with=PinStoreError(f"locked by {KEY}"))
    picker = flavor.picker(ONE_PAID, pins=pins)
    assert picker.preselected_team_id == "org-acme"  # the only paid team, pin or not
    assert picker.problems == (
        Problem(
            part="pins",
            message="could not read the billing pin: locked by [session key]; "
            "treating the project as unpinned",
        ),
    )


# --- no session, upstream failures: raised, as by pin_billing_team -----------------------


@pytest.mark.parametrize("session_key", [None, ""])
def test_no_session_raises_and_asks_nothing(flavor: Flavor, session_key: str | None) -> None:
    billing, teams, pins = flavor.billing(ONE_PAID), flavor.teams(ONE_PAID), InMemoryPinStore()
    with pytest.raises(NotAuthenticatedError, match="sign in"):
        flavor.picker(ONE_PAID, session_key=session_key, billing=billing, teams=teams, pins=pins)
    assert sum(billing.calls.values()) + sum(teams.calls.values()) + pins.reads == 0


def test_teams_down_raises_the_api_error(flavor: Flavor) -> None:
    teams = flavor.teams(ONE_PAID, failures={"teams": DOWN})
    with pytest.raises(BillingApiError) as raised:
        flavor.picker(ONE_PAID, teams=teams)
    assert raised.value.status_code == 503


def test_a_refused_session_wins_over_another_failure(flavor: Flavor) -> None:
    teams = flavor.teams(ONE_PAID, failures={"teams": DOWN})
    billing = flavor.billing(ONE_PAID, failures={"usages": EXPIRED})
    with pytest.raises(BillingAuthError):
        flavor.picker(ONE_PAID, teams=teams, billing=billing)


def test_conflicting_usages_are_a_payload_error(flavor: Flavor) -> None:
    billing = flavor.billing(ONE_PAID)
    acme = billing.raw_usages[0]
    billing.raw_usages = (*billing.raw_usages, attrs.evolve(acme, remaining=acme.remaining - 1))
    with pytest.raises(BillingPayloadError):
        flavor.picker(ONE_PAID, billing=billing)


# --- one round trip --------------------------------------------------------------------


def test_teams_usages_and_pin_are_fetched_at_once(flavor: Flavor) -> None:
    # Each call waits until all three have arrived: made one after the other,
    # the first would time out and break the barrier.
    barrier = threading.Barrier(3, timeout=5)
    meet = flavor.meet(barrier)
    # get_usages asks usages then tiers, one after the other: only the first meets.
    billing = flavor.billing(ONE_PAID, on_call=lambda part: meet() if part == "usages" else None)
    teams = flavor.teams(ONE_PAID, on_call=lambda _: meet())
    pins = InMemoryPinStore("org-acme", on_call=lambda _: barrier.wait())
    picker = flavor.picker(ONE_PAID, billing=billing, teams=teams, pins=pins)
    assert picker.preselected_team_id == "org-acme"
    assert not barrier.broken
    assert (teams.calls["teams"], billing.calls["usages"], pins.reads) == (1, 1, 1)


# --- the law: the shell adds nothing to the pure core --------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(account=accounts())
def test_the_picker_is_the_pure_answer_for_what_the_ports_said(account: Account) -> None:
    for flavor in (Flavor(False), Flavor(True)):
        picker = flavor.picker(account, pins=InMemoryPinStore(account.pinned_team_id))
        assert picker == TeamPicker(
            rows=team_choices(
                teams=account.teams, usages=account.usages, pinned_team_id=account.pinned_team_id
            ),
            preselected_team_id=compute_team_preselection(
                teams=account.teams,
                paid_organization_ids=paid_organization_ids(account.usages),
                pinned_team_id=account.pinned_team_id,
            ),
        )


def test_team_picker_holds_tuples() -> None:
    row = TeamChoice(team=TEAMS[0], usage=ACME)
    problem = Problem(part="pins", message="unreadable")
    picker = TeamPicker(rows=[row], problems=[problem])
    assert (picker.rows, picker.preselected_team_id, picker.problems) == ((row,), None, (problem,))
