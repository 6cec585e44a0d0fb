"""The billing monitors: answers from memory, one refresh per max_age, pins without requests.

Most tests run in both flavours through :class:`Flavor` (an async monitor is
driven on one event loop kept across calls), against the in-memory fakes and a
:class:`FakeClock` that moves only when told; a few use the loopback
FakeBillingApi. Concurrency is made deterministic by holding the refresh at the
fake upstream until every caller has read the clock, that is, has entered the
monitor.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core import (
    AsyncBillingMonitor,
    AsyncHttpBillingService,
    BillingApiError,
    BillingAuthError,
    BillingConfigError,
    BillingError,
    BillingMonitor,
    BillingPayloadError,
    BillingResolution,
    CommandHints,
    FilePinStore,
    HttpBillingService,
    InsufficientCreditsError,
    InvalidPinBilling,
    NotAuthenticatedError,
    OtherProviderBilling,
    PinRead,
    Problem,
    StatusBilling,
    build_status_billing,
    ensure_billing_funds,
)
from billing_core._monitor_state import CheckPin, MonitorState, Refresh
from billing_core._plan import Err, Fetched, Ok
from billing_core.testing import (
    DEFAULT_SESSION_KEY,
    Account,
    AsyncInMemoryBillingService,
    FakeBillingApi,
    InMemoryBillingService,
    InMemoryPinStore,
)
from billing_core.testing.sample import ACME_TEAM_ID, SIDE_PROJECT_TEAM_ID, sample_account
from billing_core.testing.strategies import accounts

KEY = DEFAULT_SESSION_KEY
ACCOUNT = sample_account()
EXHAUSTED = sample_account(acme_remaining=0)
DOWN = BillingApiError("Service Unavailable", endpoint="GET /billing/usages", status_code=503)
NOT_FOUND = BillingApiError("Not Found", endpoint="GET /billing/usages", status_code=404)
EXPIRED = BillingAuthError("expired session", endpoint="GET /billing/usages", status_code=401)
AUTH_PROBLEM = Problem(part="auth", message="session invalid or expired: sign in again")
ONE_REFRESH = {"usages": 1, "tiers": 1, "free-limit": 1}


def expected(account: Account, pin: str | None = None) -> StatusBilling:
    """What the pure core says for ``account`` and ``pin``."""
    status = build_status_billing(
        active_provider="byterover",
        is_authenticated=True,
        usages=account.usages,
        pinned_team_id=pin or None,
        free_user_limit=account.free_user_limit,
    )
    assert status is not None
    return status


def serve(billing: Any, account: Account) -> None:
    """Make the fake upstream answer for ``account`` from now on."""
    billing.raw_usages = account.raw_usages()
    billing.tiers = account.tiers()
    billing.free_user_limit = account.free_user_limit


def refreshes(billing: Any) -> int:
    return int(billing.calls["usages"])


class FakeClock:
    """A monotonic clock that moves only when told; it notes which thread or task read it."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now
        self._readers: set[object] = set()
        self._lock = threading.Condition()

    def __call__(self) -> float:
        try:
            reader: object = asyncio.current_task() or threading.get_ident()
        except RuntimeError:  # no running loop
            reader = threading.get_ident()
        with self._lock:
            self._readers.add(reader)
            self._lock.notify_all()
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def forget_readers(self) -> None:
        with self._lock:
            self._readers.clear()

    def wait_for_readers(self, count: int, timeout: float = 20.0) -> bool:
        """Block until ``count`` threads have read the clock since the last forget."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._readers) >= count, timeout=timeout)

    async def readers(self, count: int, timeout: float = 20.0) -> None:
        """The async twin: until ``count`` tasks have read the clock."""
        deadline = time.monotonic() + timeout
        while len(self._readers) < count:
            assert time.monotonic() < deadline, "the callers never all arrived"
            await asyncio.sleep(0.001)


class Driven:
    """One monitor driven by plain calls, whatever its flavour (async: on one kept loop)."""

    def __init__(self, monitor: Any, runner: asyncio.Runner | None) -> None:
        self.monitor, self.runner = monitor, runner

    def _do(self, result: Any) -> Any:
        return result if self.runner is None else self.runner.run(result)

    def current(self) -> BillingResolution:
        return self._do(self.monitor.current())  # type: ignore[no-any-return]

    def gate(self, **options: Any) -> BillingResolution:
        return self._do(self.monitor.gate(**options))  # type: ignore[no-any-return]

    def set_pin(self, team_id: str | None) -> BillingResolution:
        return self._do(self.monitor.set_pinned_team_id(team_id))  # type: ignore[no-any-return]

    def invalidate(self) -> None:
        self.monitor.invalidate()

    def subscribe(self, callback: Callable[..., object]) -> Callable[[], None]:
        return self.monitor.subscribe(callback)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.runner is None:
            self.monitor.close()
        else:
            self.runner.run(self.monitor.aclose())
            self.runner.close()


@frozen
class Flavor:
    """Sync or async: the matching fake service and monitor."""

    is_async: bool

    def billing(self, account: Account = ACCOUNT, **options: Any) -> Any:
        cls = AsyncInMemoryBillingService if self.is_async else InMemoryBillingService
        return cls(account, **options)

    def monitor(self, billing: Any, pins: Any = None, **options: Any) -> Driven:
        arguments = {
            "active_provider": "byterover",
            "session_key": KEY,
            "billing": billing,
            "pins": InMemoryPinStore() if pins is None else pins,
            "clock": FakeClock(),
            **options,
        }
        if self.is_async:
            return Driven(AsyncBillingMonitor(**arguments), asyncio.Runner())
        return Driven(BillingMonitor(**arguments), None)


FLAVORS = [pytest.param(Flavor(False), id="sync"), pytest.param(Flavor(True), id="async")]


@pytest.fixture(params=FLAVORS)
def flavor(request: pytest.FixtureRequest) -> Flavor:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- serving from memory ---------------------------------------------------------------


def test_the_first_call_refreshes_and_later_ones_are_served_from_memory(
    flavor: Flavor, clock: FakeClock
) -> None:
    billing, pins = flavor.billing(), InMemoryPinStore()
    monitor = flavor.monitor(billing, pins, clock=clock)
    first = monitor.current()
    assert first == BillingResolution(status=expected(ACCOUNT))
    for _ in range(50):
        clock.advance(0.01)  # within pin_interval: not even the pin is looked at
        assert monitor.current() is first
    assert billing.calls == ONE_REFRESH
    assert pins.reads == 1
    monitor.close()


def test_a_refresh_is_due_max_age_after_the_last(flavor: Flavor, clock: FakeClock) -> None:
    billing = flavor.billing()
    monitor = flavor.monitor(billing, clock=clock, max_age=60)
    monitor.current()
    serve(billing, EXHAUSTED)
    clock.advance(59.9)
    assert monitor.current().status == expected(ACCOUNT)
    assert refreshes(billing) == 1
    clock.advance(0.1)
    assert monitor.current().status == expected(EXHAUSTED)
    assert monitor.current().status == expected(EXHAUSTED)
    assert refreshes(billing) == 2
    monitor.close()


@pytest.mark.parametrize(
    ("provider", "session_key", "status"),
    [("openai", KEY, OtherProviderBilling(active_provider="openai")), ("byterover", None, None)],
)
def test_nothing_to_fetch_means_no_request_ever(
    flavor: Flavor, clock: FakeClock, provider: str, session_key: str | None, status: Any
) -> None:
    billing, pins = flavor.billing(), InMemoryPinStore(ACME_TEAM_ID)
    monitor = flavor.monitor(
        billing, pins, clock=clock, active_provider=provider, session_key=session_key
    )
    for _ in range(3):
        clock.advance(1_000)
        monitor.invalidate()
        assert monitor.current() == BillingResolution(status=status)
    assert sum(billing.calls.values()) == 0
    assert pins.reads == 0
    monitor.close()


# --- single flight -----------------------------------------------------------------------


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "stale"])
def test_threads_share_one_refresh(clock: FakeClock, warm: bool) -> None:
    callers = 16
    billing = InMemoryBillingService(ACCOUNT)
    monitor = BillingMonitor(
        active_provider="byterover",
        session_key=KEY,
        billing=billing,
        pins=InMemoryPinStore(),
        clock=clock,
    )
    if warm:
        monitor.current()
        clock.advance(60)
        serve(billing, EXHAUSTED)

    def hold(part: str) -> None:
        # The refresh answers only once every caller has entered the monitor:
        # a monitor without single flight would have made one refresh each.
        if part == "usages":
            assert clock.wait_for_readers(callers), "the callers never all arrived"

    billing.on_call = hold
    clock.forget_readers()
    results: list[BillingResolution] = []
    threads = [
        threading.Thread(target=lambda: results.append(monitor.current())) for _ in range(callers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert refreshes(billing) == 1 + warm
    assert billing.calls["tiers"] == billing.calls["free-limit"] == 1 + warm
    assert results == [BillingResolution(status=expected(EXHAUSTED if warm else ACCOUNT))] * callers
    monitor.close()


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "stale"])
def test_tasks_share_one_refresh(clock: FakeClock, warm: bool) -> None:
    callers = 200

    async def scenario() -> None:
        billing = AsyncInMemoryBillingService(ACCOUNT)
        async with AsyncBillingMonitor(
            active_provider="byterover",
            session_key=KEY,
            billing=billing,
            pins=InMemoryPinStore(),
            clock=clock,
        ) as monitor:
            if warm:
                await monitor.current()
                clock.advance(60)
                serve(billing, EXHAUSTED)

            async def hold(part: str) -> None:
                if part == "usages":
                    await clock.readers(callers)

            billing.on_call = hold
            clock.forget_readers()
            results = await asyncio.gather(*(monitor.current() for _ in range(callers)))
        assert refreshes(billing) == 1 + warm
        assert billing.calls["tiers"] == billing.calls["free-limit"] == 1 + warm
        status = expected(EXHAUSTED if warm else ACCOUNT)
        assert results == [BillingResolution(status=status)] * callers

    asyncio.run(scenario())


def test_a_cancelled_caller_does_not_cancel_the_shared_refresh(clock: FakeClock) -> None:
    async def scenario() -> None:
        release = asyncio.Event()

        async def hold(part: str) -> None:
            if part == "usages":
                await release.wait()

        billing = AsyncInMemoryBillingService(ACCOUNT, on_call=hold)
        async with AsyncBillingMonitor(
            active_provider="byterover", session_key=KEY, billing=billing,
            pins=InMemoryPinStore(), clock=clock,
        ) as monitor:  # fmt: skip
            leader = asyncio.create_task(monitor.current())
            follower = asyncio.create_task(monitor.current())
            await clock.readers(2)
            leader.cancel()
            await asyncio.sleep(0)
            release.set()
            assert (await follower).status == expected(ACCOUNT)
            assert leader.cancelled()
        assert refreshes(billing) == 1

    asyncio.run(scenario())


def test_one_thousand_tasks_over_http_make_one_set_of_gets() -> None:
    async def scenario(api: FakeBillingApi) -> list[BillingResolution]:
        async with (
            AsyncHttpBillingService(api.base_url) as billing,
            AsyncBillingMonitor(
                active_provider="byterover", session_key=api.session_key, billing=billing,
                pins=InMemoryPinStore(),
            ) as monitor,
        ):  # fmt: skip
            return await asyncio.gather(*(monitor.current() for _ in range(1_000)))

    with FakeBillingApi(ACCOUNT, latency=0.05) as api:
        results = asyncio.run(scenario(api))
        assert api.requests_by_endpoint == {"usages": 1, "tiers": 1, "free-limit": 1}
    assert set(results) == {BillingResolution(status=expected(ACCOUNT))}


# --- the pin ----------------------------------------------------------------------------


class CountingFilePinStore(FilePinStore):
    """A FilePinStore counting the monitor's reads (it keeps its path: the monitor stats it)."""

    reads = 0

    def read_pin(self) -> PinRead:
        self.reads += 1
        return super().read_pin()


