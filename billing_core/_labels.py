"""How organisations and teams are named to people, safely.

Shared by every module that words a message (presentation, funds guard, team
matching, the shell). Names, ids and tiers come from upstream: before they
reach a terminal or a log line they pass through :func:`shown`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Final

from billing_core.models import InvalidPinBilling

__all__ = [
    "invalid_pin_label",
    "invalid_pin_reason",
    "is_unshowable",
    "organization_label",
    "shown",
    "team_listing",
]

# Characters that must not reach a terminal or a log line from upstream text:
# controls (newline, ESC), format characters (bidi overrides, zero-width),
# lone surrogates (unprintable in UTF-8) and the line and paragraph separators.
_UNSHOWABLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_REPLACEMENT: Final = "\ufffd"


def is_unshowable(char: str) -> bool:
    """Whether ``char`` (one character) must not reach people as it is: its
    Unicode category is Cc, Cf, Cs, Zl or Zp (controls such as newline and ESC,
    format characters such as bidi overrides, lone surrogates, the line and
    paragraph separators). The one rule every view that prints upstream text
    escapes or replaces by.

    >>> [is_unshowable(c) for c in ("a", " ", "\\n", "\\x1b", "\\u202e", "\\u2028", "é")]
    [False, False, True, True, True, True, False]
    """
    return unicodedata.category(char) in _UNSHOWABLE_CATEGORIES


def shown(text: str) -> str:
    """``text`` (a name, id or tier from upstream) made safe to show people.

    Every character :func:`is_unshowable` flags becomes U+FFFD, so a name
    can neither forge a second line, nor send terminal escapes, nor reorder
    what follows it; the replacement shows that something was there.

    >>> shown("Acme\\nBilling: forged")
    'Acme\\ufffdBilling: forged'
    """
    if text.isprintable():  # the common case: no character to replace
        return text
    return "".join(_REPLACEMENT if is_unshowable(char) else char for char in text)


def organization_label(*, organization_id: str, organization_name: str | None) -> str:
    """How an organisation is named to people: its name, else (missing or blank) its id."""
    if organization_name and organization_name.strip():
        return shown(organization_name)
    return shown(organization_id)


def team_listing(entries: Iterable[tuple[str, str | None]]) -> str:
    """Teams listed in a sentence, in the given order: each label (already
    :func:`shown`), then its note in brackets when it has one.

    >>> team_listing([("Zeta", "5,000 credits"), ("Acme", None)])
    'Zeta (5,000 credits), Acme'
    """
    return ", ".join(f"{label} ({note})" if note else label for label, note in entries)


def invalid_pin_label(status: InvalidPinBilling) -> str:
    """The pinned team named for people: ``name (id)``, or the id alone."""
    name = status.organization_name
    if name and name.strip():
        return f"{shown(name)} ({shown(status.organization_id)})"
    return shown(status.organization_id)


def invalid_pin_reason(status: InvalidPinBilling) -> str:
    """Why the pinned team cannot be billed, as the end of a sentence."""
    if status.reason == "free-tier":
        return "is on the FREE tier and cannot be billed"
    return "is not one of your teams"
