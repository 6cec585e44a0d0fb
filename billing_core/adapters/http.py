"""The HTTP adapters of the billing and team ports: two httpx transports and the four services.

Every decision is made once, sans-I/O, and shared by the sync and async twins:
:class:`~billing_core.adapters._request.Get` decides everything about one
request (headers, time budget, retries, body cap, which error to raise) and
:mod:`billing_core.adapters._answers` turns answers into models (with
:class:`~billing_core.adapters._answers.TeamPages` walking the team listing).
This module holds only the I/O: ``_SyncTransport`` sends over one pooled
``httpx.Client`` (threads), ``_AsyncTransport`` over one ``httpx.AsyncClient``
per event loop (tasks); each service method is a thin driver: make a ``Get``,
send it, decode the answer.

Each service admits at most ``max_in_flight`` requests at once (a semaphore,
per event loop for the async ones); the others queue, their wait counted in
their time budget. A burst (an agent host resolving 500 projects together)
thus never piles more requests into httpx's pool than it has connections.
The clients a service makes itself have a pool of that size, build an SSL
context only for an ``https://`` base URL, and (sync) end every socket
operation by the request's deadline, since httpx's sync client bounds each
operation rather than the request.

>>> from billing_core.testing import Account, FakeBillingApi
>>> with FakeBillingApi(Account()) as api, HttpBillingService(api.base_url) as billing:
...     billing.get_usages(api.session_key)
()

Security: the session key is only ever sent to the configured origin (a
``https://`` URL, or ``http://`` to a loopback host; redirects are never
followed); it is refused if it holds control characters, and it never appears
in a ``repr``, an error message or a log record (an upstream message that
echoes it is redacted).
"""

from __future__ import annotations

import contextvars
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Final

import httpcore
import httpx

# The "X as X" imports are re-exports: the defaults and caps stay importable from
# here. To change one, pass the constructor argument (max_body_bytes=, max_pages=,
# max_listing_bytes=, max_in_flight=).
from billing_core._drive import AsyncPorts, SyncPorts, run_async, run_sync
from billing_core._plan import usages_plan
from billing_core.adapters._answers import MAX_LISTING_BYTES as MAX_LISTING_BYTES
from billing_core.adapters._answers import MAX_TEAM_PAGES as MAX_TEAM_PAGES
from billing_core.adapters._answers import TEAM_PAGE_SIZE as TEAM_PAGE_SIZE
from billing_core.adapters._answers import TeamPages, free_user_limit, organizations
from billing_core.adapters._request import DEFAULT_MAX_IN_FLIGHT as DEFAULT_MAX_IN_FLIGHT
from billing_core.adapters._request import DEFAULT_MAX_RETRIES as DEFAULT_MAX_RETRIES
from billing_core.adapters._request import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from billing_core.adapters._request import MAX_BODY_BYTES as MAX_BODY_BYTES
from billing_core.adapters._request import MAX_TIMEOUT as MAX_TIMEOUT
from billing_core.adapters._request import (
    Failed,
    Get,
    Settings,
    check_count,
    client_options,
)
from billing_core.errors import BillingConfigError
from billing_core.models import BillingUsage, FreeUserLimit, OrganizationTier, RawUsage, Team
from billing_core.ports import AsyncClosing, Closing

if TYPE_CHECKING:
    # At run time the async transport imports asyncio where it uses it: a program
    # using only the sync services (the CLI) does not pay for loading it.
    import asyncio

__all__ = [
    "AsyncHttpBillingService",
    "AsyncHttpTeamService",
    "HttpBillingService",
    "HttpTeamService",
]


# --- the clients a service makes itself ------------------------------------------------------

# The deadline of the request the current thread is sending (sync transport only).
_DEADLINE: Final[contextvars.ContextVar[float | None]] = contextvars.ContextVar(
    "billing_core_request_deadline", default=None
)
# httpx's defaults for the connections kept open between requests. More kept
# open would save reconnecting during a burst, but httpcore's pool scans its
# connections in quadratic time on every request: 100 kept open cost more.
_KEEPALIVE_CONNECTIONS: Final = 20
_KEEPALIVE_SECONDS: Final = 5.0


