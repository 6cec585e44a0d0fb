"""Drive sans-I/O plans: each round's port calls made at once, in threads (sync) or tasks (async).

The only code that differs between the sync and the async shell (see
:mod:`billing_core._plan` for the idiom). Both drivers check what a port
returns before a plan sees it: ports may be third-party code, and a wrong
type is reported as a :class:`~billing_core.BillingPayloadError`, not met as a
crash deep inside a decision.

Sync: the calls of a round run at once, one request in the calling thread,
the other requests in a process-wide pool of daemon worker threads (a
request abandoned to Ctrl-C never keeps the program alive). The pin store is
read in the calling thread when it declares that it never blocks
(``reads_without_blocking``), in a worker otherwise. Plans only ever ask for
primitive port calls, so a pool task never waits for another pool task and
the pool cannot deadlock, however busy it is. When no thread can be started
(interpreter shutdown, a thread limit), a call runs in the calling thread.

Async: the calls run as tasks of one :class:`asyncio.TaskGroup`; the
synchronous pin store runs in the event loop when it never blocks, else in a
worker thread (:func:`asyncio.to_thread`).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from attrs import field, frozen

from billing_core._plan import Calls, Err, Fetched, Ok, Outcome, PinWrite, Plan
from billing_core.errors import BillingPayloadError
from billing_core.models import FreeUserLimit, OrganizationTier, RawUsage, Team
from billing_core.ports import (
    AsyncBillingService,
    AsyncTeamService,
    BillingService,
    PinRead,
    PinReader,
    PinStore,
    TeamService,
)

if TYPE_CHECKING:
    import asyncio

__all__ = ["AsyncPorts", "SyncPorts", "run_async", "run_sync"]

_T = TypeVar("_T")

# A resolve keeps at most three workers busy (one call runs in the caller's
# thread), so ten resolves can be in flight before calls queue up.
MAX_WORKERS: Final = 32


@frozen(kw_only=True)
class SyncPorts:
    """The blocking ports of one use case, and the session key their calls carry."""

    session_key: str = field(repr=False)
    billing: BillingService
    pins: PinStore | None = None
    teams: TeamService | None = None


@frozen(kw_only=True)
class AsyncPorts:
    """The async ports of one use case (the pin store is blocking in both worlds)."""

    session_key: str = field(repr=False)
    billing: AsyncBillingService
    pins: PinStore | None = None
    teams: AsyncTeamService | None = None


def run_sync(plan: Plan[_T], ports: SyncPorts) -> _T:
    """Run ``plan`` to its answer, making each round's calls at once in threads."""
    try:
        calls = next(plan)
        while True:
            calls = plan.send(_round_in_threads(calls, ports))
    except StopIteration as done:
        answer: _T = done.value
        return answer


async def run_async(plan: Plan[_T], ports: AsyncPorts) -> _T:
    """Run ``plan`` to its answer, making each round's calls at once as tasks."""
    try:
        calls = next(plan)
        while True:
            calls = plan.send(await _round_in_tasks(calls, ports))
    except StopIteration as done:
        answer: _T = done.value
        return answer


# --- sync -------------------------------------------------------------------------


class _Started(Generic[_T]):
    """A call handed to the pool, or kept to run in the waiting thread."""

    __slots__ = ("_call", "_future")

    def __init__(self, call: Callable[[], _T]) -> None:
        self._call = call
        self._future: Future[Outcome[_T]] | None = None

    def start(self) -> None:
        """Hand the call to the pool; it stays here when no thread can start."""
        try:
            self._future = _shared_pool().submit(lambda: _attempt(self._call))
        except RuntimeError:  # interpreter shutdown, or a thread could not start
            self._future = None

    def outcome(self) -> Outcome[_T]:
        """Wait for the pool's outcome, or make the call here if it never left."""
        if self._future is None:
            return _attempt(self._call)
        return self._future.result()

    def cancel(self) -> None:
        """Drop the call if no worker has started it (its outcome is not needed)."""
        if self._future is not None:
            self._future.cancel()


