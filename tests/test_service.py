"""The use cases: resolve_billing / pin_billing_team and their async twins.

Every test runs in both flavours through :class:`Flavor`, so sync and async are
held to the same rules. The services are the in-memory fakes, except at the end
where the HTTP adapters talk to the loopback FakeBillingApi.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from _billing_samples import team, usage
from attrs import frozen
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core import (
    AmbiguousTeamError,
    AsyncHttpBillingService,
    AsyncHttpTeamService,
    BillingApiError,
    BillingAuthError,
    BillingResolution,
    FilePinStore,
    FreeBilling,
    FreeUserLimit,
    FreeUserLimitWindow,
    HttpBillingService,
    HttpTeamService,
    InvalidPinBilling,
    InvalidPinError,
    NotAuthenticatedError,
    OrganizationTier,
    OtherProviderBilling,
    PaidBilling,
    PinStoreError,
    Problem,
    Team,
    TeamNotFoundError,
    TeamPickNeededBilling,
    apin_billing_team,
    aresolve_billing,
    build_status_billing,
    is_billing_exhausted,
    pin_billing_team,
    resolve_billing,
)
from billing_core.testing import (
    DEFAULT_SESSION_KEY,
    Account,
    AsyncInMemoryBillingService,
    AsyncInMemoryTeamService,
    FakeBillingApi,
    InMemoryBillingService,
    InMemoryPinStore,
    InMemoryTeamService,
)
from billing_core.testing.strategies import accounts

KEY = DEFAULT_SESSION_KEY
MONTHLY = FreeUserLimitWindow(
    limit=1_000, used=50, remaining=950, percent_used=5.0, limit_exceeded=False
)
FREE_CREDITS = FreeUserLimit(daily=MONTHLY, monthly=MONTHLY, limit_exceeded=False)

ACME = usage("org-acme", "Acme Corp", tier="PRO", remaining=12_400)
BETA = usage("org-beta", "Beta", tier="ENTERPRISE", remaining=300)
SIDE = usage("org-side", "Side Project")
TEAMS = (
    team("org-acme", name="acme", slug="acme-corp"),
    team("org-beta", name="beta"),
    team("org-side", name="side"),
    team("org-ghost", name="ghost"),  # a team billing reports no usage for
)

ONE_PAID = Account(teams=TEAMS, usages=[ACME, SIDE], free_user_limit=FREE_CREDITS)
TWO_PAID = Account(teams=TEAMS, usages=[ACME, BETA, SIDE], free_user_limit=FREE_CREDITS)
FREE_ONLY = Account(teams=TEAMS[2:], usages=[SIDE], free_user_limit=FREE_CREDITS)

ACME_PAID = PaidBilling(
    organization_id="org-acme", organization_name="Acme Corp", remaining=12_400, total=1_000,
    tier="PRO",
)  # fmt: skip
BETA_PAID = PaidBilling(
    organization_id="org-beta", organization_name="Beta", remaining=300, total=1_000,
    tier="ENTERPRISE",
)  # fmt: skip
DOWN = BillingApiError("Service Unavailable", endpoint="/billing/x", status_code=503)
EXPIRED = BillingAuthError("Invalid or expired session", endpoint="/billing/x", status_code=401)
AUTH_PROBLEM = Problem(part="auth", message="session invalid or expired: sign in again")


@frozen
class Flavor:
    """Sync or async: builds the matching fakes and runs the use cases to completion."""

    is_async: bool

    def billing(self, account: Account | None = None, **options: Any) -> Any:
        cls = AsyncInMemoryBillingService if self.is_async else InMemoryBillingService
        return cls(account, **options)

    def teams(self, account: Account | None = None, **options: Any) -> Any:
        cls = AsyncInMemoryTeamService if self.is_async else InMemoryTeamService
        return cls(account, **options)

    def meet(self, barrier: threading.Barrier) -> Callable[[str], object]:
        """A service hook that waits at ``barrier`` (in a worker thread when async)."""
        if self.is_async:
            return lambda _: asyncio.to_thread(barrier.wait)
        return lambda _: barrier.wait()

    def resolve(self, **arguments: Any) -> BillingResolution:
        arguments = {"active_provider": "byterover", "session_key": KEY, **arguments}
        arguments.setdefault("pins", InMemoryPinStore())
        if self.is_async:
            return asyncio.run(aresolve_billing(**arguments))
        return resolve_billing(**arguments)

    def pin(self, **arguments: Any) -> Team | None:
        arguments = {"session_key": KEY, **arguments}
        if self.is_async:
            return asyncio.run(apin_billing_team(**arguments))
        return pin_billing_team(**arguments)


FLAVORS = [pytest.param(Flavor(False), id="sync"), pytest.param(Flavor(True), id="async")]


@pytest.fixture(params=FLAVORS)
def flavor(request: pytest.FixtureRequest) -> Flavor:
    return request.param  # type: ignore[no-any-return]


def _parts(resolution: BillingResolution) -> list[str]:
    return [problem.part for problem in resolution.problems]


# --- who is asked, and when ---------------------------------------------------------


@pytest.mark.parametrize("session_key", [None, ""])
def test_signed_out_is_no_status_no_problem_and_touches_nothing(
    flavor: Flavor, session_key: str | None
) -> None:
    billing, pins = flavor.billing(ONE_PAID), InMemoryPinStore("org-acme")
    resolution = flavor.resolve(session_key=session_key, billing=billing, pins=pins)
    assert resolution == BillingResolution(status=None)
    assert sum(billing.calls.values()) == 0
    assert pins.reads == 0


@pytest.mark.parametrize(
    ("provider", "expected"),
    [("openai", OtherProviderBilling(active_provider="openai")), ("", OtherProviderBilling())],
)
def test_other_provider_fetches_nothing(
    flavor: Flavor, provider: str, expected: OtherProviderBilling
) -> None:
    billing, pins = flavor.billing(ONE_PAID), InMemoryPinStore("org-acme")
    resolution = flavor.resolve(active_provider=provider, billing=billing, pins=pins)
    assert resolution == BillingResolution(status=expected)
    assert sum(billing.calls.values()) == 0
    assert pins.reads == 0


def test_one_resolve_asks_each_endpoint_once(flavor: Flavor) -> None:
    billing, pins = flavor.billing(ONE_PAID), InMemoryPinStore()
    assert flavor.resolve(billing=billing, pins=pins) == BillingResolution(status=ACME_PAID)
    assert billing.calls == {"usages": 1, "tiers": 1, "free-limit": 1}
    assert pins.reads == 1


@pytest.mark.parametrize(
    ("account", "pin", "free_limit_asked"),
    [(ONE_PAID, None, 0), (ONE_PAID, "org-side", 0), (TWO_PAID, None, 1), (FREE_ONLY, None, 1)],
)
def test_without_prefetch_the_free_limit_is_asked_only_when_shown(
    flavor: Flavor, account: Account, pin: str | None, free_limit_asked: int
) -> None:
    lazy = flavor.billing(account)
    eager = flavor.billing(account)
    pins = InMemoryPinStore(pin)
    assert flavor.resolve(billing=lazy, pins=pins, prefetch_free_limit=False) == flavor.resolve(
        billing=eager, pins=pins
    )
    assert lazy.calls["free-limit"] == free_limit_asked
    assert eager.calls["free-limit"] == 1


# --- the answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "pin", "status"),
    [
        (ONE_PAID, None, ACME_PAID),
        (TWO_PAID, None, TeamPickNeededBilling(candidates=[ACME_PAID, BETA_PAID], remaining=950, total=1_000)),  # noqa: E501
        (TWO_PAID, "org-beta", BETA_PAID),
        (TWO_PAID, "", TeamPickNeededBilling(candidates=[ACME_PAID, BETA_PAID], remaining=950, total=1_000)),  # noqa: E501
        (FREE_ONLY, None, FreeBilling(remaining=950, total=1_000)),
        (ONE_PAID, "org-side", InvalidPinBilling(organization_id="org-side", reason="free-tier", organization_name="Side Project")),  # noqa: E501
        (ONE_PAID, "org-gone", InvalidPinBilling(organization_id="org-gone", reason="not-a-member")),  # noqa: E501
    ],
)  # fmt: skip
def test_resolves_every_situation(
    flavor: Flavor, account: Account, pin: str | None, status: object
) -> None:
    resolution = flavor.resolve(billing=flavor.billing(account), pins=InMemoryPinStore(pin))
    assert resolution == BillingResolution(status=status)  # type: ignore[arg-type]
    assert resolution.ok


@settings(deadline=None)
@pytest.mark.parametrize("flavor", FLAVORS)
@given(account=accounts(), prefetch=st.booleans())
def test_resolve_over_the_fakes_is_the_pure_resolution(
    flavor: Flavor, account: Account, prefetch: bool
) -> None:
    resolution = flavor.resolve(
        billing=flavor.billing(account),
        pins=InMemoryPinStore(account.pinned_team_id),
        prefetch_free_limit=prefetch,
    )
    expected = build_status_billing(
        active_provider="byterover",
        is_authenticated=True,
        usages=account.usages,
        pinned_team_id=account.pinned_team_id,
        free_user_limit=account.free_user_limit,
    )
    assert resolution.status == expected
    # The fakes answer a missing free-credit record like upstream: with a 404.
    free_limit_failed = account.free_user_limit is None and isinstance(
        expected, FreeBilling | TeamPickNeededBilling
    )
    assert _parts(resolution) == (["free-limit"] if free_limit_failed else [])


# --- degradation: report, never raise --------------------------------------------------


def test_usages_down_is_no_status_and_a_problem(flavor: Flavor) -> None:
    billing = flavor.billing(ONE_PAID, failures={"usages": DOWN, "tiers": DOWN})
    resolution = flavor.resolve(billing=billing, pins=InMemoryPinStore("org-acme"))
    assert resolution.status is None
    assert resolution.problems == (
        Problem(
            part="usages",
            message="could not load credit usage: /billing/x answered 503: Service Unavailable;"
            " billing status unknown",
        ),
    )


def test_tiers_down_with_a_pin_among_the_usages_bills_it_without_a_tier(flavor: Flavor) -> None:
    billing = flavor.billing(TWO_PAID, failures={"tiers": DOWN})
    resolution = flavor.resolve(billing=billing, pins=InMemoryPinStore("org-beta"))
    assert resolution.status == attrs.evolve(BETA_PAID, tier=None)
    assert resolution.problems == (
        Problem(
            part="tiers",
            message="could not load subscription tiers: /billing/x answered 503:"
            " Service Unavailable; showing the pinned team without its tier",
        ),
    )


def test_tiers_down_keeps_the_pinned_teams_exceeded_limit(flavor: Flavor) -> None:
    over_limit = attrs.evolve(BETA, limit_exceeded=True)  # credits left, limit exceeded
    account = attrs.evolve(TWO_PAID, usages=[ACME, over_limit, SIDE])
    billing = flavor.billing(account, failures={"tiers": DOWN})
    resolution = flavor.resolve(billing=billing, pins=InMemoryPinStore("org-beta"))
    assert isinstance(resolution.status, PaidBilling)
    assert resolution.status.limit_exceeded
    assert is_billing_exhausted(resolution.status)


@pytest.mark.parametrize("pin", [None, "", "org-gone"])
def test_tiers_down_without_a_usable_pin_never_pretends_all_is_free(
    flavor: Flavor, pin: str | None
) -> None:
    billing = flavor.billing(TWO_PAID, failures={"tiers": DOWN})
    resolution = flavor.resolve(billing=billing, pins=InMemoryPinStore(pin))
    assert resolution.status is None
    assert _parts(resolution) == ["tiers"]
    assert resolution.problems[0].message.endswith("; cannot tell which teams are paid")


def test_conflicting_tier_entries_count_as_a_tiers_failure(flavor: Flavor) -> None:
    tiers = [
        OrganizationTier(organization_id="org-acme", tier="PRO"),
        OrganizationTier(organization_id="org-acme", tier="TEAM"),
    ]
    billing = flavor.billing(ONE_PAID, tiers=tiers)
    resolution = flavor.resolve(billing=billing, pins=InMemoryPinStore("org-acme"))
    assert resolution.status == attrs.evolve(ACME_PAID, tier=None)
    assert _parts(resolution) == ["tiers"]
    assert "conflicting tier entries" in resolution.problems[0].message


def test_conflicting_usages_are_a_usages_problem(flavor: Flavor) -> None:
    twin = attrs.evolve(ACME, remaining=1)
    billing = flavor.billing(Account(usages=[ACME, twin], free_user_limit=FREE_CREDITS))
    resolution = flavor.resolve(billing=billing)
    assert resolution.status is None
    assert _parts(resolution) == ["usages"]


@pytest.mark.parametrize(
    ("account", "status"),
    [
        (FREE_ONLY, FreeBilling()),
        (TWO_PAID, TeamPickNeededBilling(candidates=[ACME_PAID, BETA_PAID])),
    ],
)
@pytest.mark.parametrize("prefetch", [True, False])
def test_free_limit_down_shows_free_credits_without_numbers(
    flavor: Flavor, account: Account, status: object, prefetch: bool
) -> None:
    billing = flavor.billing(account, failures={"free-limit": DOWN})
    resolution = flavor.resolve(billing=billing, prefetch_free_limit=prefetch)
    assert resolution.status == status
    assert resolution.problems == (
        Problem(
            part="free-limit",
            message="could not load personal free credits: /billing/x answered 503:"
            " Service Unavailable; showing free credits without numbers",
        ),
    )


def test_free_limit_down_does_not_matter_to_a_paid_answer(flavor: Flavor) -> None:
    billing = flavor.billing(ONE_PAID, failures={"free-limit": DOWN})
    assert flavor.resolve(billing=billing) == BillingResolution(status=ACME_PAID)


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (PinStoreError("cannot read pin file /p/.brv/brv-provider.json: Permission denied"),
         "cannot read pin file /p/.brv/brv-provider.json: Permission denied"),
        (PermissionError(13, "Permission denied"), "[Errno 13] Permission denied"),
        (RuntimeError("some third-party detail"), "unexpected RuntimeError"),
    ],
)  # fmt: skip
def test_unreadable_pin_store_is_no_pin_and_a_problem(
    flavor: Flavor, error: Exception, detail: str
) -> None:
    pins = InMemoryPinStore("org-beta", fail_with=error)
    resolution = flavor.resolve(billing=flavor.billing(TWO_PAID), pins=pins)
    assert resolution.status == TeamPickNeededBilling(
        candidates=[ACME_PAID, BETA_PAID], remaining=950, total=1_000
    )
    assert resolution.problems == (
        Problem(
            part="pins",
            message=f"could not read the billing pin: {detail}; treating the project as unpinned",
        ),
    )


def test_corrupt_pin_file_is_no_pin_and_a_problem(flavor: Flavor, tmp_path: Path) -> None:
    store = FilePinStore(tmp_path / ".brv")
    store.path.parent.mkdir()
    store.path.write_text('{"billing": {"pinnedTeamId": ')
    resolution = flavor.resolve(billing=flavor.billing(TWO_PAID), pins=store)
    assert isinstance(resolution.status, TeamPickNeededBilling)
    assert _parts(resolution) == ["pins"]
    message = resolution.problems[0].message
    assert "is corrupt" in message
    assert message.endswith("; treating the project as unpinned")


def test_a_good_pin_file_is_read(flavor: Flavor, tmp_path: Path) -> None:
    store = FilePinStore(tmp_path / ".brv")
    store.set_pinned_team_id("org-beta")
    resolution = flavor.resolve(billing=flavor.billing(TWO_PAID), pins=store)
    assert resolution == BillingResolution(status=BETA_PAID)


@pytest.mark.parametrize(
    ("account", "failures"),
    [
        (ONE_PAID, {"usages": EXPIRED}),
        (ONE_PAID, {"tiers": EXPIRED}),
        (ONE_PAID, {"usages": DOWN, "tiers": EXPIRED}),
        (FREE_ONLY, {"free-limit": EXPIRED}),
    ],
)
def test_an_expired_session_is_no_status_and_an_auth_problem(
    flavor: Flavor, account: Account, failures: dict[str, Exception]
) -> None:
    resolution = flavor.resolve(billing=flavor.billing(account, failures=failures))
    assert resolution == BillingResolution(status=None, problems=[AUTH_PROBLEM])


def test_a_wrong_session_key_is_one_auth_problem(flavor: Flavor) -> None:
    billing = flavor.billing(FREE_ONLY, session_key="the-valid-key")
    resolution = flavor.resolve(billing=billing, session_key="a-stale-key")
    assert resolution == BillingResolution(status=None, problems=[AUTH_PROBLEM])


def test_pin_problem_and_upstream_problem_are_both_reported(flavor: Flavor) -> None:
    pins = InMemoryPinStore(fail_with=PinStoreError("locked"))
    billing = flavor.billing(ONE_PAID, failures={"usages": EXPIRED})
    resolution = flavor.resolve(billing=billing, pins=pins)
    assert resolution.status is None
    assert _parts(resolution) == ["pins", "auth"]


class _Odd:
    """A third-party billing service returning the wrong types."""

    def get_raw_usages(self, session_key: str) -> object:
        return [{"organizationId": "org-acme"}]

    def get_tiers(self, session_key: str) -> object:
        return ()

    def get_free_user_limit(self, session_key: str) -> object:
        return FREE_CREDITS


def test_a_service_returning_the_wrong_types_is_a_problem_not_a_crash() -> None:
    resolution = resolve_billing(
        active_provider="byterover",
        session_key=KEY,
        billing=_Odd(),  # type: ignore[arg-type]
        pins=InMemoryPinStore(),
    )
    assert resolution.status is None
    assert resolution.problems == (
        Problem(
            part="usages",
            message="could not load credit usage: usages[0] must be a RawUsage, not dict;"
            " billing status unknown",
        ),
    )


class _Abort(BaseException):
    """Stands for KeyboardInterrupt and friends: never the shell's to swallow."""