def test_a_pin_written_elsewhere_is_seen_within_pin_interval_with_no_request(
    flavor: Flavor, clock: FakeClock, tmp_path: Path
) -> None:
    billing = flavor.billing()
    pins = CountingFilePinStore(tmp_path / ".brv")
    monitor = flavor.monitor(billing, pins, clock=clock, pin_interval=1.0)
    assert monitor.current().status == expected(ACCOUNT)
    assert pins.reads == 1
    clock.advance(1.0)
    monitor.current()
    assert pins.reads == 1  # the file did not change: one stat, no read
    FilePinStore(tmp_path / ".brv").set_pinned_team_id(SIDE_PROJECT_TEAM_ID)  # another tool
    clock.advance(0.5)
    assert monitor.current().status == expected(ACCOUNT)  # not looked at yet
    clock.advance(0.5)
    assert monitor.current().status == expected(ACCOUNT, SIDE_PROJECT_TEAM_ID)
    assert pins.reads == 2
    FilePinStore(tmp_path / ".brv").set_pinned_team_id(None)
    clock.advance(1.0)
    assert monitor.current().status == expected(ACCOUNT)
    assert billing.calls == ONE_REFRESH  # decided again from what was held
    monitor.close()


def test_a_store_without_a_path_is_read_once_per_pin_interval(
    flavor: Flavor, clock: FakeClock
) -> None:
    billing, pins = flavor.billing(), InMemoryPinStore()
    monitor = flavor.monitor(billing, pins, clock=clock, pin_interval=1.0)
    monitor.current()
    pins.set_pinned_team_id(SIDE_PROJECT_TEAM_ID)
    for _ in range(9):
        clock.advance(0.1)
        assert monitor.current().status == expected(ACCOUNT)
    assert pins.reads == 1
    clock.advance(0.1)
    assert monitor.current().status == expected(ACCOUNT, SIDE_PROJECT_TEAM_ID)
    assert pins.reads == 2
    assert billing.calls == ONE_REFRESH
    monitor.close()


