"""What both billing monitors share: the locked state, the fast path, the pin's identity, callbacks.

The drivers of :mod:`billing_core.monitor` build on :class:`MonitorBase`; the
decisions are :class:`~billing_core._monitor_state.MonitorState`'s.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import math
import os
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Final, TypeAlias

from billing_core._monitor_state import Change, MonitorState
from billing_core._plan import Calls, Fetched, Plan, asked
from billing_core.errors import BillingConfigError, NotAuthenticatedError
from billing_core.funds import WhenUnknown, ensure_billing_funds
from billing_core.models import BillingResolution, BillingUsage, Team
from billing_core.ports import PinStore
from billing_core.presentation import CommandHints

__all__ = ["NOTHING", "MonitorBase", "Served", "Subscriber", "fetch"]

_logger = logging.getLogger("billing_core.monitor")

Subscriber: TypeAlias = Callable[[BillingResolution | None, BillingResolution], object]
"""A callback of :meth:`billing_core.BillingMonitor.subscribe`: ``callback(old, new)``."""

# What the fast path reads, in one attribute so that it reads it at once: the
# resolution, until when it may be served, the usages for the funds guard's
# advice, and whether the guard must be asked (see MonitorState.guarded).
Served: TypeAlias = tuple[BillingResolution, float, tuple[BillingUsage, ...], bool]
NOTHING: Final[Served] = (BillingResolution(status=None), -math.inf, (), True)


def fetch(calls: Calls) -> Plan[Fetched]:
    """The plan of one round: ``calls``, answered as they came."""
    fetched = yield calls
    return fetched


# --- the pin file's identity ---------------------------------------------------------


def _pin_identity_of(pins: PinStore) -> Callable[[], Hashable | None]:
    """How to tell cheaply that the pin may have changed.

    A store with a ``path`` (:class:`~billing_core.FilePinStore`) is one
    ``os.stat`` of that file; any other store has no identity (``None``) and is
    read at each check.
    """
    path = getattr(pins, "path", None)
    if isinstance(path, os.PathLike):
        return functools.partial(_file_identity, os.fspath(path))
    return _no_identity


def _file_identity(path: str | bytes) -> Hashable:
    # FilePinStore replaces the file on every write, so a write shows as a new
    # inode even within one tick of the file system's clock.
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as error:  # the read will report it
        return ("unreadable", error.errno)
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


def _no_identity() -> None:
    return None


# --- subscribers ---------------------------------------------------------------------


class _Subscribers:
    """A monitor's callbacks, run outside its lock, one change at a time, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: dict[object, Subscriber] = {}
        self._pending: collections.deque[Change] = collections.deque()
        self._delivering = False

    def add(self, callback: Subscriber) -> Callable[[], None]:
        token = object()
        with self._lock:
            self._callbacks[token] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._callbacks.pop(token, None)

        return unsubscribe

    def enqueue(self, changes: Iterable[Change]) -> None:
        """Queue ``changes`` (called under the monitor's lock, so in their order)."""
        with self._lock:
            self._pending.extend(changes)

    def deliver(self) -> None:
        """Run the callbacks on the queued changes, unless a caller up the stack
        (or another thread) already is: it runs them on ours too, in order."""
        with self._lock:
            if self._delivering or not self._pending:
                return
            self._delivering = True
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        self._delivering = False
                        return
                    old, new = self._pending.popleft()
                    callbacks = list(self._callbacks.values())
                for callback in callbacks:
                    _call(callback, old, new)
        except BaseException:
            with self._lock:
                self._delivering = False
            raise

    def close(self) -> None:
        with self._lock:
            self._callbacks.clear()
            self._pending.clear()


def _call(callback: Subscriber, old: BillingResolution | None, new: BillingResolution) -> None:
    try:
        callback(old, new)
    except Exception:  # reported, and the monitor goes on
        _logger.exception("a billing monitor subscriber raised")


# --- what both monitors share --------------------------------------------------------


