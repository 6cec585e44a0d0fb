"""Live billing for long-running agents: monitors that answer from memory and stay current.

An agent asks "may I make this LLM call, and who pays?" before every call.
:class:`BillingMonitor` (threads) and :class:`AsyncBillingMonitor` (asyncio)
answer from the inputs of their last refresh, so a warm answer costs less
than building one small attrs object, and refresh themselves: one refresh
(``resolve_billing``'s round trip) per ``max_age``, shared by every caller
waiting for it. A pin change needs no request at all: the pure core decides
again from the inputs the monitor holds.

Every decision is :class:`~billing_core._monitor_state.MonitorState`'s, made
without I/O; the two classes here are its thin drivers, which read the clock,
make the calls it asks for (through the same plan drivers as the use cases)
and run the subscribers' callbacks.

>>> from billing_core.testing import DEFAULT_SESSION_KEY, InMemoryBillingService, InMemoryPinStore
>>> from billing_core.testing.sample import SIDE_PROJECT_TEAM_ID, sample_account
>>> billing = InMemoryBillingService(sample_account())
>>> with BillingMonitor(
...     active_provider="byterover", session_key=DEFAULT_SESSION_KEY,
...     billing=billing, pins=InMemoryPinStore(),
... ) as monitor:
...     monitor.gate().status.organization_name  # the first call refreshes
...     monitor.current().status.organization_name  # from memory
...     monitor.set_pinned_team_id(SIDE_PROJECT_TEAM_ID).status.reason  # decided again
'Acme Corp'
'Acme Corp'
'free-tier'
>>> billing.calls["usages"], billing.calls["tiers"], billing.calls["free-limit"]
(1, 1, 1)
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable

from billing_core._drive import AsyncPorts, SyncPorts, run_async, run_sync
from billing_core._monitor_base import MonitorBase, Served, Subscriber, fetch
from billing_core._monitor_state import (
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_STALE,
    DEFAULT_PIN_INTERVAL,
    DEFAULT_RETRY_INTERVAL,
    INPUT_CALLS,
    PIN_CALLS,
    SERVE,
    CheckPin,
    Refresh,
    Serve,
    Wait,
)
from billing_core._plan import Calls, PinWrite, asked, unwrap
from billing_core.errors import BillingConfigError
from billing_core.funds import WhenUnknown
from billing_core.models import BillingResolution, Team
from billing_core.ports import (
    AsyncBillingService,
    AsyncClosing,
    BillingService,
    Closing,
    PinStore,
)
from billing_core.presentation import DEFAULT_COMMAND_HINTS, CommandHints

__all__ = ["AsyncBillingMonitor", "BillingMonitor", "Subscriber"]

_logger = logging.getLogger(__name__)


# --- threads -------------------------------------------------------------------------


class BillingMonitor(MonitorBase, Closing):
    """Who pays for the next request, kept current for a long-running program; thread-safe.

    Takes ``resolve_billing``'s arguments (``active_provider``, ``session_key``,
    ``billing``, ``pins``) and answers what it would, from memory:

    - :meth:`current` returns the latest :class:`~billing_core.BillingResolution`.
      While it is younger than ``max_age`` seconds (default 60) there is no I/O,
      except a look at the pin at most once per ``pin_interval`` (default 1):
      one ``os.stat`` of the pin file of a :class:`~billing_core.FilePinStore`
      (any other store is read). When the pin changed, or at once when it is
      written through :meth:`set_pinned_team_id`, the status is decided again
      from the inputs held, with no request. Once stale, the next call
      refreshes: the pin, usages, tiers and free limit at once, one round
      trip, which every concurrent caller shares (single flight). With
      ``refresh_ahead=True`` the refresh starts in a background thread at
      80 % of ``max_age`` and callers never wait for it.
    - :meth:`gate` raises what :func:`~billing_core.ensure_billing_funds`
      raises for the current status (and returns the resolution), its
      messages citing the commands of ``hints`` (an embedding CLI's own:
      :class:`~billing_core.CommandHints`).
    - :meth:`invalidate` makes the next call refresh; :meth:`subscribe` calls
      back on every change of status.

    Failures. An input whose refresh fails transiently (no answer, 408, 429,
    5xx, a bad body) keeps its last good value, for at most ``max_stale``
    seconds (default 600) after that value was fetched; the resolution then
    has a problem saying what failed and how old the value shown is. Past
    ``max_stale`` the answer is what a resolve would say without that input
    (``status=None`` for usages). A refused session (401/403) forgets
    everything at once: ``status=None`` and an ``auth`` problem. A failed
    refresh is retried after ``retry_interval`` seconds (default 5), doubling
    up to ``max_age``.

    ``clock`` is a monotonic clock in seconds (``time.monotonic``; inject a
    fake in tests). Monitors never close the services they are given, so
    many (one per project) can share one service and its connection pool.
    :meth:`close` (or leaving a ``with`` block) waits for a background
    refresh in flight, which the service's timeout bounds, and leaves no
    thread behind; the monitor's calls then raise
    :class:`~billing_core.BillingConfigError`. The session key is never in a
    repr, a problem or a log record.
    """

    def __init__(
        self,
        *,
        active_provider: str | None,
        session_key: str | None,
        billing: BillingService,
        pins: PinStore,
        max_age: float = DEFAULT_MAX_AGE,
        max_stale: float = DEFAULT_MAX_STALE,
        pin_interval: float = DEFAULT_PIN_INTERVAL,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        refresh_ahead: bool = False,
        clock: Callable[[], float] = time.monotonic,
        hints: CommandHints = DEFAULT_COMMAND_HINTS,
    ) -> None:
        self._ports = SyncPorts(session_key=session_key or "", billing=billing, pins=pins)
        self._threads: set[threading.Thread] = set()
        super().__init__(
            active_provider=active_provider,
            session_key=session_key,
            pins=pins,
            max_age=max_age,
            max_stale=max_stale,
            pin_interval=pin_interval,
            retry_interval=retry_interval,
            refresh_ahead=refresh_ahead,
            clock=clock,
            hints=hints,
        )

    def current(self) -> BillingResolution:
        """The latest resolution; refreshes first when it is stale (see the class)."""
        served = self._served
        if self._clock() < served[1]:
            return served[0]
        return self._settle()[0]

    def gate(
        self, *, when_unknown: WhenUnknown = "refuse", teams: Iterable[Team] = ()
    ) -> BillingResolution:
        """Raise what :func:`~billing_core.ensure_billing_funds` raises for the current
        status (``when_unknown`` as there, the monitor's ``hints``, and ``teams`` for
        the payer's top-up link); return the resolution when it passes.

        The guard's verdict is decided once per status: a gate that passes
        costs about what :meth:`current` costs.
        """
        served = self._served
        if self._clock() >= served[1]:
            served = self._settle()
        return self._guarded(served, when_unknown=when_unknown, teams=teams)

    def set_pinned_team_id(self, team_id: str | None) -> BillingResolution:
        """Pin ``team_id`` (``None`` clears the pin) through the store, and return the
        resolution decided at once from the inputs held: no request.

        Needs a session (:class:`~billing_core.NotAuthenticatedError`); the pin
        store's errors are raised. The id is written as given, as
        :meth:`PinStore.set_pinned_team_id <billing_core.PinStore.set_pinned_team_id>`
        does: a team that cannot be billed shows as an invalid pin, which
        :meth:`gate` refuses. To pin a team by name, refusing FREE-tier teams,
        use :func:`~billing_core.pin_billing_team`: the monitor sees that
        write within ``pin_interval``.
        """
        self._check_can_pin()
        written = run_sync(fetch(Calls(write_pin=PinWrite(team_id))), self._ports)
        unwrap(asked(written.pin_written))
        with self._lock:
            ticket = self._state.pin_ticket()  # after the write: a check before it is older
        identity = self._pin_identity()
        read = run_sync(fetch(PIN_CALLS), self._ports)
        self._pin_was_read(ticket, read, identity)
        return self.current()

    def close(self) -> None:
        """Stop: wait for a background refresh in flight; later calls raise. Idempotent."""
        with self._lock:
            self._close_state()
            threads = list(self._threads)
        self._subscribers.close()
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()

    # --- the slow path ---------------------------------------------------------------

    def _settle(self) -> Served:
        """Do what the state asks until it says serve."""
        while True:
            with self._lock:
                self._raise_if_closed()
                step = self._state.step(self._clock())
                while isinstance(step, Wait):
                    self._publish()
                    self._changed.wait()
                    self._raise_if_closed()
                    step = self._state.step(self._clock())
                if isinstance(step, Refresh) and step.background and self._in_background(step):
                    step = SERVE
                self._publish()
                served = self._served
            self._subscribers.deliver()
            if isinstance(step, Serve):
                return served
            if isinstance(step, Refresh):
                self._refresh(step)
            else:
                self._check_pin(step)

    def _in_background(self, step: Refresh) -> bool:
        """Under the lock: start ``step`` in a thread; ``False`` when none can start."""
        thread = threading.Thread(
            target=self._background_refresh,
            args=(step,),
            name="billing-monitor-refresh",
            daemon=True,
        )
        self._threads.add(thread)
        try:
            thread.start()
        except RuntimeError:  # interpreter shutdown, a thread limit: the caller refreshes
            self._threads.discard(thread)
            return False
        return True

    def _background_refresh(self, step: Refresh) -> None:
        try:
            self._refresh(step)
        except Exception:  # a bug: the state was told, the next call retries
            _logger.exception("a background billing refresh failed")
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _refresh(self, step: Refresh) -> None:
        with self._abandoned_on_exit(step.ticket):
            identity = self._pin_identity()  # before the read: a later write shows
            fetched = run_sync(fetch(INPUT_CALLS), self._ports)
        self._refreshed(step.ticket, fetched, identity)

    def _check_pin(self, step: CheckPin) -> None:
        with self._abandoned_on_exit(step.ticket):
            identity = self._pin_identity()
            with self._lock:
                must_read = self._state.pin_seen(step.ticket, identity, now=self._clock())
                self._publish()
            if not must_read:
                return
            read = run_sync(fetch(PIN_CALLS), self._ports)  # in this thread
        self._pin_was_read(step.ticket, read, identity)


# --- asyncio -------------------------------------------------------------------------


class AsyncBillingMonitor(MonitorBase, AsyncClosing):
    """The asyncio twin of :class:`BillingMonitor`, for one event loop.

    ``await current()``, ``await gate()``, ``await set_pinned_team_id()`` and
    ``await aclose()`` (or ``async with``); :meth:`invalidate` and
    :meth:`subscribe` are plain calls. A refresh runs as one task that every
    waiting caller awaits (a caller cancelled meanwhile does not cancel it);
    with ``refresh_ahead=True`` nobody awaits it. The pin file's ``os.stat``
    runs inline (one system call); pin reads and writes run in a worker
    thread, as in :func:`~billing_core.aresolve_billing`. :meth:`aclose`
    cancels a refresh in flight and leaves no task behind.
    """

    def __init__(
        self,
        *,
        active_provider: str | None,
        session_key: str | None,
        billing: AsyncBillingService,
        pins: PinStore,
        max_age: float = DEFAULT_MAX_AGE,
        max_stale: float = DEFAULT_MAX_STALE,
        pin_interval: float = DEFAULT_PIN_INTERVAL,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        refresh_ahead: bool = False,
        clock: Callable[[], float] = time.monotonic,
        hints: CommandHints = DEFAULT_COMMAND_HINTS,
    ) -> None:
        super().__init__(
            active_provider=active_provider,
            session_key=session_key,
            pins=pins,
            max_age=max_age,
            max_stale=max_stale,
            pin_interval=pin_interval,
            retry_interval=retry_interval,
            refresh_ahead=refresh_ahead,
            clock=clock,
            hints=hints,
        )
        self._ports = AsyncPorts(session_key=session_key or "", billing=billing, pins=pins)
        self._refresh_task: asyncio.Task[None] | None = None

    async def current(self) -> BillingResolution:
        """The latest resolution; refreshes first when it is stale (see :class:`BillingMonitor`)."""
        served = self._served
        if self._clock() < served[1]:
            return served[0]
        return (await self._settle())[0]

    async def gate(
        self, *, when_unknown: WhenUnknown = "refuse", teams: Iterable[Team] = ()
    ) -> BillingResolution:
        """Raise what :func:`~billing_core.ensure_billing_funds` raises for the current
        status (as :meth:`BillingMonitor.gate`); return the resolution when it passes."""
        served = self._served
        if self._clock() >= served[1]:
            served = await self._settle()
        return self._guarded(served, when_unknown=when_unknown, teams=teams)

    async def set_pinned_team_id(self, team_id: str | None) -> BillingResolution:
        """Pin ``team_id`` (``None`` clears) and return the resolution decided at once,
        with no request (see :meth:`BillingMonitor.set_pinned_team_id`)."""
        self._check_can_pin()
        written = await run_async(fetch(Calls(write_pin=PinWrite(team_id))), self._ports)
        unwrap(asked(written.pin_written))
        with self._lock:
            ticket = self._state.pin_ticket()
        identity = self._pin_identity()
        read = await run_async(fetch(PIN_CALLS), self._ports)
        self._pin_was_read(ticket, read, identity)
        return await self.current()

    async def aclose(self) -> None:
        """Stop: cancel a refresh in flight and wait for it to end; later calls raise."""
        with self._lock:
            self._close_state()
        self._subscribers.close()
        task = self._refresh_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # --- the slow path ---------------------------------------------------------------

    async def _settle(self) -> Served:
        """Do what the state asks until it says serve."""
        while True:
            with self._lock:
                self._raise_if_closed()
                step = self._state.step(self._clock())
                self._publish()
            self._subscribers.deliver()
            if isinstance(step, Serve):
                return self._served
            if isinstance(step, Wait):
                await self._join(self._refresh_task)
            elif isinstance(step, Refresh):
                task = asyncio.get_running_loop().create_task(
                    self._refresh(step), name="billing-monitor-refresh"
                )
                self._refresh_task = task
                task.add_done_callback(functools.partial(self._refresh_ended, step.ticket))
                if step.background:
                    return self._served
                await self._join(task)
            else:
                await self._check_pin(step)

    async def _join(self, task: asyncio.Task[None] | None) -> None:
        """Wait for the refresh ``task``; cancelling the caller does not cancel it."""
        if task is None:  # pragma: no cover - the state waits only while one runs
            await asyncio.sleep(0)
            return
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled() and self._closed:
                raise BillingConfigError("the billing monitor is closed") from None
            raise

    def _refresh_ended(self, ticket: int, task: asyncio.Task[None]) -> None:
        """A refresh task is done: cancelled before it ran, it must still be let go of;
        a failure is a bug (the ports' failures are outcomes), logged."""
        with self._lock:
            self._state.abandoned(ticket)  # nothing if it answered
            self._publish()
        if not task.cancelled() and task.exception() is not None:
            _logger.error("a billing refresh failed", exc_info=task.exception())

    async def _refresh(self, step: Refresh) -> None:
        with self._abandoned_on_exit(step.ticket):
            identity = self._pin_identity()
            fetched = await run_async(fetch(INPUT_CALLS), self._ports)
        self._refreshed(step.ticket, fetched, identity)

    async def _check_pin(self, step: CheckPin) -> None:
        with self._abandoned_on_exit(step.ticket):
            identity = self._pin_identity()
            with self._lock:
                must_read = self._state.pin_seen(step.ticket, identity, now=self._clock())
                self._publish()
            if not must_read:
                return
            read = await run_async(fetch(PIN_CALLS), self._ports)  # in a worker thread
        self._pin_was_read(step.ticket, read, identity)