def test_a_pin_written_through_the_monitor_is_decided_at_once(
    flavor: Flavor, clock: FakeClock, tmp_path: Path
) -> None:
    billing, pins = flavor.billing(), FilePinStore(tmp_path / ".brv")
    monitor = flavor.monitor(billing, pins, clock=clock, pin_interval=1_000.0)
    monitor.current()
    pinned = monitor.set_pin(SIDE_PROJECT_TEAM_ID)
    assert pinned.status == expected(ACCOUNT, SIDE_PROJECT_TEAM_ID)
    assert isinstance(pinned.status, InvalidPinBilling)  # a FREE-tier team: shown, refused
    assert pins.get_pinned_team_id() == SIDE_PROJECT_TEAM_ID
    assert monitor.current() == pinned
    assert monitor.set_pin(None).status == expected(ACCOUNT)
    assert pins.get_pinned_team_id() is None
    assert billing.calls == ONE_REFRESH
    monitor.close()


def test_pinning_needs_a_session_and_raises_the_stores_errors(
    flavor: Flavor, clock: FakeClock
) -> None:
    signed_out = flavor.monitor(flavor.billing(), clock=clock, session_key=None)
    with pytest.raises(NotAuthenticatedError):
        signed_out.set_pin(ACME_TEAM_ID)
    signed_out.close()
    broken = InMemoryPinStore(fail_with=OSError("disk on fire"))
    monitor = flavor.monitor(flavor.billing(), broken, clock=clock)
    with pytest.raises(OSError, match="disk on fire"):
        monitor.set_pin(ACME_TEAM_ID)
    monitor.close()


