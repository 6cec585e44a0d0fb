"""The exceptions billing_core raises, all rooted at :class:`BillingError`.

Messages are written for the person at the terminal and never contain the
session key: callers may print ``str(error)`` as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AmbiguousTeamError",
    "BillingApiError",
    "BillingAuthError",
    "BillingConfigError",
    "BillingError",
    "BillingPayloadError",
    "BillingUnknownError",
    "InsufficientCreditsError",
    "InvalidPinError",
    "NotAuthenticatedError",
    "PinStoreError",
    "TeamNotFoundError",
]


class BillingError(Exception):
    """Base class of every error billing_core raises on purpose."""


class BillingConfigError(BillingError, ValueError):
    """A setting given by the caller is unusable (base URL, session key, directory)."""


class BillingPayloadError(BillingError, ValueError):
    """A payload (upstream body, wire JSON, pin file) does not have the expected shape.

    ``path`` locates the bad value, e.g. ``organizations[3].remaining``; it is
    empty when the whole payload is at fault.
    """

    def __init__(self, detail: str, *, path: str = "") -> None:
        self.path = path
        self.detail = detail
        super().__init__(f"{path}: {detail}" if path else detail)


class BillingApiError(BillingError):
    """The billing or team service failed to answer usefully.

    ``status_code`` is ``None`` when no HTTP answer came (timeout, refused or
    dropped connection). ``message`` is the upstream's human text when it gave one.
    """

    def __init__(self, message: str, *, endpoint: str, status_code: int | None = None) -> None:
        self.message = message
        self.endpoint = endpoint
        self.status_code = status_code
        where = f"{endpoint} answered {status_code}" if status_code else endpoint
        super().__init__(f"{where}: {message}")


class BillingAuthError(BillingApiError):
    """The session is invalid or expired (HTTP 401 or 403): sign in again."""


class NotAuthenticatedError(BillingError):
    """The operation needs a signed-in session and none was given."""

    def __init__(self, message: str = "not signed in: a session key is required") -> None:
        super().__init__(message)


class InsufficientCreditsError(BillingError):
    """The party that would pay for the next request has no credits left."""


class BillingUnknownError(BillingError):
    """Who would pay for the next request is unknown (not signed in, or billing
    could not be resolved), and the funds guard was told to refuse then."""


class InvalidPinError(BillingError):
    """The pinned (or requested) team cannot be billed: pick a paid team."""


class TeamNotFoundError(BillingError, LookupError):
    """No team matches the query; ``available`` lists the user's teams, each as
    its name and what to type to pick it (see :func:`billing_core.match_team`),
    for example ``Acme Corp (slug acme-corp)``."""

    def __init__(self, query: str, *, available: Sequence[str]) -> None:
        self.query = query
        self.available = tuple(available)
        listing = ", ".join(self.available) if self.available else "none"
        super().__init__(f"no team matches {query!r}; available teams: {listing}")


class AmbiguousTeamError(BillingError, LookupError):
    """Several teams match the query equally well; ``matches`` lists them, each as
    its name and what to type to pick it alone (its slug, or else its id)."""

    def __init__(self, query: str, *, matches: Sequence[str]) -> None:
        self.query = query
        self.matches = tuple(matches)
        super().__init__(
            f"{query!r} matches several teams: {', '.join(self.matches)}; "
            "use the slug or id to pick one"
        )


class PinStoreError(BillingError):
    """The pin store cannot be read or written (permissions, disk, lock)."""