def _within_deadline(
    timeout: float | None, expired: type[httpcore.TimeoutException]
) -> float | None:
    """``timeout`` cut to what is left of the current request's budget; ``expired`` once spent."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request's time budget is spent")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline of the request using it.

    httpx's sync client gives each socket operation the whole timeout: a server
    dripping its headers a byte at a time would keep a request alive forever.
    """

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _within_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _within_deadline(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking sockets, as :class:`_DeadlineStream` connections."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _PoolTransport(httpx.HTTPTransport):
    """httpx's transport over a pool made here (httpx builds its own with no backend option)."""

    def __init__(self, pool: httpcore.ConnectionPool) -> None:
        # Not super().__init__(): it would build a pool (and an SSL context) only
        # to be replaced; every inherited method uses nothing but ``_pool``.
        self._pool = pool


class _AsyncPoolTransport(httpx.AsyncHTTPTransport):
    """The async twin of :class:`_PoolTransport`."""

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self._pool = pool


def _pool_options(settings: Settings, *, trust_env: bool) -> dict[str, Any]:
    # Loading the CA bundle costs tens of milliseconds: only an https:// base URL
    # needs it (an http:// one is loopback, and no other origin is ever asked).
    ssl_context = httpx.create_ssl_context(trust_env=trust_env) if settings.uses_tls else None
    return {
        "ssl_context": ssl_context,
        # As many connections as requests admitted: none waits in httpx's pool.
        "max_connections": settings.max_in_flight,
        "max_keepalive_connections": min(settings.max_in_flight, _KEEPALIVE_CONNECTIONS),
        "keepalive_expiry": _KEEPALIVE_SECONDS,
    }


def _own_client(settings: Settings) -> httpx.Client:
    options = client_options(settings)
    pool = httpcore.ConnectionPool(
        **_pool_options(settings, trust_env=options["trust_env"]),
        network_backend=_DeadlineBackend(),
    )
    return httpx.Client(transport=_PoolTransport(pool), **options)


def _own_async_client(settings: Settings) -> httpx.AsyncClient:
    options = client_options(settings)
    pool = httpcore.AsyncConnectionPool(**_pool_options(settings, trust_env=options["trust_env"]))
    return httpx.AsyncClient(transport=_AsyncPoolTransport(pool), **options)


# --- the transports: all the I/O -------------------------------------------------------------


class _SyncTransport:
    """One pooled ``httpx.Client`` (created on first use), the in-flight bound, the retry loop."""

    def __init__(self, settings: Settings, client: httpx.Client | None) -> None:
        if client is not None and not isinstance(client, httpx.Client):
            raise BillingConfigError("client must be an httpx.Client")
        self._settings = settings
        self._client = client
        self._owns_client = client is None
        self._closed = False
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.max_in_flight)

    def client(self) -> httpx.Client:
        """The client to send with; a config error once closed."""
        with self._lock:
            if self._closed:
                raise BillingConfigError("the service is closed")
            if self._client is None:
                self._client = _own_client(self._settings)
            if self._client.is_closed:
                raise BillingConfigError("the HTTP client is closed")
            return self._client

    def close(self) -> None:
        """Close the client if this transport made it. Idempotent."""
        with self._lock:
            client, self._client = self._client, None
            self._closed = True
        if client is not None and self._owns_client:
            client.close()

    def send(self, get: Get) -> dict[str, Any]:
        """The JSON object ``get`` answers with, retrying transient failures."""
        while True:
            try:
                return self._attempt(get)
            except Failed as failure:
                pause = get.retry_pause(failure)
                if pause is None:
                    raise failure.error from None
                time.sleep(pause)

    def _attempt(self, get: Get) -> dict[str, Any]:
        client = self.client()
        # A burst queues here rather than in httpx's pool, within the budget.
        if not self._slots.acquire(timeout=get.attempt_timeout()):
            raise get.timed_out()
        # Read by the sockets of a client made here (_DeadlineStream).
        deadline = _DEADLINE.set(get.deadline)
        try:
            with client.stream(
                "GET",
                get.url,
                headers=get.headers,
                timeout=get.attempt_timeout(),
                follow_redirects=False,
            ) as response:
                get.check_length(response.headers)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    get.check_progress(len(body))
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # ValueError (UnicodeError): a host name the IDNA encoding refuses;
            # check_base_url should have caught it already.
            raise get.transport_failure(exc) from None
        finally:
            _DEADLINE.reset(deadline)
            self._slots.release()
        return get.answer(response, bytes(body))


