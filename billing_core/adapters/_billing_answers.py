"""The billing endpoints' answers, decoded into models; every flaw a payload error of the GET."""

from __future__ import annotations

from typing import Any, TypeVar

from billing_core.adapters._http_get import Get
from billing_core.errors import BillingPayloadError
from billing_core.models import FreeUserLimit

__all__ = ["free_user_limit", "organizations"]

_T = TypeVar("_T")


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
