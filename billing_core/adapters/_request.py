"""One HTTP request without the I/O: the checked settings, and every decision of one GET.

Sans-I/O: nothing here opens a socket, sleeps or knows sync from async. The
services check their :class:`Settings` once, at construction; each call then
makes a :class:`Get`, which holds the time budget, the retries, the body cap
and how an answer or a failure maps to a :class:`~billing_core.BillingError`.
The transports of :mod:`billing_core.adapters.http` send its attempts and hand
back what came back. An attempt that went wrong raises :class:`Failed`,
carrying the error to report and whether a retry may help.

Every settings check raises :class:`~billing_core.BillingConfigError` (or
:class:`~billing_core.NotAuthenticatedError` for an empty session key) before
anything is sent, and no message quotes the session key.

>>> check_base_url("https://api.example.com/api/v1/")
'https://api.example.com/api/v1'
>>> check_count("max_retries", -1, minimum=0)
Traceback (most recent call last):
  ...
billing_core.errors.BillingConfigError: max_retries must be an int >= 0, not -1
"""

from __future__ import annotations

import ipaddress
import logging
import math
import random
import socket
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import httpx

from billing_core._endpoints import PATHS, Name, label
from billing_core._json import json_kind, loads_strict
from billing_core._session import SESSION_HEADER, session_key_flaw
from billing_core.adapters._timeouts import DEFAULT_TIMEOUT, MAX_TIMEOUT
from billing_core.errors import (
    BillingApiError,
    BillingAuthError,
    BillingConfigError,
    BillingError,
    BillingPayloadError,
    NotAuthenticatedError,
)

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "MAX_BODY_BYTES",
    "MAX_TIMEOUT",
    "Failed",
    "Get",
    "Settings",
    "check_base_url",
    "check_count",
    "check_timeout",
    "format_size",
    "session_headers",
]

_log = logging.getLogger("billing_core.adapters.http")

DEFAULT_MAX_RETRIES: Final = 1
MAX_BODY_BYTES: Final = 10 * 1024 * 1024
# httpx's own pool size: a service's own client gets a pool this large, so no
# request admitted in flight ever waits in httpx's pool.
DEFAULT_MAX_IN_FLIGHT: Final = 100

_MB: Final = 1024 * 1024
_TRANSIENT_STATUSES: Final = frozenset({502, 503, 504})
_AUTH_STATUSES: Final = frozenset({401, 403})
_RETRY_PAUSE_SECONDS: Final = (0.05, 0.15)
# A retry that cannot get at least this much time is not worth sending.
_MIN_ATTEMPT_SECONDS: Final = 0.05
_MAX_MESSAGE_CHARS: Final = 300
_REDACTED: Final = "[redacted]"
# The headers a client of httpx's would add, but for ``accept``, which
# session_headers sets (br and zstd left out: their decoders are optional).
_FULL_HEADERS: Final = (
    ("accept-encoding", "gzip, deflate"),
    ("connection", "keep-alive"),
    ("user-agent", "billing-core"),
)


# --- settings --------------------------------------------------------------------------------


