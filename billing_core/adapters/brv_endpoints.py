"""The API endpoints, from the environment variables the brv CLI reads, with brv's meaning.

- ``BRV_BILLING_BASE_URL``: the billing root domain, for
  :attr:`BrvEndpoints.billing_api_url` (default ``https://v3-billing.byterover.dev``);
- ``BRV_IAM_BASE_URL``: the IAM root domain, which serves the teams, for
  :attr:`BrvEndpoints.iam_api_url` (default ``https://iam.byterover.dev``);
- ``BRV_WEB_APP_URL``: the web app, for the top-up links,
  :attr:`BrvEndpoints.web_app_url` (default ``https://app.byterover.dev``; it may have a path).

As in brv, ``/api/v1`` is appended to the billing and IAM (teams) root
domains, and a billing or IAM value with a path is refused: set the full
API URL there and every request would 404. The defaults are the hosts the
published brv CLI (3.14.0) ships in its production environment file.
Surrounding whitespace and trailing slashes are dropped; an empty value is
unset. Unlike brv, a query or a fragment is refused too (brv would paste
``/api/v1`` after it). Errors name the variable, never its value (a URL may
carry credentials).

>>> endpoints = brv_endpoints({})
>>> endpoints.billing_api_url, endpoints.iam_api_url
('https://v3-billing.byterover.dev/api/v1', 'https://iam.byterover.dev/api/v1')
>>> brv_endpoints({"BRV_BILLING_BASE_URL": " http://127.0.0.1:8080/ "}).billing_api_url
'http://127.0.0.1:8080/api/v1'
>>> brv_endpoints({"BRV_BILLING_BASE_URL": "https://example.com/api/v1"})
Traceback (most recent call last):
  ...
billing_core.errors.BillingConfigError: BRV_BILLING_BASE_URL must not include a path component. ...
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final
from urllib.parse import SplitResult, urlsplit

from attrs import frozen

from billing_core.errors import BillingConfigError

__all__ = [
    "API_V1_PATH",
    "DEFAULT_BILLING_BASE_URL",
    "DEFAULT_IAM_BASE_URL",
    "DEFAULT_WEB_APP_URL",
    "ENV_BILLING_BASE_URL",
    "ENV_IAM_BASE_URL",
    "ENV_WEB_APP_URL",
    "BrvEndpoints",
    "brv_endpoints",
]

ENV_BILLING_BASE_URL: Final = "BRV_BILLING_BASE_URL"
ENV_IAM_BASE_URL: Final = "BRV_IAM_BASE_URL"
ENV_WEB_APP_URL: Final = "BRV_WEB_APP_URL"

API_V1_PATH: Final = "/api/v1"
"""What brv appends to the billing and IAM root domains."""

DEFAULT_BILLING_BASE_URL: Final = "https://v3-billing.byterover.dev"
DEFAULT_IAM_BASE_URL: Final = "https://iam.byterover.dev"
DEFAULT_WEB_APP_URL: Final = "https://app.byterover.dev"


@frozen
class BrvEndpoints:
    """Where billing_core's requests go, and where the web app is.

    ``billing_api_url`` and ``iam_api_url`` are full API base URLs (ending in
    ``/api/v1``), what the HTTP services take: the billing service uses the
    first, the team service the second. ``web_app_url`` is the base of the
    top-up links (:func:`~billing_core.build_top_up_url`).
    """

    billing_api_url: str
    iam_api_url: str
    web_app_url: str


def brv_endpoints(environ: Mapping[str, str] | None = None) -> BrvEndpoints:
    """The endpoints ``environ`` (default: :data:`os.environ`) configures, as brv reads them.

    Raises :class:`~billing_core.BillingConfigError` naming the variable when a
    value is not an absolute ``http://`` or ``https://`` URL, contains
    spaces, control characters, credentials, a query or a fragment, or (for
    the billing and IAM variables) a path. Whether ``http://`` may be used is
    the HTTP services' decision (only to a loopback host).
    """
    env = os.environ if environ is None else environ
    billing = _url(env, ENV_BILLING_BASE_URL, DEFAULT_BILLING_BASE_URL, root_only=True)
    iam = _url(env, ENV_IAM_BASE_URL, DEFAULT_IAM_BASE_URL, root_only=True)
    web_app = _url(env, ENV_WEB_APP_URL, DEFAULT_WEB_APP_URL, root_only=False)
    return BrvEndpoints(
        billing_api_url=billing + API_V1_PATH,
        iam_api_url=iam + API_V1_PATH,
        web_app_url=web_app,
    )


def _url(environ: Mapping[str, str], name: str, default: str, *, root_only: bool) -> str:
    """The variable's URL without trailing slashes, its default when unset or blank."""
    url = environ.get(name, "").strip().rstrip("/")
    if not url:
        return default
    parts = _split(name, url)
    if root_only and parts.path not in ("", "/"):  # "/" is left before a query or fragment
        raise BillingConfigError(
            f"{name} must not include a path component."
            " Provide the root domain only (e.g. https://example.com)."
        )
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise BillingConfigError(f"{name} must not include a query or a fragment.")
    return url


def _split(name: str, url: str) -> SplitResult:
    example = " (e.g. https://example.com)"
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise BillingConfigError(f"{name} must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading the port validates it
    except ValueError:
        raise BillingConfigError(f"{name} is not a valid URL{example}.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BillingConfigError(f"{name} must be an absolute http:// or https:// URL{example}.")
    if parts.username is not None or parts.password is not None:
        raise BillingConfigError(f"{name} must not contain credentials.")
    return parts