def _round_in_threads(calls: Calls, ports: SyncPorts) -> Fetched:
    key, billing = ports.session_key, ports.billing
    write = calls.write_pin
    pin = _started_if(calls.read_pin, lambda: _read_pin(ports.pins))
    pin_written = _started_if(write is not None, lambda: _write_pin(write, ports.pins))
    raw_usages = _started_if(
        calls.raw_usages, lambda: _sequence(billing.get_raw_usages(key), RawUsage, "usages")
    )
    tiers = _started_if(
        calls.tiers, lambda: _sequence(billing.get_tiers(key), OrganizationTier, "tiers")
    )
    free_limit = _started_if(
        calls.free_limit,
        lambda: _one(billing.get_free_user_limit(key), FreeUserLimit, "free user limit"),
    )
    teams = _started_if(
        calls.teams,
        lambda: _sequence(_required(ports.teams, "a team service").list_teams(key), Team, "teams"),
    )
    # Remote calls first: the one kept here is a request, which this thread
    # would otherwise only wait for (a round of one call never leaves it). A pin
    # store that never blocks is read here too, after that request: a hop to a
    # worker costs more than the read.
    local = () if _never_blocks(ports.pins) else (pin, pin_written)
    made = [call for call in (raw_usages, tiers, free_limit, teams, *local) if call is not None]
    for call in made[1:]:
        call.start()
    try:
        return Fetched(
            raw_usages=None if raw_usages is None else raw_usages.outcome(),
            tiers=None if tiers is None else tiers.outcome(),
            free_limit=None if free_limit is None else free_limit.outcome(),
            teams=None if teams is None else teams.outcome(),
            pin=None if pin is None else pin.outcome(),
            pin_written=None if pin_written is None else pin_written.outcome(),
        )
    except BaseException:  # KeyboardInterrupt...: calls nobody has started are dropped
        for call in made:
            call.cancel()
        raise


def _started_if(wanted: bool, call: Callable[[], _T]) -> _Started[_T] | None:
    return _Started(call) if wanted else None


class _DaemonPool:
    """A bounded pool of daemon worker threads, started as work arrives.

    Not :class:`~concurrent.futures.ThreadPoolExecutor`: its workers are joined
    when the interpreter exits, so one request still waiting on a slow upstream
    would keep a program alive after Ctrl-C. Daemon workers never do; a call
    abandoned that way holds nothing that outlives the process.
    """

    def __init__(self, max_workers: int) -> None:
        self._max_workers = max_workers
        self._work: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]]] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # one release per worker waiting for work
        self._workers = 0
        self._lock = threading.Lock()

    def submit(self, call: Callable[[], _T]) -> Future[_T]:
        """Run ``call`` in a worker; ``RuntimeError`` when no worker can take it."""
        future: Future[_T] = Future()
        if not self._idle.acquire(blocking=False):
            self._add_worker()  # may raise RuntimeError: nothing was queued then
        self._work.put((future, call))
        return future

    def _add_worker(self) -> None:
        with self._lock:
            if self._workers >= self._max_workers:
                return  # the call queues for the next free worker
            worker = threading.Thread(
                target=self._serve, name=f"billing-core-{self._workers}", daemon=True
            )
            worker.start()
            self._workers += 1

    def _serve(self) -> None:
        # A worker is started for work already queued: it counts itself idle
        # only once it has finished an item, so a submission never takes a
        # new worker for an idle one.
        while True:
            future, call = self._work.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as error:  # handed to the waiter, who re-raises it
                    future.set_exception(error)
            self._idle.release()


_pool: _DaemonPool | None = None
_pool_lock = threading.Lock()


def _shared_pool() -> _DaemonPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _DaemonPool(MAX_WORKERS)
        return _pool


def _forget_pool_in_child() -> None:
    # A forked child inherits the pool's bookkeeping but not its threads:
    # submitting to it would wait forever. The child makes its own.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


# --- async ------------------------------------------------------------------------