def test_a_late_pin_answer_never_overwrites_a_newer_one() -> None:
    """Each look at the pin has a ticket, issued in order: the newest look wins,
    whichever lands last (a slow refresh, a slow pin check)."""
    state = MonitorState(active_provider="byterover", session_key=KEY)
    first = state.step(now=0.0)
    assert isinstance(first, Refresh)
    state.refreshed(first.ticket, _fetched(ACCOUNT, None), pin_identity=None, now=0.0)
    check = state.step(now=1.0)
    assert check == CheckPin(ticket=2)  # reads pin A...
    refresh = state.step(now=60.0)
    assert refresh == Refresh(ticket=3, background=False)  # ...this reads pin A too...
    written = state.pin_ticket()  # ...then pin B is written through the monitor
    state.pin_read(written, Ok(PinRead(SIDE_PROJECT_TEAM_ID)), pin_identity=None, now=60.0)
    state.pin_read(check.ticket, Ok(PinRead(None)), pin_identity=None, now=60.1)
    state.refreshed(refresh.ticket, _fetched(ACCOUNT, None), pin_identity=None, now=60.2)
    assert state.resolution is not None
    assert state.resolution.status == expected(ACCOUNT, SIDE_PROJECT_TEAM_ID)


def _fetched(account: Account, pin: str | None) -> Fetched:
    return Fetched(
        pin=Ok(PinRead(pin)),
        raw_usages=Ok(account.raw_usages()),
        tiers=Ok(account.tiers()),
        free_limit=Ok(account.free_user_limit),  # type: ignore[arg-type]
    )


# --- invalidation ---------------------------------------------------------------------------


def test_invalidate_makes_the_next_call_refresh_once(flavor: Flavor, clock: FakeClock) -> None:
    billing = flavor.billing()
    monitor = flavor.monitor(billing, clock=clock, refresh_ahead=True)
    monitor.current()
    serve(billing, EXHAUSTED)  # the LLM endpoint said 402: credits are gone
    monitor.invalidate()
    for _ in range(5):
        assert monitor.current().status == expected(EXHAUSTED)  # waited for, even ahead
    assert refreshes(billing) == 2
    monitor.close()