@pytest.mark.parametrize("part", ["usages", "tiers", "free-limit"])
def test_base_exceptions_are_not_swallowed(flavor: Flavor, part: str) -> None:
    billing = flavor.billing(ONE_PAID, failures={part: _Abort()})
    with pytest.raises(_Abort):
        flavor.resolve(billing=billing)
    with pytest.raises(_Abort):
        flavor.resolve(billing=flavor.billing(ONE_PAID), pins=InMemoryPinStore(fail_with=_Abort()))


# --- the session key is a secret -----------------------------------------------------

SECRET = "sk-live-SECRET-4242abcd"


@pytest.mark.parametrize(
    ("account", "failures", "pin_failure"),
    [
        (ONE_PAID, {"usages": BillingApiError(f"bad {SECRET}", endpoint="/u")}, None),
        (TWO_PAID, {"tiers": BillingApiError(f"bad {SECRET}", endpoint="/t")}, None),
        (FREE_ONLY, {"free-limit": BillingApiError(f"bad {SECRET}", endpoint="/f")}, None),
        (ONE_PAID, {"usages": RuntimeError(SECRET)}, None),
        (FREE_ONLY, {}, OSError(f"cannot open {SECRET}")),
        (FREE_ONLY, {}, ValueError(SECRET)),
    ],
)
def test_the_session_key_never_reaches_a_problem(
    flavor: Flavor,
    account: Account,
    failures: dict[str, Exception],
    pin_failure: Exception | None,
) -> None:
    billing = flavor.billing(account, session_key=SECRET, failures=failures)
    pins = InMemoryPinStore(fail_with=pin_failure)
    resolution = flavor.resolve(billing=billing, pins=pins, session_key=SECRET)
    assert resolution.problems  # something was reported...
    assert SECRET not in repr(resolution)  # ...without the key
    assert all(SECRET not in problem.message for problem in resolution.problems)


