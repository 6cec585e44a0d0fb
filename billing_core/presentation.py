"""Pure presentation: a resolved ``StatusBilling`` (or one usage) as words, a tone, a link.

Nothing here decides who pays; that was decided once by
:func:`billing_core.build_status_billing`. The commands a message tells the
user to run come from one :class:`CommandHints` value the caller passes,
billing-core's own by default.

>>> format_billing_line(PaidBilling(organization_id="org-1", organization_name="Acme Corp",
...                                 remaining=12_400, total=20_000, tier="PRO"))
'Billing: Acme Corp (12,400 credits, PRO)'
>>> billing_tone(FreeBilling(remaining=100, total=1_000))
'warn'
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypeAlias
from urllib.parse import quote

import attrs
from attrs import field, frozen

from billing_core._labels import (
    invalid_pin_label,
    invalid_pin_reason,
    is_unshowable,
    organization_label,
    shown,
)
from billing_core.models import (
    BillingUsage,
    FreeBilling,
    InvalidPinBilling,
    OtherProviderBilling,
    PaidBilling,
    StatusBilling,
    TeamPickNeededBilling,
    unhandled_status,
)

__all__ = [
    "DEFAULT_COMMAND_HINTS",
    "PIN_COMMAND_HINT",
    "BillingTone",
    "CommandHints",
    "billing_tone",
    "build_top_up_url",
    "format_billing_line",
    "format_credits",
    "usage_tone",
]

BillingTone: TypeAlias = Literal["inactive", "ok", "warn", "danger"]
"""How alarming a billing state is: one rule for every surface (see :func:`billing_tone`)."""

# Path segments a URL parser resolves ("this" and "parent" directory).
_DOT_SEGMENTS: Final = frozenset({".", ".."})


def _web_app_base(web_app_url: str | None) -> str | None:
    """The web app base as :func:`build_top_up_url` reads it: surrounding
    whitespace and trailing slashes dropped; ``None`` when nothing is left."""
    return (web_app_url or "").strip().rstrip("/") or None


# --- the commands messages cite ---------------------------------------------------


def _command(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not str:
        raise TypeError(f"{attribute.name} must be a string, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{attribute.name} must not be empty or blank")
    if value != value.strip():
        raise ValueError(f"{attribute.name} must not start or end with whitespace: {value!r}")
    _check_showable(attribute.name, value)
    if "`" in value:
        raise ValueError(
            f"{attribute.name} must not hold a backtick (messages quote it in backticks): {value!r}"
        )


def _check_showable(name: str, value: str) -> None:
    # Messages are one line, safe to print: caller text is held to the rule
    # upstream text is shown by, and refused rather than altered.
    if any(is_unshowable(char) for char in value):
        raise ValueError(
            f"{name} must not hold control or format characters (one-line messages): {value!r}"
        )


def _optional_web_app_url(web_app_url: object) -> str | None:
    if web_app_url is not None and type(web_app_url) is not str:
        raise TypeError(f"web_app_url must be a string or None, not {type(web_app_url).__name__}")
    base = _web_app_base(web_app_url)
    if base is not None:
        _check_showable("web_app_url", base)
    return base


@frozen(kw_only=True)
class CommandHints:
    """What the messages tell the user to run, as the embedding CLI spells it.

    One value for every message that names a command: the billing line
    (:func:`format_billing_line`), the funds guard
    (:func:`billing_core.ensure_billing_funds`). The defaults are billing-core's
    own CLI; a host CLI passes its own commands, so its users are never told to
    run a program they do not have:

    - ``pin_team``: pins a billing team; ``TEAM`` stands for what the user
      types (default ``billing-core pin TEAM``);
    - ``clear_pin``: clears the pin (default ``billing-core pin --clear``);
    - ``sign_in``: signs in (default ``brv login``: billing-core has no login
      of its own, it reads the one the brv CLI stores);
    - ``web_app_url``: the web app's base, for top-up links (see
      :func:`build_top_up_url`); ``None`` (the default) gives no link.

    Messages show each command in backticks, as it is. So a command must be a
    non-blank string without surrounding whitespace, backticks, control or
    format characters (a message stays one safe line); ``web_app_url`` is read
    by :func:`build_top_up_url`'s rules (whitespace and trailing slashes
    dropped, blank is ``None``) and held to the same character rule. A bad
    value raises ``TypeError`` or ``ValueError`` naming the field.

    >>> brv = CommandHints(pin_team="brv providers connect byterover --team TEAM",
    ...                    web_app_url="https://app.example.com/")
    >>> brv.web_app_url
    'https://app.example.com'
    >>> format_billing_line(TeamPickNeededBilling(candidates=[]), hints=brv)
    'Billing: Personal free credits — pick a paid team with \
`brv providers connect byterover --team TEAM`'
    """

    pin_team: str = field(default="billing-core pin TEAM", validator=_command)
    clear_pin: str = field(default="billing-core pin --clear", validator=_command)
    sign_in: str = field(default="brv login", validator=_command)
    web_app_url: str | None = field(default=None, converter=_optional_web_app_url)


DEFAULT_COMMAND_HINTS: Final = CommandHints()
"""billing-core's own commands, and no web app: what every message cites by default."""

