"""HTTP adapters of the billing and team ports (SPEC §2, §9), over httpx.

Four services, sync and async twins sharing every decision: what URL and
header to send, how an answer or a failure maps to a :class:`BillingError`,
when a retry is worth it, how a team page advances the listing. Only the I/O
differs (threads over one pooled ``httpx.Client`` or tasks over one
``httpx.AsyncClient``).

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

import asyncio
import ipaddress
import json
import logging
import math
import random
import socket
import threading
import time
import weakref
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Final, NoReturn, Self, TypeVar
from urllib.parse import urlsplit

import httpx

from billing_core._session import SESSION_HEADER, session_key_flaw
from billing_core.errors import (
    BillingApiError,
    BillingAuthError,
    BillingConfigError,
    BillingError,
    BillingPayloadError,
    NotAuthenticatedError,
)
from billing_core.models import BillingUsage, FreeUserLimit, OrganizationTier, RawUsage, Team
from billing_core.resolution import join_usages_with_tiers

__all__ = [
    "AsyncHttpBillingService",
    "AsyncHttpTeamService",
    "HttpBillingService",
    "HttpTeamService",
]

_log = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_MAX_RETRIES: Final = 1
# Far beyond any sensible request, and well within what sockets accept (about
# 1e10 s already overflows the platform's time_t deep inside a blocking read).
MAX_TIMEOUT: Final = 86_400.0
TEAM_PAGE_SIZE: Final = 100
MAX_TEAM_PAGES: Final = 1000
MAX_BODY_BYTES: Final = 10 * 1024 * 1024

_TRANSIENT_STATUSES: Final = frozenset({502, 503, 504})
_AUTH_STATUSES: Final = frozenset({401, 403})
_RETRY_PAUSE_SECONDS: Final = (0.05, 0.15)
# A retry that cannot get at least this much time is not worth sending.
_MIN_ATTEMPT_SECONDS: Final = 0.05
_MAX_MESSAGE_CHARS: Final = 300
_REDACTED: Final = "[redacted]"

_USAGES: Final = "/billing/usages"
_TIERS: Final = "/billing/organizations/tiers"
_FREE_LIMIT: Final = "/billing/usage/free-user/limit"
_TEAMS: Final = "/teams"

_T = TypeVar("_T")


# --- configuration checks -------------------------------------------------


def _check_base_url(base_url: object) -> str:
    """The base URL without trailing slashes, or :class:`BillingConfigError`.

    ``https://`` anywhere; ``http://`` only to a loopback host (the session key
    must not cross a network in clear text).
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise BillingConfigError("the base URL must be a non-empty string")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in base_url):
        raise BillingConfigError("the base URL must not contain spaces or control characters")
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError as exc:
        raise BillingConfigError(f"the base URL {base_url!r} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise BillingConfigError(
            f"the base URL {base_url!r} must be an absolute http:// or https:// URL"
        )
    if parts.username is not None or parts.password is not None:
        raise BillingConfigError("the base URL must not contain credentials")
    if parts.query or parts.fragment or base_url.endswith(("?", "#")):
        raise BillingConfigError(f"the base URL {base_url!r} must not have a query or fragment")
    if scheme == "http" and not _is_loopback(host):
        raise BillingConfigError(
            f"the base URL {base_url!r} must use https:// (http:// is only allowed to a "
            "loopback host such as 127.0.0.1, [::1] or localhost)"
        )
    return base_url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_timeout(timeout: object) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or not 0 < timeout <= MAX_TIMEOUT
    ):
        raise BillingConfigError(
            f"timeout must be a positive number of seconds up to {MAX_TIMEOUT:g}, not {timeout!r}"
        )
    return float(timeout)


def _check_max_retries(max_retries: object) -> int:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise BillingConfigError(f"max_retries must be an int >= 0, not {max_retries!r}")
    return max_retries