def test_an_invalidate_during_a_refresh_asks_for_another(clock: FakeClock) -> None:
    billing = InMemoryBillingService(ACCOUNT)
    monitor = BillingMonitor(
        active_provider="byterover", session_key=KEY, billing=billing, pins=InMemoryPinStore(),
        clock=clock,
    )  # fmt: skip
    monitor.current()
    clock.advance(60)

    def refused_meanwhile(part: str) -> None:
        if part == "usages" and refreshes(billing) == 2:  # the refresh in flight
            monitor.invalidate()  # its answer may predate the refusal

    billing.on_call = refused_meanwhile
    monitor.current()
    assert refreshes(billing) == 3
    monitor.close()


# --- failures ---------------------------------------------------------------------------------


def test_a_failed_refresh_serves_the_last_status_for_at_most_max_stale(
    flavor: Flavor, clock: FakeClock
) -> None:
    billing = flavor.billing()
    monitor = flavor.monitor(billing, clock=clock, max_age=60, max_stale=600, retry_interval=5)
    good = monitor.current()
    billing.failures["usages"] = DOWN
    clock.advance(60)
    stale = monitor.current()
    assert stale.status == good.status
    [problem] = stale.problems
    assert problem.part == "usages"
    assert "503" in problem.message
    assert "showing what was fetched 60 s ago" in problem.message
    clock.advance(539)  # 599 s after the last good fetch: retried, still failing
    assert monitor.current().status == good.status
    assert refreshes(billing) > 2
    clock.advance(1)  # max_stale: the status is dropped, the problem stays
    gone = monitor.current()
    assert gone.status is None
    assert [p.part for p in gone.problems] == ["usages"]
    del billing.failures["usages"]
    clock.advance(60)
    assert monitor.current() == good
    monitor.close()


def test_failed_refreshes_are_retried_with_backoff_up_to_max_age() -> None:
    state = MonitorState(active_provider="byterover", session_key=KEY, max_age=60, retry_interval=5)
    down = Fetched(
        pin=Ok(PinRead(None)),
        raw_usages=Err(DOWN),
        tiers=Ok(ACCOUNT.tiers()),
        free_limit=Ok(ACCOUNT.free_user_limit),  # type: ignore[arg-type]
    )
    attempts, now = [], 0.0
    while now < 300:
        step = state.step(now)
        if isinstance(step, Refresh):
            attempts.append(now)
            state.refreshed(step.ticket, down, pin_identity=None, now=now)
        now += 1
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert gaps[:6] == [5, 10, 20, 40, 60, 60]


@pytest.mark.parametrize("failure", [NOT_FOUND, EXPIRED], ids=["404", "401"])
def test_an_answer_from_upstream_is_not_bridged_with_a_stale_status(
    flavor: Flavor, clock: FakeClock, failure: Exception
) -> None:
    billing = flavor.billing()
    monitor = flavor.monitor(billing, clock=clock)
    monitor.current()
    billing.failures["usages"] = failure
    clock.advance(60)
    assert monitor.current().status is None
    monitor.close()


@pytest.mark.parametrize("part", ["usages", "tiers", "free-limit"])
def test_a_refused_session_drops_the_status_at_once(
    flavor: Flavor, clock: FakeClock, part: str
) -> None:
    billing = flavor.billing()
    monitor = flavor.monitor(billing, clock=clock)
    monitor.current()
    billing.failures[part] = EXPIRED
    monitor.invalidate()  # e.g. the LLM endpoint answered 401
    assert monitor.current() == BillingResolution(status=None, problems=[AUTH_PROBLEM])
    # Nothing held survives: a new pin is decided with no inputs at all.
    assert monitor.set_pin(ACME_TEAM_ID).status is None
    del billing.failures[part]
    clock.advance(5)  # the first retry
    assert monitor.current().status == expected(ACCOUNT, ACME_TEAM_ID)
    monitor.close()


def test_tiers_down_shows_the_stale_tier_and_says_so(flavor: Flavor, clock: FakeClock) -> None:
    billing = flavor.billing()
    monitor = flavor.monitor(billing, clock=clock)
    good = monitor.current()
    serve(billing, EXHAUSTED)
    billing.failures["tiers"] = DOWN
    clock.advance(61)
    mixed = monitor.current()
    assert mixed.status == expected(EXHAUSTED)  # fresh numbers, the tiers kept
    assert mixed.status != good.status
    assert [(p.part, "61 s ago" in p.message) for p in mixed.problems] == [("tiers", True)]
    monitor.close()


# --- subscribers ------------------------------------------------------------------------------