class _AsyncTransport:
    """One pooled ``httpx.AsyncClient`` per event loop (created on first use), the retry loop.

    Pooled connections belong to the loop that opened them: reused from another
    loop (a second ``asyncio.run``, say) they fail with "Event loop is closed".
    So a service that owns its client keeps one per loop, and forgets the client
    of a loop once that loop is closed (its sockets can no longer be closed
    through asyncio; the garbage collector closes them). A caller-owned client
    cannot be replaced: using it from a second loop is a configuration error.
    The in-flight bound is a semaphore per loop too (asyncio's belong to one).
    """

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None) -> None:
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise BillingConfigError("client must be an httpx.AsyncClient")
        self._settings = settings
        self._caller_client = client
        # The loop the caller's client was first used in (weak: never keep a loop alive).
        self._caller_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._own_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, httpx.AsyncClient
        ] = weakref.WeakKeyDictionary()
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False
        # Tasks of one loop cannot race here (no await inside), but loops in threads can.
        self._lock = threading.Lock()

    def _client_and_slots(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        import asyncio

        with self._lock:
            if self._closed:
                raise BillingConfigError("the service is closed")
            client = self._caller_client
            if client is None:
                client = self._own_client(loop)
            else:
                self._check_caller_loop(loop)
            slots = self._slots.get(loop)
            if slots is None:
                slots = self._slots[loop] = asyncio.Semaphore(self._settings.max_in_flight)
        if client.is_closed:
            raise BillingConfigError("the HTTP client is closed")
        return client, slots

    def _check_caller_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._caller_loop is None:
            self._caller_loop = weakref.ref(loop)
        elif self._caller_loop() is not loop:
            raise BillingConfigError(
                "the httpx.AsyncClient given to this service was first used in another event"
                " loop, and its connections cannot move between loops: create the client and"
                " the service inside the loop that uses them, or let the service own its client"
            )

    def _own_client(self, loop: asyncio.AbstractEventLoop) -> httpx.AsyncClient:
        client = self._own_clients.get(loop)
        if client is None:  # a new loop: the time to forget those that are closed
            for other in [other for other in self._own_clients if other.is_closed()]:
                del self._own_clients[other]  # dead connections: nothing can reuse or close them
            client = _own_async_client(self._settings)
            self._own_clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close this loop's own client and let the others go. Idempotent."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            self._closed = True
            client = self._own_clients.pop(loop, None)
            # Clients of other loops can only be closed from their loop: they are let go.
            self._own_clients.clear()
        if client is not None:
            await client.aclose()

    async def send(self, get: Get) -> dict[str, Any]:
        """The JSON object ``get`` answers with, retrying transient failures."""
        import asyncio

        while True:
            try:
                return await self._attempt(get)
            except Failed as failure:
                pause = get.retry_pause(failure)
                if pause is None:
                    raise failure.error from None
                await asyncio.sleep(pause)

    async def _attempt(self, get: Get) -> dict[str, Any]:
        import asyncio

        client, slots = self._client_and_slots(asyncio.get_running_loop())
        budget = get.attempt_timeout()
        try:
            # The client's timeouts bound each network operation; asyncio bounds the
            # whole attempt, the wait for a slot included (a burst queues here, not
            # in httpx's pool).
            async with (
                asyncio.timeout(budget),
                slots,
                client.stream(
                    "GET", get.url, headers=get.headers, follow_redirects=False
                ) as response,
            ):
                get.check_length(response.headers)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    get.check_progress(len(body))
        except TimeoutError:
            raise get.timed_out() from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # ValueError (UnicodeError): a host name the IDNA encoding refuses;
            # check_base_url should have caught it already.
            raise get.transport_failure(exc) from None
        return get.answer(response, bytes(body))


# --- the services ----------------------------------------------------------------------------


class _HttpService:
    """What the four services share: the checked settings, the base URL and the repr."""

    _settings: Settings

    def __repr__(self) -> str:
        settings = self._settings
        return f"{type(self).__name__}({settings.base_url!r}, timeout={settings.timeout:g})"

    @property
    def base_url(self) -> str:
        """The base URL the service was given, without a trailing slash."""
        return self._settings.base_url


class _SyncHttpService(_HttpService, Closing):
    """A blocking service over one pooled ``httpx.Client``, and a context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.Client | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self._settings = Settings(
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_body_bytes=max_body_bytes,
            max_in_flight=max_in_flight,
        )
        self._http = _SyncTransport(self._settings, client)

    def close(self) -> None:
        """Release pooled connections (a caller-owned client is left open). Idempotent."""
        self._http.close()


class _AsyncHttpService(_HttpService, AsyncClosing):
    """An async service over one ``httpx.AsyncClient`` per event loop, and a context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.AsyncClient | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self._settings = Settings(
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_body_bytes=max_body_bytes,
            max_in_flight=max_in_flight,
        )
        self._http = _AsyncTransport(self._settings, client)

    async def aclose(self) -> None:
        """Release pooled connections (a caller-owned client is left open). Idempotent."""
        await self._http.aclose()


class HttpBillingService(_SyncHttpService):
    """The billing endpoints over HTTP, blocking (a :class:`~billing_core.BillingService`).

    ``base_url`` is e.g. ``https://api.example.com/api/v1``. ``timeout`` is the
    budget of each whole request in seconds (at most a day): waiting for a
    slot, connecting, every byte of the answer and the retries; a server
    dripping its answer cannot stretch it. Transient failures (connection
    errors, 502, 503, 504) are retried ``max_retries`` times after a short
    jittered pause when the budget allows. ``client`` is an optional
    caller-owned ``httpx.Client``, left open by :meth:`close`; with one, the
    budget is checked between reads and httpx bounds each read, so keep its
    own timeouts short.

    ``max_in_flight`` (default :data:`DEFAULT_MAX_IN_FLIGHT`, 100, the size of
    httpx's pool) bounds the requests this service has out at once, whatever
    the number of threads using it: the others queue, and a burst is served
    rather than failed with pool timeouts. The client the service makes has a
    pool of that size; give a caller-owned client at least as many connections.

    Cap: ``max_body_bytes`` (default :data:`MAX_BODY_BYTES`, 10 MB) bounds the
    body of each answer; a larger one is a
    :class:`~billing_core.BillingPayloadError`, refused unread when its length
    is announced. Every setting is checked here: a bad one is a
    :class:`~billing_core.BillingConfigError`.
    """

    def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        """Every organisation's usage, before the tier join."""
        get = Get(self._settings, "usages", session_key)
        return organizations(get, self._http.send(get), RawUsage)

    def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        """Every organisation's tier entry (orgs without one are FREE)."""
        get = Get(self._settings, "tiers", session_key)
        return organizations(get, self._http.send(get), OrganizationTier)

    def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        """The user's personal free credits."""
        get = Get(self._settings, "free-limit", session_key)
        return free_user_limit(get, self._http.send(get))

    def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        """Usages joined with tiers: both endpoints are fetched concurrently.

        When both fail, an expired session wins, else the usages' error.
        """
        self._settings.headers(session_key)  # refuse a bad key before starting a thread
        return run_sync(usages_plan(), SyncPorts(session_key=session_key, billing=self))


class AsyncHttpBillingService(_AsyncHttpService):
    """The async twin of :class:`HttpBillingService`, over one ``httpx.AsyncClient``.

    It may be used from successive event loops (e.g. one ``asyncio.run`` per
    command): its own client is replaced when the loop changes, since pooled
    connections cannot outlive their loop. Call :meth:`aclose` (or use
    ``async with``) in the loop that made the calls to release them promptly.
    A caller-owned ``client`` stays bound to the first loop that used it.
    Settings and cap as for :class:`HttpBillingService`; the ``max_in_flight``
    bound applies per event loop, and the time budget holds with any client.
    """

    async def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        """Every organisation's usage, before the tier join."""
        get = Get(self._settings, "usages", session_key)
        return organizations(get, await self._http.send(get), RawUsage)

    async def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        """Every organisation's tier entry (orgs without one are FREE)."""
        get = Get(self._settings, "tiers", session_key)
        return organizations(get, await self._http.send(get), OrganizationTier)

    async def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        """The user's personal free credits."""
        get = Get(self._settings, "free-limit", session_key)
        return free_user_limit(get, await self._http.send(get))

    async def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        """Usages joined with tiers: both endpoints are fetched concurrently.

        When both fail, an expired session wins, else the usages' error.
        """
        return await run_async(usages_plan(), AsyncPorts(session_key=session_key, billing=self))


class HttpTeamService(_SyncHttpService):
    """The team endpoint over HTTP, blocking (a :class:`~billing_core.TeamService`).

    ``base_url`` is the team base URL (often the billing one). Pages of
    :data:`TEAM_PAGE_SIZE` (100) teams are fetched until ``total`` is reached or
    a page comes back empty; ``timeout``, ``max_retries``, ``client``,
    ``max_in_flight`` and ``max_body_bytes`` are as for
    :class:`HttpBillingService`, and apply to each page request.

    Caps, each a :class:`~billing_core.BillingPayloadError` when passed, so a
    listing holds a bounded amount of memory however the upstream behaves:

    - per body: ``max_body_bytes`` (default :data:`MAX_BODY_BYTES`, 10 MB) for
      each page;
    - per listing: ``max_listing_bytes`` (default :data:`MAX_LISTING_BYTES`,
      32 MB) for all the pages' bodies together, checked as they stream in;
    - page count: ``max_pages`` (default :data:`MAX_TEAM_PAGES`, 1000).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.Client | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_pages: int = MAX_TEAM_PAGES,
        max_listing_bytes: int = MAX_LISTING_BYTES,
    ) -> None:
        super().__init__(
            base_url,
            timeout=timeout,
            client=client,
            max_retries=max_retries,
            max_body_bytes=max_body_bytes,
            max_in_flight=max_in_flight,
        )
        self._max_pages = check_count("max_pages", max_pages, minimum=1)
        self._max_listing_bytes = check_count("max_listing_bytes", max_listing_bytes, minimum=1)

    def list_teams(self, session_key: str) -> tuple[Team, ...]:
        """Every team of the user, all pages fetched (a team seen twice is kept once)."""
        pages = TeamPages(self._max_pages, self._max_listing_bytes)
        while (get := pages.next_get(self._settings, session_key)) is not None:
            pages.add(get, self._http.send(get))
        return pages.teams


class AsyncHttpTeamService(_AsyncHttpService):
    """The async twin of :class:`HttpTeamService`, over one ``httpx.AsyncClient``.

    Settings and caps (per body, per listing, page count) as for
    :class:`HttpTeamService`; successive event loops are fine, as for
    :class:`AsyncHttpBillingService`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.AsyncClient | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_pages: int = MAX_TEAM_PAGES,
        max_listing_bytes: int = MAX_LISTING_BYTES,
    ) -> None:
        super().__init__(
            base_url,
            timeout=timeout,
            client=client,
            max_retries=max_retries,
            max_body_bytes=max_body_bytes,
            max_in_flight=max_in_flight,
        )
        self._max_pages = check_count("max_pages", max_pages, minimum=1)
        self._max_listing_bytes = check_count("max_listing_bytes", max_listing_bytes, minimum=1)

    async def list_teams(self, session_key: str) -> tuple[Team, ...]:
        """Every team of the user, all pages fetched (a team seen twice is kept once)."""
        pages = TeamPages(self._max_pages, self._max_listing_bytes)
        while (get := pages.next_get(self._settings, session_key)) is not None:
            pages.add(get, await self._http.send(get))
        return pages.teams