PIN_COMMAND_HINT: Final = f"`{DEFAULT_COMMAND_HINTS.pin_team}`"
"""Deprecated: ``DEFAULT_COMMAND_HINTS.pin_team`` in backticks, kept for old callers.

No message reads it: they cite ``hints.pin_team`` of the :class:`CommandHints`
they are given. It will be removed in a later release.
"""


def _check_hints(hints: object) -> CommandHints:
    if not isinstance(hints, CommandHints):
        raise TypeError(f"hints must be a CommandHints, not {type(hints).__name__}")
    return hints


def _code(command: str) -> str:
    """A command as messages show it: in backticks."""
    return f"`{command}`"


def _check_int(n: object, *, name: str) -> int:
    # bool is an int subclass; True credits is a caller's slip, not 1 credit.
    if type(n) is not int:
        raise TypeError(f"{name} must be an int, not {type(n).__name__}")
    return n


def _one_decimal(n: int, *, unit: int, suffix: str) -> str:
    # Integer arithmetic: tenths of the unit, rounded half up; no float decides a tie.
    tenths = (n * 10 + unit // 2) // unit
    whole, tenth = divmod(tenths, 10)
    return f"{whole}{suffix}" if tenth == 0 else f"{whole}.{tenth}{suffix}"


def format_credits(n: int) -> str:
    """Credits in a few characters: ``k`` and ``m`` with one decimal, halves rounded up.

    ``n <= 0`` is ``"0"``; below 1,000 the digits; from 999,500 millions (so
    nothing ever reads ``"1000k"``); else thousands. A trailing ``.0`` is dropped.

    >>> [format_credits(n) for n in (-5, 0, 999, 1_000, 1_250, 12_400, 12_450)]
    ['0', '0', '999', '1k', '1.3k', '12.4k', '12.5k']
    >>> [format_credits(n) for n in (999_499, 999_500, 999_999, 2_500_000)]
    ['999.5k', '1m', '1m', '2.5m']
    """
    _check_int(n, name="n")
    if n <= 0:
        return "0"
    if n < 1_000:
        return str(n)
    if n >= 999_500:
        return _one_decimal(n, unit=1_000_000, suffix="m")
    return _one_decimal(n, unit=1_000, suffix="k")


def _grouped(n: int) -> str:
    return f"{n:,}"


def _free_line(remaining: int | None, total: int | None) -> str:
    line = "Billing: Personal free credits"
    if remaining is None:
        return line
    if total is None:
        return f"{line} ({_grouped(remaining)} credits)"
    return f"{line} ({_grouped(remaining)} / {_grouped(total)})"


def _paid_line(status: PaidBilling) -> str:
    label = organization_label(
        organization_id=status.organization_id, organization_name=status.organization_name
    )
    if status.remaining is None:
        return f"Billing: {label} (usage unavailable)"
    if status.tier:
        return f"Billing: {label} ({_grouped(status.remaining)} credits, {shown(status.tier)})"
    return f"Billing: {label} ({_grouped(status.remaining)} credits)"


def _needs_pick_line(status: TeamPickNeededBilling, hints: CommandHints) -> str:
    free = _free_line(status.remaining, status.total)
    pin = _code(hints.pin_team)
    names = [
        organization_label(organization_id=c.organization_id, organization_name=c.organization_name)
        for c in status.candidates
    ]
    if not names:
        return f"{free} — pick a paid team with {pin}"
    teams = "team" if len(names) == 1 else "teams"
    return f"{free} — {len(names)} paid {teams} available ({', '.join(names)}): pick one with {pin}"


def _invalid_pin_line(status: InvalidPinBilling, hints: CommandHints) -> str:
    return (
        f"Billing: pinned team {invalid_pin_label(status)} {invalid_pin_reason(status)} — "
        f"pin a paid team with {_code(hints.pin_team)} "
        f"or clear the pin with {_code(hints.clear_pin)}"
    )


def format_billing_line(
    status: StatusBilling, *, hints: CommandHints = DEFAULT_COMMAND_HINTS
) -> str:
    """The one-line billing summary a CLI prints; numbers grouped with commas.

    Always one line: control and format characters in names (and other text
    from upstream) are shown as U+FFFD, so a team name cannot forge a line or
    send terminal escapes. The commands it cites (to pin a team, to clear the
    pin) are those of ``hints`` (see :class:`CommandHints`).

    >>> format_billing_line(OtherProviderBilling(active_provider="openai"))
    'Using openai'
    >>> format_billing_line(OtherProviderBilling())
    'Using another provider'
    >>> format_billing_line(FreeBilling(remaining=950, total=1_000))
    'Billing: Personal free credits (950 / 1,000)'
    >>> format_billing_line(PaidBilling(organization_id="org-1", remaining=12_400))
    'Billing: org-1 (12,400 credits)'
    >>> format_billing_line(PaidBilling(organization_id="org-1", organization_name="Acme Corp"))
    'Billing: Acme Corp (usage unavailable)'
    >>> format_billing_line(TeamPickNeededBilling(
    ...     candidates=[PaidBilling(organization_id="o2", organization_name="Beta"),
    ...                 PaidBilling(organization_id="o1", organization_name="Acme")],
    ...     remaining=950, total=1_000))
    'Billing: Personal free credits (950 / 1,000) — 2 paid teams available (Acme, Beta): \
pick one with `billing-core pin TEAM`'
    >>> format_billing_line(InvalidPinBilling(organization_id="org-9", reason="not-a-member"))
    'Billing: pinned team org-9 is not one of your teams — pin a paid team with \
`billing-core pin TEAM` or clear the pin with `billing-core pin --clear`'
    """
    _check_hints(hints)
    match status:
        case PaidBilling():
            return _paid_line(status)
        case FreeBilling():
            return _free_line(status.remaining, status.total)
        case TeamPickNeededBilling():
            return _needs_pick_line(status, hints)
        case InvalidPinBilling():
            return _invalid_pin_line(status, hints)
        case OtherProviderBilling():
            return f"Using {shown(status.active_provider or 'another provider')}"
        case _:
            raise unhandled_status(status)


def _tone(*, remaining: int | None, total: int | None, limit_exceeded: bool) -> BillingTone:
    # The one rule. Exact integers: "10 % of total" is remaining * 10 <= total.
    # An exceeded limit is danger even without numbers: upstream said so, and
    # the server refuses requests (is_billing_exhausted agrees).
    if limit_exceeded:
        return "danger"
    if remaining is None:
        return "inactive"
    if remaining <= 0:
        return "danger"
    if total is not None and remaining * 10 <= total:
        return "warn"
    return "ok"


def billing_tone(status: StatusBilling | None) -> BillingTone:
    """How alarming ``status`` is, by one rule shared by every surface.

    ``danger`` when remaining is 0 or less or the limit is exceeded
    (``limit_exceeded``, whatever the numbers), and for an invalid pin; ``warn``
    when remaining is at most 10 % of total; ``inactive`` when there are no
    numbers (and the limit is not exceeded), for another provider, and for
    ``None`` (not signed in or unknown); else ``ok``. A pick-needed status is
    judged by its free credits. For free, paid and pick-needed statuses the tone
    is ``danger`` exactly when :func:`billing_core.is_billing_exhausted` holds,
    and a paid status has the tone :func:`usage_tone` gives its team's usage.

    >>> [billing_tone(FreeBilling(remaining=r, total=1_000)) for r in (0, 100, 101)]
    ['danger', 'warn', 'ok']
    >>> billing_tone(FreeBilling(remaining=500, total=1_000, limit_exceeded=True))
    'danger'
    >>> billing_tone(InvalidPinBilling(organization_id="org-9", reason="free-tier"))
    'danger'
    """
    match status:
        case None | OtherProviderBilling():
            return "inactive"
        case InvalidPinBilling():
            return "danger"
        case PaidBilling() | FreeBilling() | TeamPickNeededBilling():
            return _tone(
                remaining=status.remaining, total=status.total, limit_exceeded=status.limit_exceeded
            )
        case _:
            raise unhandled_status(status)


def usage_tone(usage: BillingUsage | None) -> BillingTone:
    """The tone of one organisation's credits (a picker row), by the same rule as
    :func:`billing_tone`: remaining against ``total_limit``, and ``danger`` when
    the upstream says the limit is exceeded. ``None`` (no usage known) is
    ``inactive``.
    """
    if usage is None:
        return "inactive"
    return _tone(
        remaining=usage.remaining, total=usage.total_limit, limit_exceeded=usage.limit_exceeded
    )


def build_top_up_url(*, web_app_url: str | None, team_slug: str | None) -> str | None:
    """The web page where a team's credits are topped up, or ``None`` if either part
    is missing.

    Surrounding whitespace and trailing slashes of the base are dropped; the slug
    is percent-encoded as one path segment.

    A slug of ``"."`` or ``".."`` gives ``None`` too: browsers (every WHATWG URL
    parser) read such a segment, and its encodings ``%2e`` and ``%2e%2e``
    alike, as "this" or "parent" directory, so no URL can name that team's
    page, and ``/settings/../billing`` would lead to another one.

    >>> build_top_up_url(web_app_url="https://app.example.com/", team_slug="acme corp")
    'https://app.example.com/settings/acme%20corp/billing'
    >>> build_top_up_url(web_app_url="", team_slug="acme") is None
    True
    >>> build_top_up_url(web_app_url="https://app.example.com", team_slug="..") is None
    True
    """
    base = _web_app_base(web_app_url)
    if not base or not team_slug or team_slug in _DOT_SEGMENTS:
        return None
    # quote() encodes "%" too, so no other slug can turn into a dot segment.
    return f"{base}/settings/{quote(team_slug, safe='')}/billing"