class MonitorBase:
    """The state, the lock, the subscribers and what the fast path serves."""

    def __init__(
        self,
        *,
        active_provider: str | None,
        session_key: str | None,
        pins: PinStore,
        max_age: float,
        max_stale: float,
        pin_interval: float,
        retry_interval: float,
        refresh_ahead: bool,
        clock: Callable[[], float],
        hints: CommandHints,
    ) -> None:
        if not callable(clock):
            raise BillingConfigError(f"clock must be callable, not {type(clock).__name__}")
        if not isinstance(hints, CommandHints):
            raise BillingConfigError(f"hints must be a CommandHints, not {type(hints).__name__}")
        self._hints = hints
        self._state = MonitorState(
            active_provider=active_provider,
            session_key=session_key or "",
            max_age=max_age,
            max_stale=max_stale,
            pin_interval=pin_interval,
            retry_interval=retry_interval,
            refresh_ahead=refresh_ahead,
        )
        self._active_provider = active_provider
        self._signed_in = bool(session_key)
        self._pins = pins
        self._pin_identity = _pin_identity_of(pins)
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified on every publish
        self._subscribers = _Subscribers()
        self._closed = False
        self._served = NOTHING
        with self._lock:
            self._publish()

    def _guarded(
        self, served: Served, *, when_unknown: WhenUnknown, teams: Iterable[Team]
    ) -> BillingResolution:
        """``served``'s resolution, once the funds guard passed it (when it must be asked)."""
        if served[3]:
            ensure_billing_funds(
                served[0].status,
                usages=served[2],
                when_unknown=when_unknown,
                hints=self._hints,
                teams=teams,
            )
        return served[0]

    def invalidate(self) -> None:
        """Refresh on the next call: the LLM endpoint refused for billing (a 402,
        an insufficient-credits answer), so what the monitor holds is suspect.

        The next call waits for a refresh started after this one, even with
        ``refresh_ahead``; calls meanwhile share it.
        """
        with self._lock:
            self._state.invalidate()
            self._publish()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(old, new)`` whenever the status changes; returns the unsubscribe.

        A change is what a user sees: the payer, the variant, the numbers or
        the tone (``old.status != new.status``; ``old`` is ``None`` before the
        first resolution). Problems alone do not count. Callbacks run in the
        thread or task that made the change, after the monitor's lock is
        released, one change at a time and in order; one that raises is logged
        on the ``billing_core.monitor`` logger and the monitor goes on.
        Unsubscribing twice is harmless.
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        return self._subscribers.add(callback)

    @property
    def closed(self) -> bool:
        """Whether the monitor was closed (its calls then raise ``BillingConfigError``)."""
        return self._closed

    def _publish(self) -> None:
        """Under the lock: what the fast path serves, and the changes to announce."""
        state = self._state
        changes = state.take_changes()
        if self._closed:
            return
        resolution = state.resolution or NOTHING[0]
        self._served = (resolution, state.valid_until, state.usages, state.guarded)
        self._subscribers.enqueue(changes)
        self._changed.notify_all()

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise BillingConfigError("the billing monitor is closed")

    def _check_can_pin(self) -> None:
        self._raise_if_closed()
        if not self._signed_in:
            raise NotAuthenticatedError("not signed in: sign in to change the billing team")

    def _close_state(self) -> None:
        """Under the lock: nothing is served any more; waiters wake up to raise."""
        self._closed = True
        self._served = NOTHING
        self._changed.notify_all()

    @contextlib.contextmanager
    def _abandoned_on_exit(self, ticket: int) -> Iterator[None]:
        """Tell the state when the I/O of ``ticket`` ends without an answer."""
        try:
            yield
        except BaseException:
            with self._lock:
                self._state.abandoned(ticket)
                self._publish()
            raise

    def _pin_was_read(self, ticket: int, fetched: Fetched, identity: Hashable | None) -> None:
        with self._lock:
            self._state.pin_read(
                ticket, asked(fetched.pin), pin_identity=identity, now=self._clock()
            )
            self._publish()
        self._subscribers.deliver()

    def _refreshed(self, ticket: int, fetched: Fetched, identity: Hashable | None) -> None:
        with self._lock:
            self._state.refreshed(ticket, fetched, pin_identity=identity, now=self._clock())
            self._publish()
        self._subscribers.deliver()

    def __repr__(self) -> str:
        # The session key is never shown; whether there is one is.
        return (
            f"{type(self).__name__}(active_provider={self._active_provider!r}, "
            f"signed_in={self._signed_in!r}, pins={self._pins!r}, closed={self._closed!r})"
        )