def _session_headers(session_key: object) -> dict[str, str]:
    """The request headers for ``session_key``, refusing a key that is unusable.

    Checked before anything is sent. Messages never quote the key.
    """
    if not isinstance(session_key, str):
        raise BillingConfigError(
            f"the session key must be a string, not {type(session_key).__name__}"
        )
    if not session_key:
        raise NotAuthenticatedError()
    flaw = session_key_flaw(session_key)
    if flaw is not None:
        raise BillingConfigError(f"the session key {flaw}")
    return {SESSION_HEADER: session_key, "accept": "application/json"}


def _new_client_options(base_url: str, timeout: float) -> dict[str, Any]:
    host = (urlsplit(base_url).hostname or "").lower()
    return {
        "timeout": timeout,
        "follow_redirects": False,
        # Proxy variables make no sense for loopback, and would break the fake
        # API in a CI job that sets HTTP_PROXY.
        "trust_env": not _is_loopback(host),
        "headers": {"user-agent": "billing-core"},
    }


# --- one logical GET: outcome mapping and retry budget ------------------------


class _Failed(Exception):
    """An attempt failed with ``error``; ``transient`` says whether a retry may help."""

    def __init__(self, error: BillingError, *, transient: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.transient = transient


class _Call:
    """The decisions of one logical GET (its attempts share one time budget)."""

    def __init__(
        self,
        *,
        base_url: str,
        path: str,
        session_key: str,
        timeout: float,
        max_retries: int,
        params: Mapping[str, int] | None = None,
    ) -> None:
        self.headers = _session_headers(session_key)
        self.url = base_url + path
        self.params = dict(params or {})
        self.endpoint = f"GET {path}"
        self._session_key = session_key
        self._timeout = timeout
        self._retries_left = max_retries
        self._deadline = time.monotonic() + timeout

    def __repr__(self) -> str:
        return f"_Call({self.endpoint})"

    def attempt_timeout(self) -> float:
        """Seconds left in the budget: the timeout of the next attempt."""
        return max(self._deadline - time.monotonic(), 0.001)

    def retry_pause(self, failure: _Failed) -> float | None:
        """Seconds to wait before retrying ``failure``, or ``None`` to give up."""
        if not failure.transient or self._retries_left <= 0:
            return None
        pause = random.uniform(*_RETRY_PAUSE_SECONDS)
        if self._deadline - time.monotonic() - pause < _MIN_ATTEMPT_SECONDS:
            return None
        self._retries_left -= 1
        _log.debug("%s; retrying in %.0f ms", failure, pause * 1000)
        return pause

    # answers

    def check_length(self, headers: httpx.Headers) -> None:
        """Refuse an announced body above the size cap before reading it."""
        declared = headers.get("content-length", "")
        # isdigit() alone admits digits such as "²" that int() refuses.
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise self._too_big()

    def check_progress(self, received: int) -> None:
        """Refuse a body above the size cap, or one still arriving past the deadline."""
        if received > MAX_BODY_BYTES:
            raise self._too_big()
        if time.monotonic() > self._deadline:
            raise self.timed_out()

    def _too_big(self) -> _Failed:
        limit = MAX_BODY_BYTES // (1024 * 1024)
        error = BillingPayloadError(f"the answer of {self.endpoint} is larger than {limit} MB")
        return _Failed(error, transient=False)

    def answer(self, response: httpx.Response, body: bytes) -> dict[str, Any]:
        """The JSON object of a 2xx answer, or :class:`_Failed` with the mapped error."""
        status = response.status_code
        if 200 <= status < 300:
            return self.json_object(body)
        if 300 <= status < 400:
            location = response.headers.get("location")
            message = (
                f"redirect to {location} refused (redirects are not followed)"
                if location
                else "unexpected redirect (redirects are not followed)"
            )
        else:
            message = _upstream_message(body) or response.reason_phrase or f"HTTP {status}"
        error_type = BillingAuthError if status in _AUTH_STATUSES else BillingApiError
        error = error_type(self.clean(message), endpoint=self.endpoint, status_code=status)
        raise _Failed(error, transient=status in _TRANSIENT_STATUSES)

    def json_object(self, body: bytes) -> dict[str, Any]:
        """``body`` parsed as a JSON object, or :class:`_Failed` with a payload error."""
        try:
            value = _parse_json(body)
        except RecursionError:
            raise self.malformed("JSON nested too deeply") from None
        except ValueError as exc:
            raise self.malformed(f"not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise self.malformed(f"expected a JSON object, got {_json_type(value)}")
        return value

    def payload_error(self, detail: str, *, path: str = "") -> BillingPayloadError:
        """A payload error about the answer of this call."""
        return BillingPayloadError(f"{self.clean(detail)} (answer of {self.endpoint})", path=path)

    def malformed(self, detail: str, *, path: str = "") -> _Failed:
        """:meth:`payload_error` as a failed attempt (never retried)."""
        return _Failed(self.payload_error(detail, path=path), transient=False)

    # failures without an answer

    def transport_failure(self, exc: Exception) -> _Failed:
        """Map an httpx failure to a :class:`BillingApiError` with no status code."""
        if isinstance(exc, httpx.TimeoutException):
            return self.timed_out()
        if isinstance(exc, httpx.DecodingError):
            return self.malformed("the body could not be decoded")
        transient = isinstance(exc, httpx.ConnectError | httpx.ReadError | httpx.WriteError)
        transient = transient or isinstance(exc, httpx.RemoteProtocolError | httpx.CloseError)
        if isinstance(exc, httpx.ConnectError):
            message = _connect_failure(exc)
        elif isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.CloseError):
            message = "connection dropped before a complete answer"
        else:
            message = f"request failed ({type(exc).__name__})"
        return _Failed(BillingApiError(message, endpoint=self.endpoint), transient=transient)

    def timed_out(self) -> _Failed:
        """The budget ran out: transient, but no time is left for a retry."""
        error = BillingApiError(f"timed out after {self._timeout:g}s", endpoint=self.endpoint)
        return _Failed(error, transient=True)

    def clean(self, text: str) -> str:
        """``text`` fit for an error message: the key redacted, one line, bounded."""
        text = text.replace(self._session_key, _REDACTED)
        text = "".join(char if char.isprintable() else " " for char in text).strip()
        if len(text) > _MAX_MESSAGE_CHARS:
            text = text[: _MAX_MESSAGE_CHARS - 1] + "…"
        return text


def _connect_failure(exc: BaseException) -> str:
    """Why a connection could not be made, from the OS error under httpx's (and anyio's)."""
    seen: BaseException | None = exc
    for _ in range(10):  # the chain is short; the bound guards against cycles
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return "could not resolve the host name"
        seen = seen.__cause__ or seen.__context__
    return "could not connect"


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _parse_json(body: bytes) -> Any:
    return json.loads(body, parse_constant=_reject_constant)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _upstream_message(body: bytes) -> str | None:
    """The human text of an error body (``message``, else ``error``), if any."""
    try:
        value = _parse_json(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    for key in ("message", "error"):
        text = value.get(key)
        if isinstance(text, str) and text.strip():
            return text
        # NestJS validation errors carry a list of messages.
        if isinstance(text, list) and text and all(isinstance(item, str) for item in text):
            return "; ".join(text)
    return None


# --- decoding the billing answers --------------------------------------------


def _decode(call: _Call, tp: Any, value: Any, *, path: str) -> Any:
    from billing_core.wire import from_wire

    try:
        return from_wire(tp, value, path=path)
    except BillingPayloadError as exc:
        raise call.payload_error(exc.detail, path=exc.path) from None
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        # The codec should only raise BillingPayloadError; whatever it lets
        # through still must not escape as a bare exception.
        raise call.payload_error(str(exc) or type(exc).__name__, path=path) from None


def _organizations(call: _Call, body: dict[str, Any], item: type[_T]) -> tuple[_T, ...]:
    if "organizations" not in body:
        raise call.payload_error("required key missing", path="organizations")
    list_type: Any = list[item]  # type: ignore[valid-type]
    return tuple(_decode(call, list_type, body["organizations"], path="organizations"))


def _free_user_limit(call: _Call, body: dict[str, Any]) -> FreeUserLimit:
    decoded: FreeUserLimit = _decode(call, FreeUserLimit, body, path="")
    return decoded


# --- teams: ApiTeam pages ----------------------------------------------------


class _TeamPages:
    """Walks ``/teams`` pages: which page to ask next, and what each one adds."""

    def __init__(self) -> None:
        self._teams: dict[str, Team] = {}
        self._offset = 0
        self._pages = 0
        self._done = False

    def next_params(self) -> dict[str, int] | None:
        """The query of the next page, or ``None`` when the listing is complete."""
        if self._done:
            return None
        return {"limit": TEAM_PAGE_SIZE, "offset": self._offset}

    def add(self, call: _Call, body: dict[str, Any]) -> None:
        """Take one page's answer; raise when it is malformed or the listing never ends."""
        page, total = _team_page(call, body)
        self._pages += 1
        fresh = 0
        for team in page:
            # A team created between two page requests shifts the offsets: the
            # same team can show up twice, and the first sighting is kept.
            if team.id not in self._teams:
                self._teams[team.id] = team
                fresh += 1
        self._offset += len(page)
        if not page or self._offset >= total:
            self._done = True
        elif fresh == 0:
            raise call.payload_error(
                f"the team list repeats itself: the page at offset {self._offset - len(page)} "
                "brought no new team"
            )
        elif self._pages >= MAX_TEAM_PAGES:
            raise call.payload_error(f"the team list does not end after {MAX_TEAM_PAGES} pages")

    @property
    def teams(self) -> tuple[Team, ...]:
        """Every team seen, in the order the pages gave them."""
        return tuple(self._teams.values())


def _team_page(call: _Call, body: dict[str, Any]) -> tuple[list[Team], int]:
    code = body.get("code")
    if code is not None:
        if type(code) is not int:
            raise call.payload_error(f"expected an integer, got {_json_type(code)}", path="code")
        if not 200 <= code < 300:
            # The envelope reports a failure even though HTTP said 2xx.
            message = body.get("message")
            text = call.clean(message) if isinstance(message, str) else f"code {code}"
            error_type = BillingAuthError if code in _AUTH_STATUSES else BillingApiError
            raise error_type(text or f"code {code}", endpoint=call.endpoint, status_code=code)
    data = body.get("data")
    if not isinstance(data, dict):
        raise call.payload_error(f"expected an object, got {_json_type(data)}", path="data")
    teams = data.get("teams")
    if not isinstance(teams, list):
        raise call.payload_error(f"expected an array, got {_json_type(teams)}", path="data.teams")
    total = data.get("total")
    if type(total) is not int or total < 0:
        raise call.payload_error(
            f"expected a non-negative integer, got {_json_type(total)}", path="data.total"
        )
    return [_api_team(call, item, path=f"data.teams[{i}]") for i, item in enumerate(teams)], total


def _api_team(call: _Call, item: object, *, path: str) -> Team:
    """An ``ApiTeam`` (snake_case) as a :class:`Team`; keys Team does not need are ignored."""
    if not isinstance(item, dict):
        raise call.payload_error(f"expected an object, got {_json_type(item)}", path=path)

    def text(key: str, *, optional: bool = False) -> str | None:
        value = item.get(key)
        if value is None and optional:
            return None
        if type(value) is not str:
            what = "missing" if key not in item else f"expected a string, got {_json_type(value)}"
            raise call.payload_error(what, path=f"{path}.{key}")
        return value

    team_id = text("id")
    if not team_id:
        raise call.payload_error("must not be empty", path=f"{path}.id")
    name = text("name") or ""
    is_default = item.get("is_default", False)
    if type(is_default) is not bool:
        raise call.payload_error(
            f"expected a boolean, got {_json_type(is_default)}", path=f"{path}.is_default"
        )
    slug = text("slug", optional=True)
    return Team(
        id=team_id,
        name=name,
        display_name=text("display_name") or "",
        slug=name if slug is None else slug,
        avatar_url=text("avatar_url", optional=True),
        is_default=is_default,
    )


# --- the sync and async engines -------------------------------------------------


class _Transport:
    """The settings every service checks at construction, and how it starts a call."""

    def __init__(self, base_url: object, timeout: object, max_retries: object) -> None:
        self.base_url = _check_base_url(base_url)
        self.timeout = _check_timeout(timeout)
        self.max_retries = _check_max_retries(max_retries)

    def call(self, path: str, session_key: str, params: Mapping[str, int] | None = None) -> _Call:
        return _Call(
            base_url=self.base_url,
            path=path,
            session_key=session_key,
            timeout=self.timeout,
            max_retries=self.max_retries,
            params=params,
        )


class _SyncTransport(_Transport):
    """One pooled ``httpx.Client`` (created on first use) and the retry loop."""

    def __init__(
        self, base_url: object, timeout: object, client: httpx.Client | None, max_retries: object
    ) -> None:
        super().__init__(base_url, timeout, max_retries)
        if client is not None and not isinstance(client, httpx.Client):
            raise BillingConfigError("client must be an httpx.Client")
        self._client = client
        self._owns_client = client is None
        self._closed = False
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        with self._lock:
            if self._closed:
                raise BillingConfigError("the service is closed")
            if self._client is None:
                self._client = httpx.Client(**_new_client_options(self.base_url, self.timeout))
            if self._client.is_closed:
                raise BillingConfigError("the HTTP client is closed")
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            self._closed = True
        if client is not None and self._owns_client:
            client.close()

    def get(self, call: _Call) -> dict[str, Any]:
        """The JSON object ``call`` answers with, retrying transient failures."""
        while True:
            try:
                return self._attempt(call)
            except _Failed as failure:
                pause = call.retry_pause(failure)
                if pause is None:
                    raise failure.error from None
                time.sleep(pause)

    def _attempt(self, call: _Call) -> dict[str, Any]:
        client = self.client()
        try:
            with client.stream(
                "GET",
                call.url,
                params=call.params,
                headers=call.headers,
                timeout=call.attempt_timeout(),
                follow_redirects=False,
            ) as response:
                call.check_length(response.headers)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    call.check_progress(len(body))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise call.transport_failure(exc) from None
        return call.answer(response, bytes(body))


class _AsyncTransport(_Transport):
    """One pooled ``httpx.AsyncClient`` per event loop (created on first use) and the retry loop.

    Pooled connections belong to the loop that opened them: reused from another
    loop (a second ``asyncio.run``, say) they fail with "Event loop is closed".
    So a service that owns its client keeps one per loop, and forgets the client
    of a loop once that loop is closed (its sockets can no longer be closed
    through asyncio; the garbage collector closes them). A caller-owned client
    cannot be replaced: using it from a second loop is a configuration error.
    """

    def __init__(
        self,
        base_url: object,
        timeout: object,
        client: httpx.AsyncClient | None,
        max_retries: object,
    ) -> None:
        super().__init__(base_url, timeout, max_retries)
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise BillingConfigError("client must be an httpx.AsyncClient")
        self._caller_client = client
        # The loop the caller's client was first used in (weak: never keep a loop alive).
        self._caller_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._own_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, httpx.AsyncClient
        ] = weakref.WeakKeyDictionary()
        self._closed = False
        # Tasks of one loop cannot race here (no await inside), but loops in threads can.
        self._lock = threading.Lock()

    def client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closed:
                raise BillingConfigError("the service is closed")
            client = self._caller_client
            if client is None:
                client = self._own_client(loop)
            else:
                self._check_caller_loop(loop)
        if client.is_closed:
            raise BillingConfigError("the HTTP client is closed")
        return client

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
        for other in [other for other in self._own_clients if other.is_closed()]:
            del self._own_clients[other]  # dead connections: nothing can reuse or close them
        client = self._own_clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(**_new_client_options(self.base_url, self.timeout))
            self._own_clients[loop] = client
        return client

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            self._closed = True
            client = self._own_clients.pop(loop, None)
            # Clients of other loops can only be closed from their loop: they are let go.
            self._own_clients.clear()
        if client is not None:
            await client.aclose()

    async def get(self, call: _Call) -> dict[str, Any]:
        """The JSON object ``call`` answers with, retrying transient failures."""
        while True:
            try:
                return await self._attempt(call)
            except _Failed as failure:
                pause = call.retry_pause(failure)
                if pause is None:
                    raise failure.error from None
                await asyncio.sleep(pause)

    async def _attempt(self, call: _Call) -> dict[str, Any]:
        client = self.client()
        budget = call.attempt_timeout()
        try:
            # httpx bounds each network operation; asyncio bounds the whole attempt.
            async with asyncio.timeout(budget):
                async with client.stream(
                    "GET",
                    call.url,
                    params=call.params,
                    headers=call.headers,
                    timeout=budget,
                    follow_redirects=False,
                ) as response:
                    call.check_length(response.headers)
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        call.check_progress(len(body))
        except TimeoutError:
            raise call.timed_out() from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise call.transport_failure(exc) from None
        return call.answer(response, bytes(body))


# --- the public services ---------------------------------------------------------


class HttpBillingService:
    """The billing endpoints over HTTP, blocking (a :class:`~billing_core.BillingService`).

    ``base_url`` is e.g. ``https://api.example.com/api/v1``. ``timeout`` is the
    budget of each request in seconds (at most a day), retries included;
    transient failures (connection errors, 502, 503, 504) are retried
    ``max_retries`` times after a short jittered pause when the budget allows.
    ``client`` is an optional caller-owned ``httpx.Client``, left open by
    :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.Client | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self._http = _SyncTransport(base_url, timeout, client, max_retries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._http.base_url!r}, timeout={self._http.timeout:g})"

    @property
    def base_url(self) -> str:
        """The billing base URL, without a trailing slash."""
        return self._http.base_url

    def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        """Every organisation's usage, before the tier join."""
        call = self._http.call(_USAGES, session_key)
        return _organizations(call, self._http.get(call), RawUsage)

    def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        """Every organisation's tier entry (orgs without one are FREE)."""
        call = self._http.call(_TIERS, session_key)
        return _organizations(call, self._http.get(call), OrganizationTier)

    def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        """The user's personal free credits."""
        call = self._http.call(_FREE_LIMIT, session_key)
        return _free_user_limit(call, self._http.get(call))

    def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        """Usages joined with tiers: both endpoints are fetched concurrently.

        The usages' error wins when both fail.
        """
        _session_headers(session_key)  # refuse a bad key before starting a thread
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="billing-tiers") as pool:
            try:
                tiers = pool.submit(self.get_tiers, session_key)
            except RuntimeError:  # the interpreter is shutting down: no new threads
                raw_usages = self.get_raw_usages(session_key)
                return join_usages_with_tiers(raw_usages, self.get_tiers(session_key))
            raw_usages = self.get_raw_usages(session_key)
            return join_usages_with_tiers(raw_usages, tiers.result())

    def close(self) -> None:
        """Release pooled connections (a caller-owned client is left open). Idempotent."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncHttpBillingService:
    """The async twin of :class:`HttpBillingService`, over one ``httpx.AsyncClient``.

    It may be used from successive event loops (e.g. one ``asyncio.run`` per
    command): its own client is replaced when the loop changes, since pooled
    connections cannot outlive their loop. Call :meth:`aclose` (or use
    ``async with``) in the loop that made the calls to release them promptly.
    A caller-owned ``client`` stays bound to the first loop that used it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.AsyncClient | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self._http = _AsyncTransport(base_url, timeout, client, max_retries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._http.base_url!r}, timeout={self._http.timeout:g})"

    @property
    def base_url(self) -> str:
        """The billing base URL, without a trailing slash."""
        return self._http.base_url

    async def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        """Every organisation's usage, before the tier join."""
        call = self._http.call(_USAGES, session_key)
        return _organizations(call, await self._http.get(call), RawUsage)

    async def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        """Every organisation's tier entry (orgs without one are FREE)."""
        call = self._http.call(_TIERS, session_key)
        return _organizations(call, await self._http.get(call), OrganizationTier)

    async def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        """The user's personal free credits."""
        call = self._http.call(_FREE_LIMIT, session_key)
        return _free_user_limit(call, await self._http.get(call))

    async def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        """Usages joined with tiers: both endpoints are fetched concurrently.

        The usages' error wins when both fail.
        """
        raw_usages, tiers = await _gather_both(
            self.get_raw_usages(session_key), self.get_tiers(session_key)
        )
        return join_usages_with_tiers(raw_usages, tiers)

    async def aclose(self) -> None:
        """Release pooled connections (a caller-owned client is left open). Idempotent."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


_A = TypeVar("_A")
_B = TypeVar("_B")


async def _gather_both(
    first: Coroutine[Any, Any, _A], second: Coroutine[Any, Any, _B]
) -> tuple[_A, _B]:
    """Run two coroutines concurrently and wait for both; the first one's error wins."""
    first_result, second_result = await asyncio.gather(first, second, return_exceptions=True)
    if isinstance(first_result, BaseException):
        raise first_result
    if isinstance(second_result, BaseException):
        raise second_result
    return first_result, second_result


