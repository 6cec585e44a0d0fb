"""The upstream's answers as models: the billing answers, and the team listing page by page.

Sans-I/O, like :class:`~billing_core.adapters._request.Get`, whose
:meth:`~billing_core.adapters._request.Get.payload_error` names every flaw
(with the JSON path of the bad value): :func:`organizations` and
:func:`free_user_limit` decode one billing answer; :class:`TeamPages` says which
``/teams`` page to ask next and takes what each one brings.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from billing_core._endpoints import label
from billing_core._json import json_kind
from billing_core.adapters._request import Get, Settings, format_size
from billing_core.errors import BillingPayloadError
from billing_core.models import FreeUserLimit, Team

__all__ = [
    "MAX_LISTING_BYTES",
    "MAX_TEAM_PAGES",
    "TEAM_PAGE_SIZE",
    "TeamPages",
    "free_user_limit",
    "organizations",
]

TEAM_PAGE_SIZE: Final = 100
MAX_TEAM_PAGES: Final = 1000
# All pages of one listing together: about 100,000 teams of ordinary size. Without
# it, the page count times the body cap (1000 x 10 MB) would be the only bound.
MAX_LISTING_BYTES: Final = 32 * 1024 * 1024

_T = TypeVar("_T")


# --- billing answers -------------------------------------------------------------------------


def organizations(get: Get, body: dict[str, Any], item: type[_T]) -> tuple[_T, ...]:
    """The ``organizations`` list of ``body``, each entry decoded as ``item``."""
    if "organizations" not in body:
        raise get.payload_error("required key missing", path="organizations")
    list_type: Any = list[item]  # type: ignore[valid-type]
    return tuple(_decode(get, list_type, body["organizations"], path="organizations"))


def free_user_limit(get: Get, body: dict[str, Any]) -> FreeUserLimit:
    """``body`` decoded as the user's free credits."""
    decoded: FreeUserLimit = _decode(get, FreeUserLimit, body, path="")
    return decoded


def _decode(get: Get, tp: Any, value: Any, *, path: str) -> Any:
    # Imported here: the wire codec loads cattrs, which importing the adapter must not pay for.
    from billing_core.wire import from_wire

    try:
        return from_wire(tp, value, path=path)
    except BillingPayloadError as exc:
        raise get.payload_error(exc.detail, path=exc.path) from None
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        # The codec should only raise BillingPayloadError; whatever it lets
        # through still must not escape as a bare exception.
        raise get.payload_error(str(exc) or type(exc).__name__, path=path) from None


# --- the team listing ------------------------------------------------------------------------


class TeamPages:
    """Walks ``/teams`` pages: which page to ask next, and what each one adds.

    A listing is refused (a payload error) when it is still going after
    ``max_pages`` pages, or when its page bodies together pass
    ``max_listing_bytes``: an upstream that never says it is done must neither
    keep the caller forever nor fill its memory. Each page's body is capped by
    what is left of that budget as it streams in, so no more than
    ``max_listing_bytes`` are ever read.
    """

    def __init__(
        self, max_pages: int = MAX_TEAM_PAGES, max_listing_bytes: int = MAX_LISTING_BYTES
    ) -> None:
        self._max_pages = max_pages
        self._max_listing_bytes = max_listing_bytes
        self._bytes_left = max_listing_bytes
        self._teams: dict[str, Team] = {}
        self._offset = 0
        self._pages = 0
        self._done = False

    def next_get(self, settings: Settings, session_key: str) -> Get | None:
        """The request of the next page, or ``None`` when the listing is complete."""
        if self._done:
            return None
        query = {"limit": TEAM_PAGE_SIZE, "offset": self._offset}
        if self._bytes_left >= settings.max_body_bytes:
            return Get(settings, "teams", session_key, query)
        return Get(
            settings,
            "teams",
            session_key,
            query,
            max_body_bytes=self._bytes_left,
            too_big=self._too_long_message(),
        )

    def add(self, get: Get, body: dict[str, Any]) -> None:
        """Take one page's answer; raise when it is malformed or the listing never ends."""
        self._bytes_left -= get.received
        page, total = _team_page(get, body)
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
            raise get.payload_error(
                f"the team list repeats itself: the page at offset {self._offset - len(page)} "
                "brought no new team"
            )
        elif self._pages >= self._max_pages:
            raise get.payload_error(f"the team list does not end after {self._max_pages} pages")
        elif self._bytes_left <= 0:
            raise BillingPayloadError(self._too_long_message())

    def _too_long_message(self) -> str:
        size = format_size(self._max_listing_bytes)
        endpoint = label("teams")
        return f"the team list is larger than {size} over all its pages (answers of {endpoint})"

    @property
    def teams(self) -> tuple[Team, ...]:
        """Every team seen, in the order the pages gave them."""
        return tuple(self._teams.values())


def _team_page(get: Get, body: dict[str, Any]) -> tuple[list[Team], int]:
    code = body.get("code")
    if code is not None:
        if type(code) is not int:
            raise get.payload_error(f"expected an integer, got {json_kind(code)}", path="code")
        if not 200 <= code < 300:
            # The envelope reports a failure even though HTTP said 2xx.
            message = body.get("message")
            if not isinstance(message, str) or not get.clean(message):
                message = f"code {code}"
            raise get.upstream_error(message, status_code=code)
    data = body.get("data")
    if not isinstance(data, dict):
        raise get.payload_error(f"expected an object, got {json_kind(data)}", path="data")
    teams = data.get("teams")
    if not isinstance(teams, list):
        raise get.payload_error(f"expected an array, got {json_kind(teams)}", path="data.teams")
    total = data.get("total")
    if type(total) is not int or total < 0:
        raise get.payload_error(
            f"expected a non-negative integer, got {json_kind(total)}", path="data.total"
        )
    return [_api_team(get, item, path=f"data.teams[{i}]") for i, item in enumerate(teams)], total


def _api_team(get: Get, item: object, *, path: str) -> Team:
    """An ``ApiTeam`` (snake_case) as a :class:`Team`; keys Team does not need are ignored."""
    if not isinstance(item, dict):
        raise get.payload_error(f"expected an object, got {json_kind(item)}", path=path)

    def text(key: str, *, optional: bool = False) -> str | None:
        value = item.get(key)
        if value is None and optional:
            return None
        if type(value) is not str:
            what = "missing" if key not in item else f"expected a string, got {json_kind(value)}"
            raise get.payload_error(what, path=f"{path}.{key}")
        return value

    team_id = text("id")
    if not team_id:
        raise get.payload_error("must not be empty", path=f"{path}.id")
    name = text("name") or ""
    is_default = item.get("is_default", False)
    if type(is_default) is not bool:
        raise get.payload_error(
            f"expected a boolean, got {json_kind(is_default)}", path=f"{path}.is_default"
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
