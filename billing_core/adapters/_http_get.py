"""One logical GET of the HTTP adapters: its time budget, retries, body cap and outcome mapping.

A :class:`Get` holds every decision about one request and none of the I/O:
the transports (``_transport``) send its attempts, sync or async, and hand it
what came back. An attempt that went wrong raises :class:`Failed`, carrying
the :class:`~billing_core.BillingError` to report and whether a retry may help.
"""

from __future__ import annotations

import logging
import random
import socket
import time
from collections.abc import Mapping
from typing import Any, Final

import httpx

from billing_core._endpoints import PATHS, Name, label
from billing_core._json import json_kind, loads_strict
from billing_core.adapters._http_config import session_headers
from billing_core.errors import (
    BillingApiError,
    BillingAuthError,
    BillingError,
    BillingPayloadError,
)

__all__ = ["MAX_BODY_BYTES", "Failed", "Get"]

_log = logging.getLogger("billing_core.adapters.http")

MAX_BODY_BYTES: Final = 10 * 1024 * 1024

_TRANSIENT_STATUSES: Final = frozenset({502, 503, 504})
_AUTH_STATUSES: Final = frozenset({401, 403})
_RETRY_PAUSE_SECONDS: Final = (0.05, 0.15)
# A retry that cannot get at least this much time is not worth sending.
_MIN_ATTEMPT_SECONDS: Final = 0.05
_MAX_MESSAGE_CHARS: Final = 300
_REDACTED: Final = "[redacted]"


class Failed(Exception):
    """An attempt failed with ``error``; ``transient`` says whether a retry may help."""

    def __init__(self, error: BillingError, *, transient: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.transient = transient


class Get:
    """The decisions of one logical GET of ``endpoint`` (its attempts share one time budget)."""

    def __init__(
        self,
        *,
        base_url: str,
        endpoint: Name,
        session_key: str,
        timeout: float,
        max_retries: int,
        params: Mapping[str, int] | None = None,
    ) -> None:
        self.headers = session_headers(session_key)
        self.url = base_url + PATHS[endpoint]
        self.params = dict(params or {})
        self.endpoint = label(endpoint)
        self._session_key = session_key
        self._timeout = timeout
        self._retries_left = max_retries
        self._deadline = time.monotonic() + timeout

    def __repr__(self) -> str:
        return f"Get({self.endpoint})"

    def attempt_timeout(self) -> float:
        """Seconds left in the budget: the timeout of the next attempt."""
        return max(self._deadline - time.monotonic(), 0.001)

    def retry_pause(self, failure: Failed) -> float | None:
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

    def _too_big(self) -> Failed:
        limit = MAX_BODY_BYTES // (1024 * 1024)
        error = BillingPayloadError(f"the answer of {self.endpoint} is larger than {limit} MB")
        return Failed(error, transient=False)

    def answer(self, response: httpx.Response, body: bytes) -> dict[str, Any]:
        """The JSON object of a 2xx answer, or :class:`Failed` with the mapped error."""
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
        error = BillingApiError(f"timed out after {self._timeout:g}s", endpoint=self.endpoint)
        return Failed(error, transient=True)

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