class HttpTeamService:
    """The team endpoint over HTTP, blocking (a :class:`~billing_core.TeamService`).

    ``base_url`` is the team base URL (often the billing one). Pages of 100
    teams are fetched until ``total`` is reached or a page comes back empty;
    ``timeout`` and ``max_retries`` apply to each page request.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.Client | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self._http = _SyncTransport(base_url, timeout, client, max_retries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._http.base_url!r}, timeout={self._http.timeout:g})"

    @property
    def base_url(self) -> str:
        """The team base URL, without a trailing slash."""
        return self._http.base_url

    def list_teams(self, session_key: str) -> tuple[Team, ...]:
        """Every team of the user, all pages fetched (a team seen twice is kept once)."""
        pages = _TeamPages()
        while (params := pages.next_params()) is not None:
            call = self._http.call(_TEAMS, session_key, params)
            pages.add(call, self._http.get(call))
        return pages.teams

    def close(self) -> None:
        """Release pooled connections (a caller-owned client is left open). Idempotent."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncHttpTeamService:
    """The async twin of :class:`HttpTeamService`, over one ``httpx.AsyncClient``.

    Successive event loops are fine, as for :class:`AsyncHttpBillingService`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.AsyncClient | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self._http = _AsyncTransport(base_url, timeout, client, max_retries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._http.base_url!r}, timeout={self._http.timeout:g})"

    @property
    def base_url(self) -> str:
        """The team base URL, without a trailing slash."""
        return self._http.base_url

    async def list_teams(self, session_key: str) -> tuple[Team, ...]:
        """Every team of the user, all pages fetched (a team seen twice is kept once)."""
        pages = _TeamPages()
        while (params := pages.next_params()) is not None:
            call = self._http.call(_TEAMS, session_key, params)
            pages.add(call, await self._http.get(call))
        return pages.teams

    async def aclose(self) -> None:
        """Release pooled connections (a caller-owned client is left open). Idempotent."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
