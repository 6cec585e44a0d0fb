"""In-memory fakes of every port: fast, deterministic test doubles with fault injection.

The services serve an :class:`~billing_core.testing.Account` the way the real
upstream would (:class:`~billing_core.testing.FakeBillingApi` does the same over
HTTP): the session key is checked (a wrong one raises
:class:`~billing_core.BillingAuthError`), an account without free credits
answers like a 404, and each call can be made to fail, wait, or stop at a hook.
A closed service refuses calls with :class:`~billing_core.BillingConfigError`,
as the HTTP adapters do.

>>> from billing_core.testing import Account, DEFAULT_SESSION_KEY
>>> billing = InMemoryBillingService(Account())
>>> billing.get_usages(DEFAULT_SESSION_KEY)
()
>>> billing.calls["usages"], billing.calls["tiers"]
(1, 1)
>>> billing.failures["tiers"] = BillingApiError("down", endpoint="GET /billing/organizations/tiers")
>>> billing.get_tiers(DEFAULT_SESSION_KEY)
Traceback (most recent call last):
  ...
billing_core.errors.BillingApiError: GET /billing/organizations/tiers: down
"""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Final, TypeAlias, TypeVar

from billing_core._drive import AsyncPorts, SyncPorts, run_async, run_sync
from billing_core._endpoints import BILLING_PATHS, Name, label
from billing_core._plan import usages_plan
from billing_core.errors import BillingApiError, BillingAuthError, BillingConfigError
from billing_core.models import BillingUsage, FreeUserLimit, OrganizationTier, RawUsage, Team
from billing_core.ports import AsyncClosing, Closing
from billing_core.testing.account import DEFAULT_SESSION_KEY, Account

__all__ = [
    "AsyncInMemoryBillingService",
    "AsyncInMemoryTeamService",
    "InMemoryBillingService",
    "InMemoryPinStore",
    "InMemoryTeamService",
    "Part",
]

Part: TypeAlias = Name
"""The upstream endpoints, named as :class:`~billing_core.testing.FakeBillingApi` names them:
``"usages"``, ``"tiers"``, ``"free-limit"`` or ``"teams"``.

Keys of ``failures`` and ``calls``; ``get_usages`` counts as one ``usages`` and
one ``tiers`` call, like the two requests it makes over HTTP. Errors name the
endpoint as the HTTP adapters do (``GET /billing/usages``).
"""

_BILLING_PARTS: Final = frozenset(BILLING_PATHS)
_TEAM_PARTS: Final = frozenset({"teams"})

_T = TypeVar("_T")


