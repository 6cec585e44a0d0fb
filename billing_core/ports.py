"""The ports: what the shell needs from the outside world, as ``typing.Protocol``\\s.

Each service port has a sync and an async twin with the same method names.
Adapters live in :mod:`billing_core.adapters`; in-memory fakes for tests in
:mod:`billing_core.testing.fakes`. The pin store is synchronous in both
worlds: it is a small local file, and the async shell runs it in a thread.

Implementations get their ``with`` / ``async with`` from the :class:`Closing`
and :class:`AsyncClosing` mixins at the end: helpers for implementers, not
ports, so neither is in ``__all__`` nor exported from :mod:`billing_core`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from attrs import frozen

from billing_core.models import (
    BillingUsage,
    FreeUserLimit,
    OrganizationTier,
    RawUsage,
    Team,
)

__all__ = [
    "AsyncBillingService",
    "AsyncTeamService",
    "BillingService",
    "PinRead",
    "PinReader",
    "PinStore",
    "TeamService",
]


@runtime_checkable
class PinStore(Protocol):
    """Where a project's billing pin lives (a file, memory, a database...).

    The pin store is synchronous in both worlds. A store whose calls never
    block (a local file, memory) may say so with an attribute
    ``reads_without_blocking = True``: the shell then calls it in place, where
    it would otherwise hand each call to a worker thread (and the async shell
    would otherwise leave its event loop for it). Leave it out for a store
    that may wait on a network, a lock or a slow disk.
    """

    def get_pinned_team_id(self) -> str | None:
        """The pinned team id, or ``None`` when there is no (readable) pin."""
        ...

    def set_pinned_team_id(self, team_id: str | None) -> None:
        """Pin ``team_id``, or clear the pin with ``None``."""
        ...


@frozen
class PinRead:
    """What reading a pin found.

    ``team_id`` is the pin, or ``None`` for no pin (missing file, empty pin,
    or a file that is corrupt). ``problem`` says, for people, why a pin that
    exists could not be understood; it is ``None`` when all is well. The
    orchestration turns a problem into ``Problem(part="pins", ...)``.
    """

    team_id: str | None
    problem: str | None = None


@runtime_checkable
class PinReader(Protocol):
    """An optional capability of a :class:`PinStore`: say why its pin is unusable.

    :class:`~billing_core.FilePinStore` has it; the orchestration uses it when
    present so that a corrupt pin file is reported, not silently ignored.
    """

    def read_pin(self) -> PinRead:
        """The pin and, when the stored pin cannot be understood, why."""
        ...


class BillingService(Protocol):
    """The upstream billing endpoints (usages, tiers, free limit), blocking.

    Methods raise :class:`~billing_core.BillingApiError` (or its subclass
    :class:`~billing_core.BillingAuthError` for 401/403) and
    :class:`~billing_core.BillingPayloadError`.
    """

    def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        """Every organisation's usage, before the tier join."""
        ...

    def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        """Every organisation's tier entry (orgs without one are FREE)."""
        ...

    def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        """The user's personal free credits."""
        ...

    def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        """Usages joined with tiers (both endpoints, fetched concurrently)."""
        ...

    def close(self) -> None:
        """Release pooled connections (a caller-owned client is left open)."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class AsyncBillingService(Protocol):
    """The async twin of :class:`BillingService`."""

    async def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        """Every organisation's usage, before the tier join."""
        ...

    async def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        """Every organisation's tier entry (orgs without one are FREE)."""
        ...

    async def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        """The user's personal free credits."""
        ...

    async def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        """Usages joined with tiers (both endpoints, fetched concurrently)."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections (a caller-owned client is left open)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class TeamService(Protocol):
    """The upstream team listing, blocking."""

    def list_teams(self, session_key: str) -> tuple[Team, ...]:
        """Every team of the user, all pages fetched."""
        ...

    def close(self) -> None:
        """Release pooled connections (a caller-owned client is left open)."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class AsyncTeamService(Protocol):
    """The async twin of :class:`TeamService`."""

    async def list_teams(self, session_key: str) -> tuple[Team, ...]:
        """Every team of the user, all pages fetched."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections (a caller-owned client is left open)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


# --- mixins for implementations (not ports, not exported) ------------------------------------


class Closing:
    """``with service:`` calls ``service.close()`` on the way out."""

    __slots__ = ()

    def close(self) -> None:
        """Release what the service holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClosing:
    """``async with service:`` awaits ``service.aclose()`` on the way out."""

    __slots__ = ()

    async def aclose(self) -> None:
        """Release what the service holds."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
