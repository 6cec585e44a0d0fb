"""The HTTP adapters of the billing and team ports: two httpx transports and the four services.

Every decision is made once, sans-I/O, and shared by the sync and async twins:
:class:`~billing_core.adapters._request.Get` decides everything about one
request (headers, time budget, retries, body cap, which error to raise) and
:mod:`billing_core.adapters._answers` turns answers into models (with
:class:`~billing_core.adapters._answers.TeamPages` walking the team listing).
This module holds only the I/O: ``_SyncTransport`` sends over one connection
pool (threads), ``_AsyncTransport`` over one pool per event loop (tasks), or
over the caller's ``httpx.Client`` / ``httpx.AsyncClient`` when given one;
each service method is a thin driver: make a ``Get``, send it, decode the
answer.

Each service admits at most ``max_in_flight`` requests at once (a semaphore,
per event loop for the async ones); the others queue, their wait counted in
their time budget. A burst (an agent host resolving 500 projects together)
thus never piles more requests into httpx's pool than it has connections.
The pools a service makes itself have that many connections, build an SSL
context only for an ``https://`` base URL, and end every socket operation by
the request's deadline, since httpx bounds each operation rather than the
request. Requests go straight to their httpx transport, with headers built
once per session key: an ``httpx.Client`` would redo per request work none of
them needs (merging headers and URLs, a cookie jar, auth and redirect flows).

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
import select
import socket
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
from billing_core.adapters._request import Failed, Get, Settings, check_count
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


# --- the connections a service makes itself --------------------------------------------------

# The deadline of the request the current thread (sync) or task (async) is sending.
_DEADLINE: Final[contextvars.ContextVar[float | None]] = contextvars.ContextVar(
    "billing_core_request_deadline", default=None
)
# httpx's defaults for the connections kept open between requests. More kept
# open would save reconnecting during a burst, but httpcore's pool scans its
# connections in quadratic time on every request: 100 kept open cost more.
_KEEPALIVE_CONNECTIONS: Final = 20
_KEEPALIVE_SECONDS: Final = 5.0
# A GET has no body; the stream is stateless, so every request shares it.
_NO_BODY: Final = httpx.ByteStream(b"")


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

    httpx gives each socket operation the whole timeout: a server dripping its
    headers a byte at a time would keep a request alive forever.
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


class _AsyncDeadlineStream(httpcore.AsyncNetworkStream):
    """The async twin of :class:`_DeadlineStream`, which also answers "is it readable?" cheaply.

    The pool asks that of every idle connection before each request; anyio
    rebuilds a table of all its socket attributes to find the socket each time.
    """

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket: socket.socket | None = stream.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, _within_deadline(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, _within_deadline(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        stream = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return _AsyncDeadlineStream(stream)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None:
            return _is_readable(self._socket)
        return self._stream.get_extra_info(info)


def _is_readable(sock: socket.socket) -> bool:
    """Whether a read would not block: data, or the end of a connection the server closed."""
    fd = sock.fileno()
    if fd < 0:
        return True  # closed: the next read returns the end at once
    if _poll is None:
        return bool(select.select([fd], [], [], 0)[0])
    poller = _poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


# poll has no limit on descriptor numbers (select's is 1024); Windows lacks it.
_poll: Final = getattr(select, "poll", None)


class _AsyncDeadlineBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio sockets (the services run on asyncio), as deadline-bound connections."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _AsyncDeadlineStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        stream = await self._backend.connect_unix_socket(path, timeout, socket_options)
        return _AsyncDeadlineStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


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


def _pool_options(settings: Settings) -> dict[str, Any]:
    # Loading the CA bundle costs tens of milliseconds: only an https:// base URL
    # needs it (an http:// one is loopback, and no other origin is ever asked).
    ssl_context = (
        httpx.create_ssl_context(trust_env=settings.trust_env) if settings.uses_tls else None
    )
    return {
        "ssl_context": ssl_context,
        # As many connections as requests admitted: none waits in httpx's pool.
        "max_connections": settings.max_in_flight,
        "max_keepalive_connections": min(settings.max_in_flight, _KEEPALIVE_CONNECTIONS),
        "keepalive_expiry": _KEEPALIVE_SECONDS,
    }


def _own_transport(settings: Settings) -> _PoolTransport:
    pool = httpcore.ConnectionPool(**_pool_options(settings), network_backend=_DeadlineBackend())
    return _PoolTransport(pool)


def _own_async_transport(settings: Settings) -> _AsyncPoolTransport:
    backend = _AsyncDeadlineBackend()
    return _AsyncPoolTransport(
        httpcore.AsyncConnectionPool(**_pool_options(settings), network_backend=backend)
    )


def _own_request(get: Get) -> httpx.Request:
    """The request of one attempt of ``get``, for a transport the service made.

    No ``httpx.Client`` in between: a service's own connections need none of
    what it adds per request (merging headers and URLs, a cookie jar, auth,
    redirects, hooks), only the work. The headers are built once per key; a
    stream given means httpx adds none of its own (:attr:`Get.full_headers`
    has them all).
    """
    budget = get.attempt_timeout()
    timeouts = {"connect": budget, "read": budget, "write": budget, "pool": budget}
    return httpx.Request(
        "GET", get.url, headers=get.full_headers, stream=_NO_BODY, extensions={"timeout": timeouts}
    )


# --- the transports: all the I/O -------------------------------------------------------------


class _SyncTransport:
    """A caller's ``httpx.Client`` or a pool made on first use, the in-flight bound, retries."""

    def __init__(self, settings: Settings, client: httpx.Client | None) -> None:
        if client is not None and not isinstance(client, httpx.Client):
            raise BillingConfigError("client must be an httpx.Client")
        self._settings = settings
        self._client = client
        self._own: _PoolTransport | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.max_in_flight)

    def sender(self) -> httpx.Client | _PoolTransport:
        """The caller's client, else the service's own transport; a config error once closed."""
        with self._lock:
            if self._closed:
                raise BillingConfigError("the service is closed")
            client = self._client
            if client is None:
                if self._own is None:
                    self._own = _own_transport(self._settings)
                return self._own
        if client.is_closed:
            raise BillingConfigError("the HTTP client is closed")
        return client

    def close(self) -> None:
        """Close the connections this transport made (not a caller's client). Idempotent."""
        with self._lock:
            own, self._own = self._own, None
            self._closed = True
        if own is not None:
            own.close()

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
        sender = self.sender()
        # A burst queues here rather than in httpx's pool, within the budget.
        if not self._slots.acquire(timeout=get.attempt_timeout()):
            raise get.timed_out()
        # Read by the sockets of a pool made here (_DeadlineStream).
        deadline = _DEADLINE.set(get.deadline)
        try:
            if isinstance(sender, httpx.Client):
                request = sender.build_request(
                    "GET", get.url, headers=get.headers, timeout=get.attempt_timeout()
                )
                response = sender.send(request, stream=True, follow_redirects=False)
            else:
                response = sender.handle_request(_own_request(get))
            try:
                get.check_length(response.headers)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    get.check_progress(len(body))
            finally:
                response.close()
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # ValueError (UnicodeError): a host name the IDNA encoding refuses;
            # check_base_url should have caught it already.
            raise get.transport_failure(exc) from None
        finally:
            _DEADLINE.reset(deadline)
            self._slots.release()
        return get.answer(response, bytes(body))