class InMemoryPinStore:
    """A :class:`~billing_core.ports.PinStore` in memory, safe to share between threads.

    ``fail_with``, when set, is raised by every read and write (e.g. a
    :class:`~billing_core.PinStoreError` to play an unreadable pin file);
    ``on_call`` is called with ``"get"`` or ``"set"`` at the start of each call,
    in the calling thread (tests use it to hold calls at a barrier). ``reads``
    and ``writes`` count the calls, failed ones included.

    >>> store = InMemoryPinStore("team-1")
    >>> store.get_pinned_team_id()
    'team-1'
    >>> store.set_pinned_team_id(None)
    >>> store.team_id is None, store.writes
    (True, 1)
    """

    def __init__(
        self,
        team_id: str | None = None,
        *,
        fail_with: BaseException | None = None,
        on_call: Callable[[str], object] | None = None,
    ) -> None:
        _check_pin(team_id)
        self._team_id = team_id
        self._lock = threading.Lock()
        self.fail_with = fail_with
        self.on_call = on_call
        self.reads = 0
        self.writes = 0

    @property
    def reads_without_blocking(self) -> bool:
        """True unless an ``on_call`` hook is set (a hook may block: a barrier, a sleep)."""
        return self.on_call is None

    @property
    def team_id(self) -> str | None:
        """The pin as stored (whatever ``fail_with`` says)."""
        with self._lock:
            return self._team_id

    def get_pinned_team_id(self) -> str | None:
        """The pinned team id, or ``None``."""
        self._enter("get")
        with self._lock:
            self.reads += 1
            self._raise_injected()
            return self._team_id

    def set_pinned_team_id(self, team_id: str | None) -> None:
        """Pin ``team_id``, or clear the pin with ``None``."""
        _check_pin(team_id)
        self._enter("set")
        with self._lock:
            self.writes += 1
            self._raise_injected()
            self._team_id = team_id

    def _enter(self, operation: str) -> None:
        if self.on_call is not None:
            self.on_call(operation)

    def _raise_injected(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with.with_traceback(None)

    def __repr__(self) -> str:
        return f"InMemoryPinStore({self.team_id!r})"


def _check_pin(team_id: object) -> None:
    if team_id is not None and not isinstance(team_id, str):
        raise TypeError(f"team_id must be a string or None, not {type(team_id).__name__}")


class _FakeService:
    """What every in-memory service shares: counters, the hook, faults and the key check.

    The fakes follow the shell's sync/async idiom: this class decides (count,
    hook, injected fault, session check, answer) without waiting for anything;
    :func:`_serve` and :func:`_aserve` are the two thin drivers that call the
    hook and wait the delay, blocking or awaiting.
    """

    _parts: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        session_key: str,
        delay: float,
        failures: Mapping[Part, BaseException] | None,
        on_call: Callable[[str], object] | None,
    ) -> None:
        unknown = set(failures or {}) - self._parts
        if unknown:
            raise BillingConfigError(
                f"failures for unknown parts {sorted(unknown)}: use {sorted(self._parts)}"
            )
        if (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not math.isfinite(delay)
            or delay < 0
        ):
            raise BillingConfigError(
                f"delay must be a finite number of seconds >= 0, not {delay!r}"
            )
        self._session_key = session_key
        self.delay = delay
        self.on_call = on_call
        self.failures: dict[Part, BaseException] = dict(failures or {})
        """Part -> exception raised by every call of that part (edit freely)."""
        self.calls: Counter[str] = Counter()
        """Calls per part so far, failed ones included."""
        self.closed = False
        self._lock = threading.Lock()

    def admit(self, part: Part, session_key: str, answer: Callable[[], _T]) -> _T:
        """Fail the call as injected or as upstream would, or answer it."""
        if self.closed:
            raise BillingConfigError("the service is closed")  # as the HTTP adapters say
        failure = self.failures.get(part)
        if failure is not None:
            raise failure.with_traceback(None)
        if session_key != self._session_key:
            raise BillingAuthError(
                "invalid or expired session", endpoint=label(part), status_code=401
            )
        return answer()

    def arrive(self, part: Part) -> object:
        """Count the call and run the hook; returns what the hook returned."""
        with self._lock:
            self.calls[part] += 1
        return None if self.on_call is None else self.on_call(part)

    def close(self) -> None:
        """Mark the service closed: later calls raise :class:`~billing_core.BillingConfigError`."""
        self.closed = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(calls={dict(self.calls)!r}, closed={self.closed!r})"


def _serve(fake: _FakeService, part: Part, session_key: str, answer: Callable[[], _T]) -> _T:
    """The sync driver of a fake's call: the hook runs in this thread, the delay blocks it."""
    fake.arrive(part)
    if fake.delay:
        time.sleep(fake.delay)
    return fake.admit(part, session_key, answer)


async def _aserve(fake: _FakeService, part: Part, session_key: str, answer: Callable[[], _T]) -> _T:
    """The async driver: a hook returning an awaitable is awaited; the delay sleeps."""
    hooked = fake.arrive(part)
    if inspect.isawaitable(hooked):
        await hooked
    if fake.delay:
        await asyncio.sleep(fake.delay)
    return fake.admit(part, session_key, answer)


class _BillingData(_FakeService):
    """The billing endpoints' answers, taken from an account unless given."""

    _parts = _BILLING_PARTS

    def __init__(
        self,
        account: Account | None = None,
        *,
        raw_usages: Iterable[RawUsage] | None = None,
        tiers: Iterable[OrganizationTier] | None = None,
        session_key: str = DEFAULT_SESSION_KEY,
        delay: float = 0.0,
        failures: Mapping[Part, BaseException] | None = None,
        on_call: Callable[[str], object] | None = None,
    ) -> None:
        super().__init__(session_key=session_key, delay=delay, failures=failures, on_call=on_call)
        account = Account() if account is None else account
        self.raw_usages: tuple[RawUsage, ...] = tuple(
            account.raw_usages() if raw_usages is None else raw_usages
        )
        self.tiers: tuple[OrganizationTier, ...] = tuple(
            account.tiers() if tiers is None else tiers
        )
        self.free_user_limit: FreeUserLimit | None = account.free_user_limit
        """``None`` answers like upstream's 404 for an account without free credits."""

    def _raw_usages(self) -> tuple[RawUsage, ...]:
        return self.raw_usages

    def _tiers(self) -> tuple[OrganizationTier, ...]:
        return self.tiers

    def _free_user_limit(self) -> FreeUserLimit:
        if self.free_user_limit is None:
            raise BillingApiError(
                "no free-user limit for this account",
                endpoint=label("free-limit"),
                status_code=404,
            )
        return self.free_user_limit