def test_callbacks_fire_exactly_when_the_status_changes(flavor: Flavor, clock: FakeClock) -> None:
    billing = flavor.billing()
    monitor = flavor.monitor(billing, clock=clock)
    seen: list[tuple[BillingResolution | None, BillingResolution]] = []
    unsubscribe = monitor.subscribe(lambda old, new: seen.append((old, new)))
    first = monitor.current()
    assert seen == [(None, first)]
    clock.advance(60)
    monitor.current()  # refreshed, nothing changed
    assert len(seen) == 1
    serve(billing, EXHAUSTED)
    clock.advance(60)
    exhausted = monitor.current()
    assert seen[1:] == [(first, exhausted)]
    billing.failures["usages"] = DOWN
    clock.advance(60)
    stale = monitor.current()
    assert stale.status == exhausted.status
    assert stale.problems  # only a problem more: no change
    assert len(seen) == 2
    invalid = monitor.set_pin(SIDE_PROJECT_TEAM_ID)
    assert seen[2:] == [(stale, invalid)]
    unsubscribe()
    unsubscribe()  # harmless
    monitor.set_pin(None)
    assert len(seen) == 3
    monitor.close()


def test_a_raising_callback_is_logged_and_the_monitor_goes_on(
    flavor: Flavor, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    monitor = flavor.monitor(flavor.billing(), clock=clock)
    seen: list[object] = []

    def broken(old: object, new: object) -> None:
        raise RuntimeError("subscriber bug")

    monitor.subscribe(broken)
    monitor.subscribe(lambda old, new: seen.append(new))
    with caplog.at_level(logging.ERROR, logger="billing_core.monitor"):
        resolution = monitor.current()
        assert monitor.set_pin(SIDE_PROJECT_TEAM_ID) != resolution
    assert len(seen) == 2
    records = [r for r in caplog.records if r.name == "billing_core.monitor"]
    assert [r.getMessage() for r in records] == ["a billing monitor subscriber raised"] * 2
    assert all(r.exc_info and r.exc_info[0] is RuntimeError for r in records)
    monitor.close()


# --- the gate ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "pin"),
    [(ACCOUNT, None), (EXHAUSTED, None), (ACCOUNT, SIDE_PROJECT_TEAM_ID), (EXHAUSTED, "x")],
)
def test_gate_raises_what_the_funds_guard_raises(
    flavor: Flavor, clock: FakeClock, account: Account, pin: str | None
) -> None:
    monitor = flavor.monitor(flavor.billing(account), InMemoryPinStore(pin), clock=clock)
    assert _outcome(monitor.gate) == _outcome(
        lambda: ensure_billing_funds(expected(account, pin), usages=account.usages)
    )
    monitor.close()


@pytest.mark.parametrize("when_unknown", ["allow", "refuse"])
def test_gate_on_unknown_billing_does_what_it_is_told(
    flavor: Flavor, clock: FakeClock, when_unknown: Any
) -> None:
    monitor = flavor.monitor(flavor.billing(), clock=clock, session_key=None)
    assert _outcome(lambda: monitor.gate(when_unknown=when_unknown)) == _outcome(
        lambda: ensure_billing_funds(None, when_unknown=when_unknown)
    )
    monitor.close()


@settings(max_examples=60, deadline=None)
@given(account=accounts())
def test_gate_is_the_funds_guard_on_the_resolved_status(account: Account) -> None:
    with BillingMonitor(
        active_provider="byterover", session_key=KEY, billing=InMemoryBillingService(account),
        pins=InMemoryPinStore(account.pinned_team_id), clock=FakeClock(),
    ) as monitor:  # fmt: skip
        status = expected(account, account.pinned_team_id)
        assert _outcome(monitor.gate) == _outcome(
            lambda: ensure_billing_funds(status, usages=account.usages)
        )


def _outcome(call: Callable[[], object]) -> tuple[type[BaseException], str] | None:
    try:
        call()
    except BillingError as error:
        return type(error), str(error)
    return None


# --- closing, sharing, secrets ---------------------------------------------------------------


