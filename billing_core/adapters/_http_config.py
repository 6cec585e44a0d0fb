"""The HTTP adapters' settings, checked once at construction, and the session headers.

Every check raises :class:`~billing_core.BillingConfigError` (or
:class:`~billing_core.NotAuthenticatedError` for an empty session key) before
anything is sent, and no message quotes the session key.

>>> check_base_url("https://api.example.com/api/v1/")
'https://api.example.com/api/v1'
>>> check_max_retries(-1)
Traceback (most recent call last):
  ...
billing_core.errors.BillingConfigError: max_retries must be an int >= 0, not -1
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from billing_core._session import SESSION_HEADER, session_key_flaw
from billing_core.errors import BillingConfigError, NotAuthenticatedError

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "MAX_TIMEOUT",
    "check_base_url",
    "check_max_retries",
    "check_timeout",
    "client_options",
    "session_headers",
]

DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_MAX_RETRIES: Final = 1
# Far beyond any sensible request, and well within what sockets accept (about
# 1e10 s already overflows the platform's time_t deep inside a blocking read).
MAX_TIMEOUT: Final = 86_400.0


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


def check_max_retries(max_retries: object) -> int:
    """``max_retries`` if it is an int >= 0, else a config error."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise BillingConfigError(f"max_retries must be an int >= 0, not {max_retries!r}")
    return max_retries


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


def client_options(base_url: str, timeout: float) -> dict[str, Any]:
    """The options of a client the service owns (a checked ``base_url``)."""
    host = (urlsplit(base_url).hostname or "").lower()
    return {
        "timeout": timeout,
        "follow_redirects": False,
        # Proxy variables make no sense for loopback, and would break the fake
        # API in a CI job that sets HTTP_PROXY.
        "trust_env": not _is_loopback(host),
        "headers": {"user-agent": "billing-core"},
    }
