"""The billing monitors' decisions, sans-I/O: what to serve, when to check the pin or refresh.

:class:`MonitorState` is the pure core of :mod:`billing_core.monitor`, in the
manner of the use-case plans (:mod:`billing_core._plan`): it never does I/O,
never reads a clock and never sees a thread or an event loop. The two thin
drivers (``BillingMonitor`` in threads, ``AsyncBillingMonitor`` in tasks) ask
it for the next :data:`Step` at the time they read, perform it, and tell it
what came back. Everything else is decided here:

- **what is served**: the inputs of the last refresh (raw usages, tiers, free
  limit) and the pin, decided by :func:`~billing_core._decide.decide`, the
  decision ``resolve_billing`` makes; a pin change is decided again from the
  kept inputs, without a request;
- **freshness**: a refresh is due ``max_age`` after the last one started
  (sooner after a failure, with backoff); with ``refresh_ahead`` it starts at
  80 % of that, in the background; the pin is checked at most once per
  ``pin_interval``;
- **single flight**: one refresh and one pin check at a time; the callers who
  cannot be served meanwhile :data:`WAIT`;
- **stale-if-error**: an input whose refresh failed transiently keeps its last
  good value for ``max_stale`` after that value was fetched, and the answer says
  so in a problem; a refused session (401/403) forgets every input at once.

Each step that does I/O carries a *ticket*, issued in order, so a late answer
never overwrites a newer one (a slow refresh's pin, say, after a pin check).

>>> from billing_core._plan import Fetched, Ok
>>> from billing_core.errors import BillingApiError
>>> from billing_core.ports import PinRead
>>> state = MonitorState(active_provider="byterover", session_key="key")
>>> state.step(now=0.0)  # nothing to serve yet: refresh, and wait for it
Refresh(ticket=1, background=False)
>>> no_free_credits = BillingApiError("none", endpoint="GET /free", status_code=404)
>>> state.refreshed(1, Fetched(
...     pin=Ok(PinRead(None)), raw_usages=Ok(()), tiers=Ok(()), free_limit=Err(no_free_credits),
... ), pin_identity=None, now=0.2)
>>> state.resolution.status, state.step(now=0.5)
(FreeBilling(remaining=None, total=None, limit_exceeded=False), Serve())
>>> state.step(now=1.0)  # pin_interval: look at the pin
CheckPin(ticket=2)
>>> state.pin_read(2, Ok(PinRead("org-9")), pin_identity=None, now=1.0)  # decided again
>>> state.resolution.status.reason, state.step(now=60.0)
('not-a-member', Refresh(ticket=3, background=False))
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Final, Generic, TypeAlias, TypeVar

from attrs import evolve, frozen

from billing_core._decide import decide, fixed_resolution, problem, shows_free_credits
from billing_core._plan import Calls, Err, Fetched, Ok, Outcome, asked
from billing_core.errors import BillingApiError, BillingAuthError, BillingConfigError, BillingError
from billing_core.funds import ensure_billing_funds
from billing_core.models import (
    BillingResolution,
    BillingUsage,
    FreeUserLimit,
    OrganizationTier,
    Problem,
    ProblemPart,
    RawUsage,
    StatusBilling,
)
from billing_core.ports import PinRead
from billing_core.resolution import BYTEROVER_PROVIDER, join_usages_with_tiers

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_STALE",
    "DEFAULT_PIN_INTERVAL",
    "DEFAULT_RETRY_INTERVAL",
    "INPUT_CALLS",
    "PIN_CALLS",
    "SERVE",
    "WAIT",
    "Change",
    "CheckPin",
    "MonitorState",
    "Refresh",
    "Serve",
    "Step",
    "Wait",
]

DEFAULT_MAX_AGE: Final = 60.0
"""Seconds a refresh is served before the next one is due."""
DEFAULT_MAX_STALE: Final = 600.0
"""Seconds after it was fetched that an input may still be served while refreshes fail."""
DEFAULT_PIN_INTERVAL: Final = 1.0
"""Seconds between two checks of the pin."""
DEFAULT_RETRY_INTERVAL: Final = 5.0
"""Seconds before the first retry of a failed refresh; it doubles up to ``max_age``."""

INPUT_CALLS: Final = Calls(read_pin=True, raw_usages=True, tiers=True, free_limit=True)
"""A refresh: the pin and every input, at once (the free limit too, so that a pin
change can be decided again without a request)."""
PIN_CALLS: Final = Calls(read_pin=True)
"""A pin check that found the pin file changed, or a store without a cheap identity."""

_AHEAD: Final = 0.8  # refresh_ahead: the background refresh starts at 80 % of its delay
_MAX_BACKOFF_DOUBLINGS: Final = 30

_T = TypeVar("_T")

Change: TypeAlias = tuple[BillingResolution | None, BillingResolution]
"""``(old, new)``: the resolution served before (``None`` before the first) and after a
change of status."""


@frozen
class Serve:
    """Serve :attr:`MonitorState.resolution` as it is."""


@frozen
class Wait:
    """Wait for the refresh in flight to end, then ask again."""


@frozen
class Refresh:
    """Fetch :data:`INPUT_CALLS`, then call :meth:`MonitorState.refreshed`.

    ``background``: the caller is served meanwhile; else it waits for the answer.
    Take the pin file's identity *before* reading the pin.
    """

    ticket: int
    background: bool


@frozen
class CheckPin:
    """Take the pin file's identity, then :meth:`MonitorState.pin_seen`; read when told."""

    ticket: int