# --- one round trip: the fetches overlap -------------------------------------------------


@pytest.mark.parametrize("prefetch", [True, False])
def test_pin_usages_tiers_and_free_limit_are_fetched_at_once(
    flavor: Flavor, prefetch: bool
) -> None:
    # Every call waits at the barrier until all have arrived: made one after
    # the other, the first would time out and the resolve would report it.
    barrier = threading.Barrier(4 if prefetch else 3, timeout=5)
    billing = flavor.billing(
        ONE_PAID,
        delay=0.05,
        on_call=flavor.meet(barrier),
        failures={} if prefetch else {"free-limit": AssertionError("not needed")},
    )
    pins = InMemoryPinStore("org-acme", on_call=lambda _: barrier.wait())
    resolution = flavor.resolve(billing=billing, pins=pins, prefetch_free_limit=prefetch)
    assert resolution == BillingResolution(status=ACME_PAID)
    assert not barrier.broken


def test_many_threads_resolve_at_once() -> None:
    results: list[BillingResolution] = []
    lock = threading.Lock()

    def work() -> None:
        resolution = Flavor(False).resolve(billing=InMemoryBillingService(ONE_PAID, delay=0.01))
        with lock:
            results.append(resolution)

    threads = [threading.Thread(target=work) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [BillingResolution(status=ACME_PAID)] * 40


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_can_resolve() -> None:
    Flavor(False).resolve(billing=InMemoryBillingService(ONE_PAID))  # the pool exists now
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            resolution = resolve_billing(
                active_provider="byterover",
                session_key=KEY,
                billing=InMemoryBillingService(ONE_PAID),
                pins=InMemoryPinStore(),
            )
            os._exit(0 if resolution.status == ACME_PAID else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# --- prefetching or not, faults or not: one answer ------------------------------------


@settings(deadline=None, max_examples=60)
@pytest.mark.parametrize("flavor", FLAVORS)
@given(
    account=accounts(),
    failing=st.sets(st.sampled_from(["usages", "tiers", "free-limit"])),
    expired=st.booleans(),
    pin_unreadable=st.booleans(),
)
def test_prefetching_never_changes_the_answer(
    flavor: Flavor, account: Account, failing: set[str], expired: bool, pin_unreadable: bool
) -> None:
    error = EXPIRED if expired else DOWN
    answers = [
        flavor.resolve(
            billing=flavor.billing(account, failures=dict.fromkeys(failing, error)),
            pins=InMemoryPinStore(
                account.pinned_team_id,
                fail_with=PinStoreError("unreadable") if pin_unreadable else None,
            ),
            prefetch_free_limit=prefetch,
        )
        for prefetch in (True, False)
    ]
    assert answers[0] == answers[1]
    if failing & {"usages", "tiers"} and expired:
        assert answers[0].status is None
        assert "auth" in _parts(answers[0])
    if "usages" in failing:
        assert answers[0].status is None


# --- the pin use case ----------------------------------------------------------------


def _pin(flavor: Flavor, query: str | None, **overrides: Any) -> tuple[Any, InMemoryPinStore]:
    pins = overrides.pop("pins", InMemoryPinStore("org-beta"))
    arguments = {
        "query": query,
        "billing": flavor.billing(TWO_PAID),
        "teams": flavor.teams(TWO_PAID),
        "pins": pins,
        **overrides,
    }
    return flavor.pin(**arguments), pins


@pytest.mark.parametrize("query", ["org-acme", "acme-corp", "ACME", None])
@pytest.mark.parametrize("session_key", [None, ""])
def test_pinning_needs_a_session_and_leaves_the_pin_alone(
    flavor: Flavor, query: str | None, session_key: str | None
) -> None:
    billing, teams, pins = flavor.billing(TWO_PAID), flavor.teams(TWO_PAID), InMemoryPinStore("x")
    with pytest.raises(NotAuthenticatedError):
        flavor.pin(session_key=session_key, query=query, billing=billing, teams=teams, pins=pins)
    assert (pins.team_id, pins.writes, pins.reads) == ("x", 0, 0)
    assert sum(billing.calls.values()) + sum(teams.calls.values()) == 0


@pytest.mark.parametrize("query", ["org-acme", "acme-corp", "  ACME ", "Acme"])
def test_pinning_a_paid_team_writes_and_returns_it(flavor: Flavor, query: str) -> None:
    team_, pins = _pin(flavor, query)
    assert team_ == TEAMS[0]
    assert pins.team_id == "org-acme"


def test_clearing_writes_none_and_fetches_nothing(flavor: Flavor) -> None:
    billing, teams = flavor.billing(TWO_PAID), flavor.teams(TWO_PAID)
    cleared, pins = _pin(flavor, None, billing=billing, teams=teams)
    assert cleared is None
    assert pins.team_id is None
    assert sum(billing.calls.values()) + sum(teams.calls.values()) == 0


def test_a_free_tier_team_is_refused_naming_the_paid_teams(flavor: Flavor) -> None:
    with pytest.raises(InvalidPinError) as caught:
        _pin(flavor, "side", pins=(pins := InMemoryPinStore("org-beta")))
    assert str(caught.value) == (
        "team Side is on the FREE tier and cannot be billed;"
        " paid teams: Acme (slug acme-corp), Beta (slug beta)"
    )
    assert (pins.team_id, pins.writes) == ("org-beta", 0)


def test_a_team_without_usage_is_refused(flavor: Flavor) -> None:
    with pytest.raises(InvalidPinError, match="team Ghost has no billing usage and cannot be"):
        _pin(flavor, "ghost")


def test_refusal_says_so_when_there_is_no_paid_team(flavor: Flavor) -> None:
    with pytest.raises(InvalidPinError, match=r"you have no paid team$"):
        _pin(flavor, "side", billing=flavor.billing(FREE_ONLY))


def test_unknown_and_ambiguous_queries_are_refused(flavor: Flavor) -> None:
    with pytest.raises(TeamNotFoundError):
        _pin(flavor, "globex")
    twins = [team("org-1", name="twin"), team("org-2", name="twin")]
    with pytest.raises(AmbiguousTeamError):
        _pin(flavor, "twin", teams=flavor.teams(teams=twins))


@pytest.mark.parametrize(
    ("billing_failures", "team_failures", "raised"),
    [
        ({"tiers": DOWN}, {}, BillingApiError),
        ({}, {"teams": DOWN}, BillingApiError),
        ({"usages": DOWN}, {"teams": EXPIRED}, BillingAuthError),
        ({"usages": EXPIRED}, {"teams": DOWN}, BillingAuthError),
    ],
)
def test_upstream_failures_raise_and_leave_the_pin_alone(
    flavor: Flavor,
    billing_failures: dict[str, Exception],
    team_failures: dict[str, Exception],
    raised: type[Exception],
) -> None:
    with pytest.raises(raised):
        _pin(
            flavor,
            "acme",
            billing=flavor.billing(TWO_PAID, failures=billing_failures),
            teams=flavor.teams(TWO_PAID, failures=team_failures),
            pins=(pins := InMemoryPinStore("org-beta")),
        )
    assert (pins.team_id, pins.writes) == ("org-beta", 0)


def test_a_failing_pin_store_raises(flavor: Flavor) -> None:
    with pytest.raises(PinStoreError, match="read-only"):
        _pin(flavor, "acme", pins=InMemoryPinStore(fail_with=PinStoreError("read-only")))


def test_teams_and_usages_are_fetched_at_once(flavor: Flavor) -> None:
    barrier = threading.Barrier(2, timeout=5)
    meet = flavor.meet(barrier)

    def hook(part: str) -> object:  # tiers (the usages' second half) need not meet
        return None if part == "tiers" else meet(part)

    pinned, _ = _pin(
        flavor,
        "beta",
        billing=flavor.billing(TWO_PAID, on_call=hook),
        teams=flavor.teams(TWO_PAID, on_call=hook),
    )
    assert pinned == TEAMS[1]
    assert not barrier.broken


# --- over real HTTP: the adapters against the loopback fake API ------------------------


def _resolve_over_http(flavor: Flavor, api: FakeBillingApi, **arguments: Any) -> Any:
    arguments = {
        "active_provider": "byterover",
        "session_key": api.session_key,
        "pins": InMemoryPinStore(),
        **arguments,
    }
    if not flavor.is_async:
        with HttpBillingService(api.base_url, timeout=5) as billing:
            return resolve_billing(billing=billing, **arguments)

    async def run() -> BillingResolution:
        async with AsyncHttpBillingService(api.base_url, timeout=5) as billing:
            return await aresolve_billing(billing=billing, **arguments)

    return asyncio.run(run())


def _pin_over_http(flavor: Flavor, api: FakeBillingApi, query: str, pins: Any) -> Any:
    arguments = {"session_key": api.session_key, "query": query, "pins": pins}
    if not flavor.is_async:
        with (
            HttpBillingService(api.base_url, timeout=5) as billing,
            HttpTeamService(api.team_base_url, timeout=5) as teams,
        ):
            return pin_billing_team(billing=billing, teams=teams, **arguments)

    async def run() -> Team | None:
        async with (
            AsyncHttpBillingService(api.base_url, timeout=5) as billing,
            AsyncHttpTeamService(api.team_base_url, timeout=5) as teams,
        ):
            return await apin_billing_team(billing=billing, teams=teams, **arguments)

    return asyncio.run(run())


@pytest.mark.parametrize("prefetch", [True, False])
def test_http_resolve_is_one_request_per_endpoint(
    flavor: Flavor, fake_api: FakeBillingApi, prefetch: bool
) -> None:
    fake_api.account = TWO_PAID
    pins = InMemoryPinStore("org-beta")
    resolution = _resolve_over_http(flavor, fake_api, pins=pins, prefetch_free_limit=prefetch)
    assert resolution == BillingResolution(status=BETA_PAID)
    assert fake_api.request_count == (3 if prefetch else 2)  # the free limit is not needed


def test_http_tiers_error_with_a_paid_pin_bills_it_without_a_tier(
    flavor: Flavor, fake_api: FakeBillingApi
) -> None:
    fake_api.account = TWO_PAID
    fake_api.fail("tiers", status=500)
    resolution = _resolve_over_http(flavor, fake_api, pins=InMemoryPinStore("org-acme"))
    assert resolution.status == attrs.evolve(ACME_PAID, tier=None)
    assert _parts(resolution) == ["tiers"]
    assert "500" in resolution.problems[0].message
    assert fake_api.requests_by_endpoint == {"usages": 1, "tiers": 1, "free-limit": 1}


def test_http_stale_session_is_an_auth_problem_without_the_key(
    flavor: Flavor, fake_api: FakeBillingApi
) -> None:
    fake_api.account = TWO_PAID
    resolution = _resolve_over_http(flavor, fake_api, session_key="sk-stale-0000")
    assert resolution == BillingResolution(status=None, problems=[AUTH_PROBLEM])


def test_http_free_account_without_free_record_is_a_free_limit_problem(
    flavor: Flavor, fake_api: FakeBillingApi
) -> None:
    fake_api.account = attrs.evolve(FREE_ONLY, free_user_limit=None)
    resolution = _resolve_over_http(flavor, fake_api)
    assert resolution.status == FreeBilling()
    assert _parts(resolution) == ["free-limit"]
    assert fake_api.session_key not in repr(resolution)


def test_http_pin_writes_the_paid_team_and_refuses_a_free_one(
    flavor: Flavor, fake_api: FakeBillingApi, tmp_path: Path
) -> None:
    fake_api.account = TWO_PAID
    pins = FilePinStore(tmp_path / ".brv")
    assert _pin_over_http(flavor, fake_api, "acme-corp", pins) == TEAMS[0]
    assert pins.get_pinned_team_id() == "org-acme"
    with pytest.raises(
        InvalidPinError, match=r"paid teams: Acme \(slug acme-corp\), Beta \(slug beta\)$"
    ):
        _pin_over_http(flavor, fake_api, "side", pins)
    assert pins.get_pinned_team_id() == "org-acme"
