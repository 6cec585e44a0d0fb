"""Pure presentation: a resolved ``StatusBilling`` (or one usage) as words, a tone, a link.

Nothing here decides who pays; that was decided once by
:func:`billing_core.build_status_billing`.

>>> format_billing_line(PaidBilling(organization_id="org-1", organization_name="Acme Corp",
...                                 remaining=12_400, total=20_000, tier="PRO"))
'Billing: Acme Corp (12,400 credits, PRO)'
>>> billing_tone(FreeBilling(remaining=100, total=1_000))
'warn'
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias
from urllib.parse import quote

from billing_core._labels import (
    invalid_pin_label,
    invalid_pin_reason,
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
    "PIN_COMMAND_HINT",
    "BillingTone",
    "billing_tone",
    "build_top_up_url",
    "format_billing_line",
    "format_credits",
    "usage_tone",
]

BillingTone: TypeAlias = Literal["inactive", "ok", "warn", "danger"]
"""How alarming a billing state is: one rule for every surface (see :func:`billing_tone`)."""

PIN_COMMAND_HINT: Final = "`billing-core pin TEAM`"
"""The command that pins a billing team, as the status lines and errors cite it."""

_CLEAR_COMMAND_HINT: Final = "`billing-core pin --clear`"

# Path segments a URL parser resolves ("this" and "parent" directory).
_DOT_SEGMENTS: Final = frozenset({".", ".."})


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


def _needs_pick_line(status: TeamPickNeededBilling) -> str:
    free = _free_line(status.remaining, status.total)
    names = [
        organization_label(organization_id=c.organization_id, organization_name=c.organization_name)
        for c in status.candidates
    ]
    if not names:
        return f"{free} — pick a paid team with {PIN_COMMAND_HINT}"
    teams = "team" if len(names) == 1 else "teams"
    return (
        f"{free} — {len(names)} paid {teams} available ({', '.join(names)}): "
        f"pick one with {PIN_COMMAND_HINT}"
    )


def _invalid_pin_line(status: InvalidPinBilling) -> str:
    return (
        f"Billing: pinned team {invalid_pin_label(status)} {invalid_pin_reason(status)} — "
        f"pin a paid team with {PIN_COMMAND_HINT} or clear the pin with {_CLEAR_COMMAND_HINT}"
    )


def format_billing_line(status: StatusBilling) -> str:
    """The one-line billing summary a CLI prints; numbers grouped with commas.

    Always one line: control and format characters in names (and other text
    from upstream) are shown as U+FFFD, so a team name cannot forge a line or
    send terminal escapes.

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
    match status:
        case PaidBilling():
            return _paid_line(status)
        case FreeBilling():
            return _free_line(status.remaining, status.total)
        case TeamPickNeededBilling():
            return _needs_pick_line(status)
        case InvalidPinBilling():
            return _invalid_pin_line(status)
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
    base = (web_app_url or "").strip().rstrip("/")
    if not base or not team_slug or team_slug in _DOT_SEGMENTS:
        return None
    # quote() encodes "%" too, so no other slug can turn into a dot segment.
    return f"{base}/settings/{quote(team_slug, safe='')}/billing"