def test_closing_waits_for_the_background_refresh_and_leaves_no_thread(clock: FakeClock) -> None:
    release, entered = threading.Event(), threading.Event()

    def hold(part: str) -> None:
        if part == "usages":
            entered.set()
            assert release.wait(20)

    billing = InMemoryBillingService(ACCOUNT)
    monitor = BillingMonitor(
        active_provider="byterover", session_key=KEY, billing=billing, pins=InMemoryPinStore(),
        clock=clock, max_age=60, refresh_ahead=True,
    )  # fmt: skip
    first = monitor.current()
    billing.on_call = hold
    clock.advance(48)  # 80 % of max_age: a refresh starts in the background
    assert monitor.current() is first  # served at once, not waited for
    assert entered.wait(20)
    assert "billing-monitor-refresh" in {thread.name for thread in threading.enumerate()}
    closer = threading.Thread(target=monitor.close)
    closer.start()
    closer.join(0.1)
    assert closer.is_alive()  # close() waits for the refresh in flight
    release.set()
    closer.join(20)
    assert not closer.is_alive()
    assert not [t for t in threading.enumerate() if t.name.startswith("billing-monitor")]
    with pytest.raises(BillingConfigError, match="closed"):
        monitor.current()
    monitor.close()  # idempotent


def test_aclose_cancels_the_refresh_and_leaves_no_task(clock: FakeClock) -> None:
    async def scenario() -> None:
        never = asyncio.Event()

        async def hold(part: str) -> None:
            if part == "usages":
                await never.wait()

        billing = AsyncInMemoryBillingService(ACCOUNT, on_call=hold)
        monitor = AsyncBillingMonitor(
            active_provider="byterover", session_key=KEY, billing=billing,
            pins=InMemoryPinStore(), clock=clock,
        )  # fmt: skip
        waiters = [asyncio.create_task(monitor.current()) for _ in range(3)]
        await clock.readers(3)
        await monitor.aclose()
        for waiter in waiters:
            with pytest.raises(BillingConfigError, match="closed"):
                await waiter
        assert asyncio.all_tasks() == {asyncio.current_task()}
        with pytest.raises(BillingConfigError, match="closed"):
            await monitor.current()

    asyncio.run(scenario())


def test_aclose_ends_a_background_refresh_too(clock: FakeClock) -> None:
    async def scenario() -> None:
        never = asyncio.Event()
        billing = AsyncInMemoryBillingService(ACCOUNT)
        async with AsyncBillingMonitor(
            active_provider="byterover", session_key=KEY, billing=billing,
            pins=InMemoryPinStore(), clock=clock, refresh_ahead=True,
        ) as monitor:  # fmt: skip
            first = await monitor.current()

            async def hold(part: str) -> None:
                if part == "usages":
                    await never.wait()

            billing.on_call = hold
            clock.advance(48)
            assert await monitor.current() is first
            await asyncio.sleep(0.01)
            assert "billing-monitor-refresh" in {task.get_name() for task in asyncio.all_tasks()}
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(scenario())


def test_many_monitors_share_one_http_service(tmp_path: Path) -> None:
    pins = {"a": None, "b": ACME_TEAM_ID, "c": SIDE_PROJECT_TEAM_ID}
    with FakeBillingApi(ACCOUNT) as api, HttpBillingService(api.base_url) as billing:
        monitors = {}
        for name, pin in pins.items():
            store = FilePinStore(tmp_path / name / ".brv")
            store.set_pinned_team_id(pin)
            monitors[name] = BillingMonitor(
                active_provider="byterover", session_key=api.session_key, billing=billing,
                pins=store,
            )  # fmt: skip
        for name, pin in pins.items():
            assert monitors[name].current().status == expected(ACCOUNT, pin)
        for monitor in monitors.values():
            monitor.close()
        assert billing.get_usages(api.session_key) == ACCOUNT.usages  # still open
        assert api.connection_count <= 3


def test_the_session_key_is_never_shown(flavor: Flavor, caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-live-SECRET-7f3a9c2e41d0"
    leaky = BillingPayloadError(f"bad body for {secret}")
    billing = flavor.billing(session_key=secret)
    clock = FakeClock()
    monitor = flavor.monitor(billing, clock=clock, session_key=secret)
    monitor.subscribe(lambda old, new: 1 / 0)
    with caplog.at_level(logging.DEBUG):
        monitor.current()
        billing.failures["usages"] = leaky
        clock.advance(60)
        stale = monitor.current()
    assert stale.problems
    shown = [repr(monitor.monitor), repr(stale), caplog.text]
    assert not [text for text in shown if secret in text]
    assert "[session key]" in stale.problems[0].message
    monitor.close()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_age", 0),
        ("max_age", float("inf")),
        ("max_stale", -1),
        ("pin_interval", float("nan")),
        ("retry_interval", 0),
        ("max_age", True),
        ("refresh_ahead", "yes"),
        ("clock", 3.0),
    ],
)
def test_bad_settings_are_refused(option: str, value: object) -> None:
    with pytest.raises(BillingConfigError, match=option):
        BillingMonitor(
            active_provider="byterover",
            session_key=KEY,
            billing=InMemoryBillingService(ACCOUNT),
            pins=InMemoryPinStore(),
            **{option: value},  # type: ignore[arg-type]
        )