class Settings:
    """A service's settings, checked once at construction and shared by all its requests.

    It also remembers the headers of the last session key it was given, so a
    service checks a key once, not once per request (callers use one key), and
    holds each endpoint's URL parsed once.
    """

    __slots__ = (
        "_last_headers",
        "_netloc",
        "_urls",
        "base_url",
        "max_body_bytes",
        "max_in_flight",
        "max_retries",
        "timeout",
        "trust_env",
        "uses_tls",
    )

    def __init__(
        self,
        base_url: object,
        *,
        timeout: object,
        max_retries: object,
        max_body_bytes: object,
        max_in_flight: object = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.uses_tls = self.base_url.lower().startswith("https:")
        # The environment's TLS settings (SSL_CERT_FILE...) are for remote hosts:
        # a CI job's must not break the fake API on loopback.
        self.trust_env = not _is_loopback((urlsplit(self.base_url).hostname or "").lower())
        self.timeout = check_timeout(timeout)
        self.max_retries = check_count("max_retries", max_retries, minimum=0)
        self.max_body_bytes = check_count("max_body_bytes", max_body_bytes, minimum=1)
        self.max_in_flight = check_count("max_in_flight", max_in_flight, minimum=1)
        # check_base_url has parsed the base URL with httpx already: these cannot fail.
        self._urls = {name: httpx.URL(self.base_url + path) for name, path in PATHS.items()}
        self._netloc = self._urls["usages"].netloc.decode("ascii")
        self._last_headers: tuple[str, httpx.Headers, httpx.Headers] | None = None

    def url(self, endpoint: Name, query: Mapping[str, int] | None = None) -> httpx.URL:
        """The URL of ``endpoint``, with ``query`` when given."""
        url = self._urls[endpoint]
        return httpx.URL(url, query=urlencode(query).encode("ascii")) if query else url

    def headers(self, session_key: object) -> httpx.Headers:
        """:func:`session_headers` of ``session_key``, checked only when the key changes.

        Shared by every request with that key (httpx copies them, never changes
        them), and already in httpx's form, which it copies fastest.
        """
        return self._headers_of(session_key)[1]

    def full_headers(self, session_key: object) -> httpx.Headers:
        """Every header of a request sent straight to a transport the service made.

        What an ``httpx.Client`` would send (its defaults, the ``Host``), built
        once per key rather than merged per request. No cookie: the upstream
        sets none, and one set for a key must never travel with another.
        """
        return self._headers_of(session_key)[2]

    def _headers_of(self, session_key: object) -> tuple[str, httpx.Headers, httpx.Headers]:
        last = self._last_headers  # one read: other threads may replace it
        if last is not None and type(session_key) is str and last[0] == session_key:
            return last
        session = session_headers(session_key)
        full = httpx.Headers([("host", self._netloc), *_FULL_HEADERS, *session.items()])
        last = self._last_headers = (str(session_key), httpx.Headers(session), full)
        return last


def check_base_url(base_url: object) -> str:
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
    _check_host_encodes(base_url)
    return base_url.rstrip("/")


def _check_host_encodes(base_url: str) -> None:
    """Refuse a host name that httpx or the socket layer could not encode at request time.

    ``urlsplit`` accepts hosts such as ``a..b`` (an empty label) or ``xn--a``
    (invalid punycode); unchecked, they would fail only when a request is sent.
    """
    try:
        url = httpx.URL(base_url)
        url.host  # noqa: B018 - decoding an "xn--" label validates it, as httpx does
        url.raw_host.decode("ascii").encode("idna")  # what the socket layer does
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        detail = "".join(char if char.isprintable() else "?" for char in str(exc))[:200]
        raise BillingConfigError(
            f"the base URL {base_url!r} does not have a valid host name ({detail})"
        ) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_timeout(timeout: object) -> float:
    """``timeout`` as a float of seconds in (0, :data:`MAX_TIMEOUT`], or a config error."""
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


def check_count(name: str, value: object, *, minimum: int) -> int:
    """``value`` if it is an int >= ``minimum`` (a bool is not), else a config error on ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BillingConfigError(f"{name} must be an int >= {minimum}, not {value!r}")
    return value


def session_headers(session_key: object) -> dict[str, str]:
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


# --- one GET ---------------------------------------------------------------------------------


class Failed(Exception):
    """An attempt failed with ``error``; ``transient`` says whether a retry may help."""

    def __init__(self, error: BillingError, *, transient: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.transient = transient


class Get:
    """The decisions of one logical GET of ``endpoint`` (its attempts share one time budget).

    Made per call, it checks ``session_key`` first: a bad key is refused unsent.
    ``query`` goes into :attr:`url`.
    ``max_body_bytes``, when given, tightens the body cap of the settings, and
    ``too_big`` is then the message of a body above it (say, the part of a
    listing's budget still unspent).
    """

    def __init__(
        self,
        settings: Settings,
        endpoint: Name,
        session_key: str,
        query: Mapping[str, int] | None = None,
        *,
        max_body_bytes: int | None = None,
        too_big: str | None = None,
    ) -> None:
        self.headers = settings.headers(session_key)
        """The headers a caller's client sends along with its own."""
        self.full_headers = settings.full_headers(session_key)
        """Every header, for a transport the service made."""
        self.url = settings.url(endpoint, query)
        self.endpoint = label(endpoint)
        self.deadline = time.monotonic() + settings.timeout
        """When the whole request, retries and waits included, must be over (monotonic)."""
        self.received = 0
        """The bytes of the body of the answer taken (0 until one is)."""
        self._settings = settings
        self._session_key = session_key
        self._retries_left = settings.max_retries
        self._max_body_bytes = settings.max_body_bytes if max_body_bytes is None else max_body_bytes
        self._too_big_message = too_big

    def __repr__(self) -> str:
        return f"Get({self.endpoint})"

    def attempt_timeout(self) -> float:
        """Seconds left in the budget: the timeout of the next attempt."""
        return max(self.deadline - time.monotonic(), 0.001)

    def retry_pause(self, failure: Failed) -> float | None:
        """Seconds to wait before retrying ``failure``, or ``None`` to give up."""
        if not failure.transient or self._retries_left <= 0:
            return None
        pause = random.uniform(*_RETRY_PAUSE_SECONDS)
        if self.deadline - time.monotonic() - pause < _MIN_ATTEMPT_SECONDS:
            return None
        self._retries_left -= 1
        _log.debug("%s; retrying in %.0f ms", failure, pause * 1000)
        return pause

    # answers

    def check_length(self, headers: httpx.Headers) -> None:
        """Refuse an announced body above the size cap before reading it."""
        declared = headers.get("content-length", "")
        # isdigit() alone admits digits such as "²" that int() refuses.
        if declared.isascii() and declared.isdigit() and int(declared) > self._max_body_bytes:
            raise self._too_big()

    def check_progress(self, received: int) -> None:
        """Refuse a body above the size cap, or one still arriving past the deadline."""
        if received > self._max_body_bytes:
            raise self._too_big()
        if time.monotonic() > self.deadline:
            raise self.timed_out()

    def _too_big(self) -> Failed:
        message = self._too_big_message or (
            f"the answer of {self.endpoint} is larger than {format_size(self._max_body_bytes)}"
        )
        return Failed(BillingPayloadError(message), transient=False)

    def answer(self, response: httpx.Response, body: bytes) -> dict[str, Any]:
        """The JSON object of a 2xx answer, or :class:`Failed` with the mapped error."""
        status = response.status_code
        if 200 <= status < 300:
            self.received = len(body)
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
        error = self.upstream_error(message, status_code=status)
        raise Failed(error, transient=status in _TRANSIENT_STATUSES)

    def upstream_error(self, message: str, *, status_code: int) -> BillingApiError:
        """A failure the upstream reported, ``message`` cleaned (an auth error for 401, 403)."""
        error_type = BillingAuthError if status_code in _AUTH_STATUSES else BillingApiError
        return error_type(self.clean(message), endpoint=self.endpoint, status_code=status_code)

    def json_object(self, body: bytes) -> dict[str, Any]:
        """``body`` parsed as a JSON object, or :class:`Failed` with a payload error."""
        try:
            value = loads_strict(body)
        except RecursionError:
            raise self.malformed("JSON nested too deeply") from None
        except ValueError as exc:
            raise self.malformed(f"not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise self.malformed(f"expected a JSON object, got {json_kind(value)}")
        return value

    def payload_error(self, detail: str, *, path: str = "") -> BillingPayloadError:
        """A payload error about the answer of this GET."""
        return BillingPayloadError(f"{self.clean(detail)} (answer of {self.endpoint})", path=path)

    def malformed(self, detail: str, *, path: str = "") -> Failed:
        """:meth:`payload_error` as a failed attempt (never retried)."""
        return Failed(self.payload_error(detail, path=path), transient=False)

    # failures without an answer

    def transport_failure(self, exc: Exception) -> Failed:
        """Map a failure without an answer to a :class:`BillingApiError` with no status code.

        ``exc`` is an httpx error, or the ``ValueError`` (``UnicodeError``) of
        a host name the IDNA encoding refuses.
        """
        if isinstance(exc, ValueError):
            error = BillingApiError("the host name cannot be encoded", endpoint=self.endpoint)
            return Failed(error, transient=False)
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
        return Failed(BillingApiError(message, endpoint=self.endpoint), transient=transient)

    def timed_out(self) -> Failed:
        """The budget ran out: transient, but no time is left for a retry."""
        timeout = self._settings.timeout
        error = BillingApiError(f"timed out after {timeout:g}s", endpoint=self.endpoint)
        return Failed(error, transient=True)

    def clean(self, text: str) -> str:
        """``text`` fit for an error message: the key redacted, one line, bounded."""
        text = text.replace(self._session_key, _REDACTED)
        text = "".join(char if char.isprintable() else " " for char in text).strip()
        if len(text) > _MAX_MESSAGE_CHARS:
            text = text[: _MAX_MESSAGE_CHARS - 1] + "…"
        return text


def format_size(size: int) -> str:
    """A byte count for a message: whole MB when it is one, else bytes.

    >>> format_size(10 * 1024 * 1024), format_size(1500)
    ('10 MB', '1500 bytes')
    """
    return f"{size // _MB} MB" if size % _MB == 0 else f"{size} bytes"


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


def _upstream_message(body: bytes) -> str | None:
    """The human text of an error body (``message``, else ``error``), if any."""
    try:
        value = loads_strict(body)
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