SERVE: Final = Serve()
WAIT: Final = Wait()

Step: TypeAlias = Serve | Wait | Refresh | CheckPin
"""What a driver must do next."""


@frozen
class _Kept(Generic[_T]):
    """One input of the decision: its latest outcome, and its last good value and when."""

    latest: Outcome[_T] | None = None
    good: Ok[_T] | None = None
    good_at: float = -math.inf

    def after(self, outcome: Outcome[_T], *, at: float) -> _Kept[_T]:
        """This input once a refresh started at ``at`` answered ``outcome``."""
        if isinstance(outcome, Ok):
            return _Kept(outcome, outcome, at)
        return _Kept(outcome, self.good, self.good_at)


def _may_serve_stale(error: Exception) -> bool:
    """Whether a failure may be bridged with the last good value (stale-if-error).

    Transient failures may (no answer at all, 408, 429, 5xx, an unreadable body),
    as in HTTP's ``stale-if-error`` (RFC 5861); an upstream's 4xx is an answer
    (a 404 free limit means "no free credits") and a refused session never is.
    """
    if isinstance(error, BillingAuthError):
        return False
    if isinstance(error, BillingApiError) and error.status_code is not None:
        code = error.status_code
        return code in (408, 429) or code >= 500
    return True


def _guarded(status: StatusBilling | None, usages: tuple[BillingUsage, ...]) -> bool:
    """Whether :func:`~billing_core.ensure_billing_funds` must be asked about ``status``:
    it is unknown (the guard's ``when_unknown`` decides), or the guard refuses it.

    Decided once per status, so a gate that passes costs no call to the guard.
    """
    if status is None:
        return True
    try:
        ensure_billing_funds(status, usages=usages)
    except BillingError:
        return True
    return False


def _check_seconds(name: str, value: object, *, allow_zero: bool) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        bound = ">= 0" if allow_zero else "> 0"
        raise BillingConfigError(
            f"{name} must be a finite number of seconds {bound}, not {value!r}"
        )
    return float(value)