# --- the law -----------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
@settings(max_examples=40, deadline=None)
@given(first=accounts(), data=st.data(), pin_interval=st.sampled_from([0.0, 1.0]))
def test_the_status_is_the_pure_one_over_the_latest_inputs_and_pin(
    flavor: Flavor, first: Account, data: st.DataObject, pin_interval: float
) -> None:
    """Whatever happens, ``current().status`` is ``build_status_billing`` over the inputs
    of the latest fetch and the pin last read. A fetch is never ``max_age`` old; a
    pin written elsewhere is read once ``pin_interval`` has passed (and the clock
    moved: never two looks at one reading), one written through the monitor at
    once; the callbacks announce exactly the changes of status, in a chain."""
    max_age = 60.0
    clock, billing, pins = (
        FakeClock(),
        flavor.billing(first),
        InMemoryPinStore(first.pinned_team_id),
    )
    monitor = flavor.monitor(billing, pins, clock=clock, max_age=max_age, pin_interval=pin_interval)
    changes: list[tuple[BillingResolution | None, BillingResolution]] = []
    monitor.subscribe(lambda old, new: changes.append((old, new)))
    upstream, fetched, fetched_at = first, first, clock.now
    seen_pin, written_at = pins.team_id, -float("inf")
    for _ in range(data.draw(st.integers(min_value=1, max_value=10), label="steps")):
        calls, reads = refreshes(billing), pins.reads
        action = data.draw(st.sampled_from(["write", "write through", "upstream", "clock", "inv"]))
        if action.startswith("write"):
            ids = [u.organization_id for u in (*upstream.usages, *fetched.usages)]
            pin = data.draw(st.sampled_from([None, "", "org-stranger", *ids]), label="pin")
            if action == "write":
                pins.set_pinned_team_id(pin)
                written_at = clock.now
            else:
                monitor.set_pin(pin)
        elif action == "upstream":
            upstream = data.draw(accounts(), label="upstream")
            serve(billing, upstream)
        elif action == "clock":
            clock.advance(data.draw(st.sampled_from([0.4, 1.0, 30.0, 59.9, 60.0, 500.0])))
        else:
            monitor.invalidate()
        resolution = monitor.current()
        if refreshes(billing) > calls:
            fetched, fetched_at = upstream, clock.now
        if pins.reads > reads:
            seen_pin = pins.team_id
        assert resolution.status == expected(fetched, seen_pin)
        assert clock.now - fetched_at < max_age
        if clock.now - written_at >= pin_interval and clock.now > written_at:
            assert seen_pin == pins.team_id  # looked at since the write
        announced = changes[-1][1].status if changes else None
        assert announced == resolution.status
    assert all(_status(old) != new.status for old, new in changes)
    assert all(a[1].status == _status(b[0]) for a, b in itertools.pairwise(changes))
    monitor.close()


def _status(resolution: BillingResolution | None) -> StatusBilling | None:
    return None if resolution is None else resolution.status


def test_the_gate_cites_the_embedding_clis_commands_and_the_top_up_link() -> None:
    hints = CommandHints(
        pin_team="brv providers connect byterover --team TEAM",
        web_app_url="https://app.example.com",
    )
    acme = next(team for team in EXHAUSTED.teams if team.id == ACME_TEAM_ID)
    with (
        BillingMonitor(
            active_provider="byterover",
            session_key=KEY,
            billing=InMemoryBillingService(EXHAUSTED),
            pins=InMemoryPinStore(ACME_TEAM_ID),
            hints=hints,
        ) as monitor,
        pytest.raises(InsufficientCreditsError) as refused,
    ):
        monitor.gate(teams=[acme])
    assert f"https://app.example.com/settings/{acme.slug}/billing" in str(refused.value)
    assert "billing-core" not in str(refused.value)


def test_hints_that_are_not_command_hints_are_refused() -> None:
    with pytest.raises(BillingConfigError, match="CommandHints"):
        BillingMonitor(
            active_provider="byterover",
            session_key=KEY,
            billing=InMemoryBillingService(ACCOUNT),
            pins=InMemoryPinStore(),
            hints="brv login",  # type: ignore[arg-type]
        )
