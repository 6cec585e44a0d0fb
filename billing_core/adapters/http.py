"""HTTP adapters of the billing and team ports (SPEC §2, §9), over httpx.

Four services, sync and async twins sharing every decision: what URL and
header to send, how an answer or a failure maps to a :class:`~billing_core.BillingError`,
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

The work is shared out among private modules: ``_http_config`` (settings and
session headers), ``_http_get`` (one GET: budget, retries, outcome mapping,
body cap), ``_billing_answers`` and ``_team_pages`` (answers into models),
``_transport`` (the httpx clients and retry loops) and ``_usages`` (usages
and tiers fetched at once, then joined).
"""

from __future__ import annotations

import httpx

from billing_core.adapters._billing_answers import free_user_limit, organizations
from billing_core.adapters._closing import AsyncClosing, Closing

# Re-exported ("X as X"): the limits stay importable from here. Patch them
# (tests) in the private module that uses them.
from billing_core.adapters._http_config import DEFAULT_MAX_RETRIES as DEFAULT_MAX_RETRIES
from billing_core.adapters._http_config import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from billing_core.adapters._http_config import MAX_TIMEOUT as MAX_TIMEOUT
from billing_core.adapters._http_config import session_headers
from billing_core.adapters._http_get import MAX_BODY_BYTES as MAX_BODY_BYTES
from billing_core.adapters._team_pages import MAX_TEAM_PAGES as MAX_TEAM_PAGES
from billing_core.adapters._team_pages import TEAM_PAGE_SIZE as TEAM_PAGE_SIZE
from billing_core.adapters._team_pages import TeamPages
from billing_core.adapters._transport import AsyncTransport, SyncTransport
from billing_core.adapters._usages import ajoined_usages, joined_usages
from billing_core.models import BillingUsage, FreeUserLimit, OrganizationTier, RawUsage, Team

__all__ = [
    "AsyncHttpBillingService",
    "AsyncHttpTeamService",
    "HttpBillingService",
    "HttpTeamService",
]


class _HttpService:
    """What the four services share: the checked settings, the base URL and the repr."""

    _http: SyncTransport | AsyncTransport

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._http.base_url!r}, timeout={self._http.timeout:g})"

    @property
    def base_url(self) -> str:
        """The base URL the service was given, without a trailing slash."""
        return self._http.base_url


class _SyncHttpService(_HttpService, Closing):
    """A blocking service over one pooled ``httpx.Client``, and a context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.Client | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self._http: SyncTransport = SyncTransport(base_url, timeout, client, max_retries)

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
    ) -> None:
        self._http: AsyncTransport = AsyncTransport(base_url, timeout, client, max_retries)

    async def aclose(self) -> None:
        """Release pooled connections (a caller-owned client is left open). Idempotent."""
        await self._http.aclose()


class HttpBillingService(_SyncHttpService):
    """The billing endpoints over HTTP, blocking (a :class:`~billing_core.BillingService`).

    ``base_url`` is e.g. ``https://api.example.com/api/v1``. ``timeout`` is the
    budget of each request in seconds (at most a day), retries included;
    transient failures (connection errors, 502, 503, 504) are retried
    ``max_retries`` times after a short jittered pause when the budget allows.
    ``client`` is an optional caller-owned ``httpx.Client``, left open by
    :meth:`close`.
    """

    def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        """Every organisation's usage, before the tier join."""
        get = self._http.prepare("usages", session_key)
        return organizations(get, self._http.send(get), RawUsage)

    def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        """Every organisation's tier entry (orgs without one are FREE)."""
        get = self._http.prepare("tiers", session_key)
        return organizations(get, self._http.send(get), OrganizationTier)

    def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        """The user's personal free credits."""
        get = self._http.prepare("free-limit", session_key)
        return free_user_limit(get, self._http.send(get))

    def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        """Usages joined with tiers: both endpoints are fetched concurrently.

        The usages' error wins when both fail.
        """
        session_headers(session_key)  # refuse a bad key before starting a thread
        return joined_usages(
            lambda: self.get_raw_usages(session_key), lambda: self.get_tiers(session_key)
        )


class AsyncHttpBillingService(_AsyncHttpService):
    """The async twin of :class:`HttpBillingService`, over one ``httpx.AsyncClient``.

    It may be used from successive event loops (e.g. one ``asyncio.run`` per
    command): its own client is replaced when the loop changes, since pooled
    connections cannot outlive their loop. Call :meth:`aclose` (or use
    ``async with``) in the loop that made the calls to release them promptly.
    A caller-owned ``client`` stays bound to the first loop that used it.
    """

    async def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        """Every organisation's usage, before the tier join."""
        get = self._http.prepare("usages", session_key)
        return organizations(get, await self._http.send(get), RawUsage)

    async def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        """Every organisation's tier entry (orgs without one are FREE)."""
        get = self._http.prepare("tiers", session_key)
        return organizations(get, await self._http.send(get), OrganizationTier)

    async def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        """The user's personal free credits."""
        get = self._http.prepare("free-limit", session_key)
        return free_user_limit(get, await self._http.send(get))

    async def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        """Usages joined with tiers: both endpoints are fetched concurrently.

        The usages' error wins when both fail.
        """
        return await ajoined_usages(self.get_raw_usages(session_key), self.get_tiers(session_key))


class HttpTeamService(_SyncHttpService):
    """The team endpoint over HTTP, blocking (a :class:`~billing_core.TeamService`).

    ``base_url`` is the team base URL (often the billing one). Pages of 100
    teams are fetched until ``total`` is reached or a page comes back empty;
    ``timeout`` and ``max_retries`` apply to each page request.
    """

    def list_teams(self, session_key: str) -> tuple[Team, ...]:
        """Every team of the user, all pages fetched (a team seen twice is kept once)."""
        pages = TeamPages()
        while (params := pages.next_params()) is not None:
            get = self._http.prepare("teams", session_key, params)
            pages.add(get, self._http.send(get))
        return pages.teams


class AsyncHttpTeamService(_AsyncHttpService):
    """The async twin of :class:`HttpTeamService`, over one ``httpx.AsyncClient``.

    Successive event loops are fine, as for :class:`AsyncHttpBillingService`.
    """

    async def list_teams(self, session_key: str) -> tuple[Team, ...]:
        """Every team of the user, all pages fetched (a team seen twice is kept once)."""
        pages = TeamPages()
        while (params := pages.next_params()) is not None:
            get = self._http.prepare("teams", session_key, params)
            pages.add(get, await self._http.send(get))
        return pages.teams