class MonitorState:
    """The decisions of one billing monitor (see the module docstring); not thread-safe.

    Drivers serialise calls (a lock, or one event loop) and read, after each:
    :attr:`resolution` (``None`` before the first refresh), :attr:`usages`
    (the joined usages, for the funds guard's advice), :attr:`guarded`
    (whether the funds guard must be asked: see :func:`_guarded`) and :attr:`valid_until`
    (until when, by the clock, all three may be served without asking
    :meth:`step`). :meth:`take_changes` gives the status changes to announce.
    """

    def __init__(
        self,
        *,
        active_provider: str | None,
        session_key: str,
        max_age: float = DEFAULT_MAX_AGE,
        max_stale: float = DEFAULT_MAX_STALE,
        pin_interval: float = DEFAULT_PIN_INTERVAL,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        refresh_ahead: bool = False,
    ) -> None:
        self._max_age = _check_seconds("max_age", max_age, allow_zero=False)
        self._max_stale = _check_seconds("max_stale", max_stale, allow_zero=True)
        self._pin_interval = _check_seconds("pin_interval", pin_interval, allow_zero=True)
        self._retry_interval = _check_seconds("retry_interval", retry_interval, allow_zero=False)
        if not isinstance(refresh_ahead, bool):
            raise BillingConfigError(f"refresh_ahead must be a bool, not {refresh_ahead!r}")
        self._refresh_ahead = refresh_ahead
        self._session_key = session_key
        self._fixed = not session_key or active_provider != BYTEROVER_PROVIDER

        self.resolution: BillingResolution | None = None
        self.usages: tuple[BillingUsage, ...] = ()
        self.guarded = True
        self.valid_until = -math.inf
        self._changes: list[Change] = []

        self._tickets = 0
        self._refreshing: int | None = None  # the ticket of the refresh in flight
        self._refresh_started = -math.inf
        self._refresh_due = -math.inf
        self._failures = 0
        self._invalid = False  # invalidate() asked for a refresh started after it
        self._invalid_through = 0

        self._raw_usages: _Kept[tuple[RawUsage, ...]] = _Kept()
        self._tiers: _Kept[tuple[OrganizationTier, ...]] = _Kept()
        self._free_limit: _Kept[FreeUserLimit] = _Kept()
        self._stale_until = math.inf

        self._pin: Outcome[PinRead] | None = None
        self._pin_identity: Hashable | None = None
        self._pin_ticket = 0  # the ticket of the step that read self._pin
        self._pin_due = -math.inf
        self._checking_pin: int | None = None

        if self._fixed:
            self._serve(fixed_resolution(active_provider=active_provider, session_key=session_key))

    # --- what drivers ask ------------------------------------------------------

    def step(self, now: float) -> Step:
        """What to do at ``now`` to answer a caller."""
        if self._fixed:
            return SERVE
        if now >= self._stale_until:  # a kept input has just outlived max_stale
            self._decide(now)
        must_wait = (
            self.resolution is None
            or self._invalid
            or (not self._refresh_ahead and now >= self._refresh_due)
        )
        if self._refreshing is not None:
            if must_wait:
                return WAIT
        elif must_wait or now >= self._refresh_due:
            self._refreshing = ticket = self._ticket()
            self._refresh_started = now
            self._settle()
            return Refresh(ticket=ticket, background=not must_wait)
        if now >= self._pin_due and self._checking_pin is None:
            self._checking_pin = ticket = self._ticket()
            self._settle()
            return CheckPin(ticket=ticket)
        return SERVE

    def pin_ticket(self) -> int:
        """A ticket for a pin read the driver makes on its own (after writing the pin)."""
        return self._ticket()

    def take_changes(self) -> list[Change]:
        """The status changes since the last call, oldest first."""
        changes, self._changes = self._changes, []
        return changes

    # --- what drivers tell ------------------------------------------------------

    def refreshed(
        self, ticket: int, fetched: Fetched, *, pin_identity: Hashable | None, now: float
    ) -> None:
        """The refresh ``ticket`` answered ``fetched`` (:data:`INPUT_CALLS`).

        ``pin_identity`` is the pin file's identity taken before the pin was read.
        """
        if self._refreshing == ticket:
            self._refreshing = None
        started = self._refresh_started
        if ticket > self._invalid_through:
            self._invalid = False
        if ticket > self._pin_ticket:
            self._pin, self._pin_identity, self._pin_ticket = (
                asked(fetched.pin),
                pin_identity,
                ticket,
            )
            self._pin_due = self._next_pin_check(started)
        raw_usages, tiers = asked(fetched.raw_usages), asked(fetched.tiers)
        free_limit = asked(fetched.free_limit)
        outcomes = (raw_usages, tiers, free_limit)
        refused = next(
            (o for o in outcomes if isinstance(o, Err) and isinstance(o.error, BillingAuthError)),
            None,
        )
        if refused is not None:  # the session is refused: forget every input at once
            self._raw_usages, self._tiers, self._free_limit = (
                _Kept(refused),
                _Kept(refused),
                _Kept(refused),
            )
        else:
            self._raw_usages = self._raw_usages.after(raw_usages, at=started)
            self._tiers = self._tiers.after(tiers, at=started)
            self._free_limit = self._free_limit.after(free_limit, at=started)
        failed = refused is not None or any(
            isinstance(o, Err) and _may_serve_stale(o.error) for o in outcomes
        )
        self._failures = min(self._failures + 1, _MAX_BACKOFF_DOUBLINGS) if failed else 0
        delay = self._max_age
        if failed:
            delay = min(delay, self._retry_interval * 2 ** (self._failures - 1))
        self._refresh_due = started + (delay * _AHEAD if self._refresh_ahead else delay)
        self._decide(now)

    def pin_seen(self, ticket: int, pin_identity: Hashable | None, *, now: float) -> bool:
        """The pin check ``ticket`` found ``pin_identity``: whether the pin must be read.

        ``None`` means the store has no cheap identity: it is read at every check.
        """
        if pin_identity is None or pin_identity != self._pin_identity:
            return True
        self._end_pin_check(ticket, now)
        self._settle()
        return False

    def pin_read(
        self, ticket: int, outcome: Outcome[PinRead], *, pin_identity: Hashable | None, now: float
    ) -> None:
        """The pin check (or the read after a write) ``ticket`` read ``outcome``."""
        self._end_pin_check(ticket, now)
        if ticket > self._pin_ticket:
            changed = outcome != self._pin
            self._pin, self._pin_identity, self._pin_ticket = outcome, pin_identity, ticket
            if changed and self._raw_usages.latest is not None:
                self._decide(now)  # the kept inputs, the new pin: no request
        self._settle()

    def abandoned(self, ticket: int) -> None:
        """The step ``ticket`` ended without an answer (cancelled, interrupted)."""
        if self._refreshing == ticket:
            self._refreshing = None
        if self._checking_pin == ticket:
            self._checking_pin = None
        self._settle()

    def invalidate(self) -> None:
        """Answer the next caller with a refresh started from now on."""
        if self._fixed:
            return
        self._invalid = True
        self._invalid_through = self._tickets
        self._settle()

    # --- the decision -------------------------------------------------------------

    def _decide(self, now: float) -> None:
        """Decide from the kept inputs and the pin, as ``resolve_billing`` would."""
        stale: list[tuple[ProblemPart, Exception, float]] = []

        def in_use(part: ProblemPart, kept: _Kept[_T]) -> Outcome[_T] | None:
            latest = kept.latest
            if (
                isinstance(latest, Err)
                and kept.good is not None
                and _may_serve_stale(latest.error)
                and now - kept.good_at < self._max_stale
            ):
                stale.append((part, latest.error, kept.good_at))
                return kept.good
            return latest

        raw_usages = in_use("usages", self._raw_usages)
        tiers = in_use("tiers", self._tiers)
        free_limit = in_use("free-limit", self._free_limit)
        fetched = Fetched(pin=self._pin, raw_usages=raw_usages, tiers=tiers, free_limit=free_limit)
        resolution = decide(fetched, session_key=self._session_key)
        self._stale_until = min((at + self._max_stale for *_, at in stale), default=math.inf)
        marks = [
            self._stale_problem(part, error, age=now - at)
            for part, error, at in stale
            if part != "free-limit" or shows_free_credits(resolution.status)
        ]
        if marks and resolution.status is not None:
            resolution = evolve(resolution, problems=(*resolution.problems, *marks))
        usages: tuple[BillingUsage, ...] = ()
        if isinstance(raw_usages, Ok) and isinstance(tiers, Ok):
            try:
                usages = join_usages_with_tiers(raw_usages.value, tiers.value)
            except Exception:  # conflicting tiers: decide() reported them
                usages = ()
        self._serve(resolution, usages)

    def _stale_problem(self, part: ProblemPart, error: Exception, *, age: float) -> Problem:
        return problem(
            part,
            error,
            f"showing what was fetched {age:.0f} s ago",
            session_key=self._session_key,
        )

    def _serve(self, resolution: BillingResolution, usages: tuple[BillingUsage, ...] = ()) -> None:
        old = self.resolution
        self.resolution, self.usages = resolution, usages
        self.guarded = _guarded(resolution.status, usages)
        if (None if old is None else old.status) != resolution.status:
            self._changes.append((old, resolution))
        self._settle()

    # --- bookkeeping ---------------------------------------------------------------

    def _ticket(self) -> int:
        self._tickets += 1
        return self._tickets

    def _end_pin_check(self, ticket: int, now: float) -> None:
        if self._checking_pin == ticket:
            self._checking_pin = None
            self._pin_due = self._next_pin_check(now)

    def _next_pin_check(self, looked_at: float) -> float:
        # Never twice at one reading of the clock, even with pin_interval=0.
        return max(looked_at + self._pin_interval, math.nextafter(looked_at, math.inf))

    def _settle(self) -> None:
        """Recompute :attr:`valid_until`: the earliest time :meth:`step` has work."""
        if self._fixed:
            self.valid_until = math.inf
        elif self.resolution is None or self._invalid:
            self.valid_until = -math.inf
        else:
            until = min(self._pin_due, self._stale_until)
            if self._refreshing is None or not self._refresh_ahead:
                until = min(until, self._refresh_due)
            self.valid_until = until
