"""The upstream endpoints: their paths, short names and the labels errors carry.

One definition for the HTTP adapters, the in-memory fakes and the fake API,
so a failure names its endpoint the same way whichever of them raised it.

>>> label("usages")
'GET /billing/usages'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, TypeAlias

__all__ = ["BILLING_PATHS", "PATHS", "Name", "label"]

Name: TypeAlias = Literal["usages", "tiers", "free-limit", "teams"]
"""The short name of an endpoint."""

BILLING_PATHS: Final[Mapping[Name, str]] = {
    "usages": "/billing/usages",
    "tiers": "/billing/organizations/tiers",
    "free-limit": "/billing/usage/free-user/limit",
}
"""The billing endpoints, under the billing base URL."""

PATHS: Final[Mapping[Name, str]] = {**BILLING_PATHS, "teams": "/teams"}
"""Every endpoint; ``teams`` lives under the team base URL."""


def label(name: Name) -> str:
    """How errors name the endpoint: the method and the path, without the query."""
    return f"GET {PATHS[name]}"