async def _round_in_tasks(calls: Calls, ports: AsyncPorts) -> Fetched:
    import asyncio  # here: a sync program never pays for importing it (~13 ms)

    key, billing = ports.session_key, ports.billing
    # Each task catches Exception into an Err, so only what is not the plan's to
    # handle (KeyboardInterrupt, SystemExit...) ends the group, cancelling the rest.
    try:
        async with asyncio.TaskGroup() as group:

            def task_if(
                wanted: bool, call: Callable[[], Awaitable[_T]]
            ) -> asyncio.Task[Outcome[_T]] | None:
                return group.create_task(_aattempt(call())) if wanted else None

            write = calls.write_pin
            # A store that may block is read in a worker thread, one that never
            # does in the loop: the read (~30 µs) costs less than the hop (~190 µs).
            hop = not _never_blocks(ports.pins)
            pin = task_if(calls.read_pin, lambda: _local(hop, _read_pin, ports.pins))
            pin_written = task_if(
                write is not None, lambda: _local(hop, _write_pin, write, ports.pins)
            )
            raw_usages = task_if(
                calls.raw_usages,
                lambda: _asequence(billing.get_raw_usages(key), RawUsage, "usages"),
            )
            tiers = task_if(
                calls.tiers, lambda: _asequence(billing.get_tiers(key), OrganizationTier, "tiers")
            )
            free_limit = task_if(
                calls.free_limit,
                lambda: _aone(billing.get_free_user_limit(key), FreeUserLimit, "free user limit"),
            )
            teams = task_if(
                calls.teams,
                lambda: _asequence(
                    _required(ports.teams, "a team service").list_teams(key), Team, "teams"
                ),
            )
    except BaseExceptionGroup as failed:  # not an Exception: re-raised as it came
        raise failed.exceptions[0] from None
    return Fetched(
        pin=None if pin is None else pin.result(),
        pin_written=None if pin_written is None else pin_written.result(),
        raw_usages=None if raw_usages is None else raw_usages.result(),
        tiers=None if tiers is None else tiers.result(),
        free_limit=None if free_limit is None else free_limit.result(),
        teams=None if teams is None else teams.result(),
    )


async def _local(hop: bool, call: Callable[..., _T], *arguments: object) -> _T:
    if hop:
        import asyncio

        return await asyncio.to_thread(call, *arguments)
    return call(*arguments)


async def _aattempt(call: Awaitable[_T]) -> Outcome[_T]:
    try:
        return Ok(await call)
    except Exception as error:  # ports are third-party code; BaseException propagates
        return Err(error)


async def _asequence(call: Awaitable[object], kind: type[_T], what: str) -> tuple[_T, ...]:
    return _sequence(await call, kind, what)


async def _aone(call: Awaitable[object], kind: type[_T], what: str) -> _T:
    return _one(await call, kind, what)


# --- shared: attempts and the checks at the ports' boundary -------------------------------


def _attempt(call: Callable[[], _T]) -> Outcome[_T]:
    try:
        return Ok(call())
    except Exception as error:  # ports are third-party code; BaseException propagates
        return Err(error)


def _never_blocks(pins: PinStore | None) -> bool:
    """Whether the pin store declares that its calls never block (``reads_without_blocking``)."""
    return getattr(pins, "reads_without_blocking", False) is True


def _read_pin(pins: PinStore | None) -> PinRead:
    store = _required(pins, "a pin store")
    if isinstance(store, PinReader):
        read = _one(store.read_pin(), PinRead, "pin read")
    else:
        read = PinRead(store.get_pinned_team_id())
    team_id: object = read.team_id
    if team_id is not None and not isinstance(team_id, str):
        raise BillingPayloadError(f"the pin store returned a {type(team_id).__name__}")
    return read


def _write_pin(write: PinWrite | None, pins: PinStore | None) -> None:
    _required(pins, "a pin store").set_pinned_team_id(None if write is None else write.team_id)


def _sequence(value: object, kind: type[_T], what: str) -> tuple[_T, ...]:
    """``value`` as a tuple of ``kind``; a port that returned something else is at fault."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise BillingPayloadError(f"{what} must be a sequence, not {type(value).__name__}")
    items = tuple(value)
    for index, item in enumerate(items):
        _one(item, kind, f"{what}[{index}]")
    return items


def _one(value: object, kind: type[_T], what: str) -> _T:
    if not isinstance(value, kind):
        raise BillingPayloadError(f"{what} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _required(port: _T | None, what: str) -> _T:
    if port is None:
        raise TypeError(f"this use case needs {what}")
    return port