class _AsyncTransport:
    """A caller's ``httpx.AsyncClient`` or a pool per event loop, the in-flight bound, retries.

    Pooled connections belong to the loop that opened them: reused from another
    loop (a second ``asyncio.run``, say) they fail with "Event loop is closed".
    So a service that owns its connections keeps a pool per loop, and forgets
    the pool of a loop once that loop is closed (its sockets can no longer be
    closed through asyncio; the garbage collector closes them). A caller-owned
    client cannot be replaced: using it from a second loop is a configuration
    error. The in-flight bound is a semaphore per loop too (asyncio's belong to
    one).

    The time budget of an attempt: on the service's own pool, every socket
    operation ends by the deadline (:class:`_AsyncDeadlineStream`), so only a
    wait for a slot needs a timer; a caller's client bounds each operation
    but not the whole attempt, so asyncio bounds the attempt.
    """

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None) -> None:
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise BillingConfigError("client must be an httpx.AsyncClient")
        self._settings = settings
        self._caller_client = client
        # The loop the caller's client was first used in (weak: never keep a loop alive).
        self._caller_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._own: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _AsyncPoolTransport] = (
            weakref.WeakKeyDictionary()
        )
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False
        # Tasks of one loop cannot race here (no await inside), but loops in threads can.
        self._lock = threading.Lock()

    def sender(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[httpx.AsyncClient | _AsyncPoolTransport, asyncio.Semaphore]:
        """The caller's client (else this loop's own pool) and this loop's slots."""
        import asyncio

        with self._lock:
            if self._closed:
                raise BillingConfigError("the service is closed")
            client = self._caller_client
            sender: httpx.AsyncClient | _AsyncPoolTransport
            if client is None:
                sender = self._own_transport(loop)
            else:
                self._check_caller_loop(loop)
                sender = client
            slots = self._slots.get(loop)
            if slots is None:
                slots = self._slots[loop] = asyncio.Semaphore(self._settings.max_in_flight)
        if client is not None and client.is_closed:
            raise BillingConfigError("the HTTP client is closed")
        return sender, slots

    def _check_caller_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._caller_loop is None:
            self._caller_loop = weakref.ref(loop)
        elif self._caller_loop() is not loop:
            raise BillingConfigError(
                "the httpx.AsyncClient given to this service was first used in another event"
                " loop, and its connections cannot move between loops: create the client and"
                " the service inside the loop that uses them, or let the service own its client"
            )

    def _own_transport(self, loop: asyncio.AbstractEventLoop) -> _AsyncPoolTransport:
        transport = self._own.get(loop)
        if transport is None:  # a new loop: the time to forget those that are closed
            for other in [other for other in self._own if other.is_closed()]:
                del self._own[other]  # dead connections: nothing can reuse or close them
            transport = self._own[loop] = _own_async_transport(self._settings)
        return transport

    async def aclose(self) -> None:
        """Close this loop's own pool and let the others go. Idempotent."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            self._closed = True
            transport = self._own.pop(loop, None)
            # Pools of other loops can only be closed from their loop: they are let go.
            self._own.clear()
        if transport is not None:
            await transport.aclose()

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

        sender, slots = self.sender(asyncio.get_running_loop())
        try:
            if isinstance(sender, httpx.AsyncClient):
                async with asyncio.timeout(get.attempt_timeout()):
                    return await self._exchange(get, sender, slots)
            return await self._exchange(get, sender, slots)
        except TimeoutError:
            raise get.timed_out() from None

    async def _exchange(
        self,
        get: Get,
        sender: httpx.AsyncClient | _AsyncPoolTransport,
        slots: asyncio.Semaphore,
    ) -> dict[str, Any]:
        import asyncio

        # A burst queues here rather than in httpx's pool, within the budget.
        if slots.locked():
            async with asyncio.timeout(get.attempt_timeout()):
                await slots.acquire()
        else:
            await slots.acquire()  # returns at once
        # Read by the sockets of a pool made here (_AsyncDeadlineStream).
        deadline = _DEADLINE.set(get.deadline)
        try:
            if isinstance(sender, httpx.AsyncClient):
                request = sender.build_request("GET", get.url, headers=get.headers)
                response = await sender.send(request, stream=True, follow_redirects=False)
            else:
                response = await sender.handle_async_request(_own_request(get))
            try:
                get.check_length(response.headers)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    get.check_progress(len(body))
            finally:
                await response.aclose()
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # ValueError (UnicodeError): a host name the IDNA encoding refuses;
            # check_base_url should have caught it already.
            raise get.transport_failure(exc) from None
        finally:
            _DEADLINE.reset(deadline)
            slots.release()
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
    """A blocking service over one connection pool (or a caller's client), a context manager."""

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
    """An async service over a pool per event loop (or a caller's client), a context manager."""

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
    rather than failed with pool timeouts. The pool the service makes has that
    many connections; give a caller-owned client at least as many.

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
    """The async twin of :class:`HttpBillingService`.

    It may be used from successive event loops (e.g. one ``asyncio.run`` per
    command): its own pool is replaced when the loop changes, since pooled
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
    """The async twin of :class:`HttpTeamService`.

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