class InMemoryBillingService(_BillingData, Closing):
    """A :class:`~billing_core.ports.BillingService` serving ``account`` from memory.

    ``raw_usages`` and ``tiers`` replace what the account says (e.g. to serve a
    tier entry for an unknown organisation); ``free_user_limit`` comes from the
    account (an attribute: change it freely). ``session_key`` is the only key
    accepted. Each call counts itself in ``calls``, runs ``on_call(part)`` in
    the calling thread, sleeps ``delay`` seconds, then raises
    ``failures[part]`` if set. ``get_usages`` makes its two calls at once,
    as the HTTP adapter does.
    """

    def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        """The account's usages before the tier join."""
        return _serve(self, "usages", session_key, self._raw_usages)

    def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        """The account's tier entries (FREE organisations have none)."""
        return _serve(self, "tiers", session_key, self._tiers)

    def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        """The account's free credits; raises a 404 ``BillingApiError`` when it has none."""
        return _serve(self, "free-limit", session_key, self._free_user_limit)

    def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        """Raw usages joined with tiers, both fetched concurrently (the usages' error wins)."""
        return run_sync(usages_plan(), SyncPorts(session_key=session_key, billing=self))


class AsyncInMemoryBillingService(_BillingData, AsyncClosing):
    """The async twin of :class:`InMemoryBillingService`.

    ``on_call(part)`` may return an awaitable, which is awaited (tests meet at
    a barrier this way); ``get_usages`` makes its two calls concurrently.
    """

    async def aclose(self) -> None:
        """Mark the service closed: later calls raise :class:`~billing_core.BillingConfigError`."""
        self.close()

    async def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        """The account's usages before the tier join."""
        return await _aserve(self, "usages", session_key, self._raw_usages)

    async def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        """The account's tier entries (FREE organisations have none)."""
        return await _aserve(self, "tiers", session_key, self._tiers)

    async def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        """The account's free credits; raises a 404 ``BillingApiError`` when it has none."""
        return await _aserve(self, "free-limit", session_key, self._free_user_limit)

    async def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        """Raw usages joined with tiers, both fetched concurrently (the usages' error wins)."""
        return await run_async(usages_plan(), AsyncPorts(session_key=session_key, billing=self))


class _TeamData(_FakeService):
    """The team endpoint's answer, taken from an account unless given."""

    _parts = _TEAM_PARTS

    def __init__(
        self,
        account: Account | None = None,
        *,
        teams: Iterable[Team] | None = None,
        session_key: str = DEFAULT_SESSION_KEY,
        delay: float = 0.0,
        failures: Mapping[Part, BaseException] | None = None,
        on_call: Callable[[str], object] | None = None,
    ) -> None:
        super().__init__(session_key=session_key, delay=delay, failures=failures, on_call=on_call)
        account = Account() if account is None else account
        self.teams: tuple[Team, ...] = tuple(account.teams if teams is None else teams)

    def _teams(self) -> tuple[Team, ...]:
        return self.teams


class InMemoryTeamService(_TeamData, Closing):
    """A :class:`~billing_core.ports.TeamService` serving ``account.teams`` (or ``teams``).

    The session key, ``delay``, ``failures`` (key ``"teams"``), ``on_call`` and
    ``calls`` work as in :class:`InMemoryBillingService`.
    """

    def list_teams(self, session_key: str) -> tuple[Team, ...]:
        """Every team of the account."""
        return _serve(self, "teams", session_key, self._teams)


class AsyncInMemoryTeamService(_TeamData, AsyncClosing):
    """The async twin of :class:`InMemoryTeamService`."""

    async def aclose(self) -> None:
        """Mark the service closed: later calls raise :class:`~billing_core.BillingConfigError`."""
        self.close()

    async def list_teams(self, session_key: str) -> tuple[Team, ...]:
        """Every team of the account."""
        return await _aserve(self, "teams", session_key, self._teams)
