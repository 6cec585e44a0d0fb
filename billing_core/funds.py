"""The funds guard: refuse a request the resolved payer cannot cover, and say why.

Pure: it reads the ``StatusBilling`` it is given (and, for better advice, the
user's usages and teams) and either returns ``None`` or raises. Unknown billing
(``None``) is refused unless the caller says to allow it. The commands and the
top-up link its messages cite come from a
:class:`~billing_core.presentation.CommandHints`.

>>> ensure_billing_funds(FreeBilling(remaining=10, total=1_000)) is None
True
>>> ensure_billing_funds(FreeBilling(remaining=0, total=1_000))
Traceback (most recent call last):
  ...
billing_core.errors.InsufficientCreditsError: Your personal free credits are used up \
(0 of 1,000 left this month). Upgrade to a paid plan to keep going.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal, TypeAlias, TypeVar, overload

from billing_core._labels import (
    invalid_pin_label,
    invalid_pin_reason,
    organization_label,
    team_listing,
)
from billing_core.errors import (
    BillingConfigError,
    BillingUnknownError,
    InsufficientCreditsError,
    InvalidPinError,
)
from billing_core.models import (
    BillingUsage,
    FreeBilling,
    InvalidPinBilling,
    OtherProviderBilling,
    PaidBilling,
    StatusBilling,
    Team,
    TeamPickNeededBilling,
    unhandled_status,
)
from billing_core.presentation import (
    DEFAULT_COMMAND_HINTS,
    CommandHints,
    _check_hints,
    _code,
    build_top_up_url,
)

__all__ = ["WhenUnknown", "ensure_billing_funds", "is_billing_exhausted"]


def is_billing_exhausted(status: StatusBilling | None) -> bool:
    """Whether the payer of ``status`` cannot pay: remaining known and at most 0,
    or the limit exceeded, for a free, paid or pick-needed status.

    Never for another provider, for ``None`` (not signed in or unknown) or for
    numbers that are absent (unless the limit is exceeded). An invalid pin is
    not *exhausted*, it is invalid: :func:`ensure_billing_funds` refuses it
    separately.

    Deliberately wider than "remaining present and at most 0": the server
    refuses requests while upstream says the limit is exceeded (``limit_exceeded``),
    whatever ``remaining`` says, and :func:`billing_core.billing_tone` is
    ``danger`` then; exhaustion and the ``danger`` tone are one rule.

    >>> is_billing_exhausted(PaidBilling(organization_id="org-1", remaining=0))
    True
    >>> is_billing_exhausted(PaidBilling(organization_id="org-1"))
    False
    >>> is_billing_exhausted(PaidBilling(organization_id="org-1", remaining=9, limit_exceeded=True))
    True
    """
    match status:
        case FreeBilling() | PaidBilling() | TeamPickNeededBilling():
            return status.limit_exceeded or (status.remaining is not None and status.remaining <= 0)
        case None | OtherProviderBilling() | InvalidPinBilling():
            return False
        case _:
            raise unhandled_status(status)


def _label(team: BillingUsage | PaidBilling) -> str:
    return organization_label(
        organization_id=team.organization_id, organization_name=team.organization_name
    )


_T = TypeVar("_T", BillingUsage, PaidBilling)


def _most_remaining_first(teams: Iterable[_T]) -> list[_T]:
    # Unknown remaining counts as none; name and id break ties so the advice
    # does not depend on the input order.
    return sorted(
        teams,
        key=lambda t: (-(t.remaining or 0), _label(t).casefold(), t.organization_id),
    )


def _credits(n: int) -> str:
    return f"{n:,} credits"


def _paid_teams_with_credits(
    usages: Iterable[BillingUsage], *, excluding: str | None = None
) -> list[BillingUsage]:
    """The paid teams a request could be billed to: credits left, limit not exceeded.

    Duplicates follow resolution's rule, as far as advice can: identical repeats
    are one team; a team listed with different values is left out, since either
    figure could be the lie. (Raising, as resolution does, would hide the
    refusal this advice only completes.) An organisation with an empty id
    cannot be pinned, so it is never offered.
    """
    by_id: dict[str, BillingUsage | None] = {}
    for u in usages:
        if u.is_paid and u.organization_id and u.organization_id != excluding:
            known = by_id.setdefault(u.organization_id, u)
            if known is not u and known != u:
                by_id[u.organization_id] = None
    return _most_remaining_first(
        u for u in by_id.values() if u is not None and u.remaining > 0 and not u.limit_exceeded
    )


def _listing(usages: Iterable[BillingUsage]) -> str:
    return team_listing((_label(u), _credits(u.remaining)) for u in usages)


def _used_up(remaining: int | None) -> bool:
    # Exhausted with credits left (or unknown) means the limit is exceeded.
    return remaining is not None and remaining <= 0


def _free_exhausted(status: FreeBilling) -> InsufficientCreditsError:
    if _used_up(status.remaining):
        left = f" (0 of {status.total:,} left this month)" if status.total is not None else ""
        why = f"are used up{left}"
    else:
        why = "are over their usage limit"
    return InsufficientCreditsError(
        f"Your personal free credits {why}. Upgrade to a paid plan to keep going."
    )


def _top_up_url(
    organization_id: str, *, teams: Iterable[Team], web_app_url: str | None
) -> str | None:
    """The payer's top-up page: its team (the first listed with that id) must
    have a slug, and the web app must be known."""
    if web_app_url is None:
        return None
    team = next((t for t in teams if t.id == organization_id), None)
    if team is None:
        return None
    return build_top_up_url(web_app_url=web_app_url, team_slug=team.slug)


def _paid_exhausted(
    status: PaidBilling,
    usages: Iterable[BillingUsage],
    *,
    hints: CommandHints,
    teams: Iterable[Team],
) -> InsufficientCreditsError:
    label = _label(status)
    why = "has no credits left" if _used_up(status.remaining) else "is over its credit limit"
    others = _paid_teams_with_credits(usages, excluding=status.organization_id)
    url = _top_up_url(status.organization_id, teams=teams, web_app_url=hints.web_app_url)
    # The link ends the message, with nothing after it that a terminal could
    # take for part of the URL.
    if not others:
        if url is None:
            return InsufficientCreditsError(
                f"{label} {why}. Top up {label}'s credits to keep going."
            )
        return InsufficientCreditsError(
            f"{label} {why}. Top up {label}'s credits to keep going: {url}"
        )
    pin = f"Paid teams with credits: {_listing(others)}. Pin one with {_code(hints.pin_team)}"
    if url is None:
        return InsufficientCreditsError(f"{label} {why}. {pin}.")
    return InsufficientCreditsError(f"{label} {why}. {pin}, or top up {label}'s credits: {url}")


def _candidate_entry(candidate: PaidBilling) -> tuple[str, str | None]:
    notes = [_credits(candidate.remaining)] if candidate.remaining is not None else []
    if candidate.limit_exceeded:
        notes.append("limit exceeded")
    return _label(candidate), ", ".join(notes) or None


def _pick_needed_exhausted(
    status: TeamPickNeededBilling, *, hints: CommandHints
) -> InsufficientCreditsError:
    listing = team_listing(_candidate_entry(c) for c in _most_remaining_first(status.candidates))
    why = "are used up" if _used_up(status.remaining) else "are over their usage limit"
    return InsufficientCreditsError(
        f"Your personal free credits {why} and no billing team is pinned. "
        f"Pick one of your paid teams ({listing}) with {_code(hints.pin_team)}."
    )


def _invalid_pin(
    status: InvalidPinBilling, usages: Iterable[BillingUsage], *, hints: CommandHints
) -> InvalidPinError:
    paid = _paid_teams_with_credits(usages)
    choices = f" Paid teams with credits: {_listing(paid)}." if paid else ""
    return InvalidPinError(
        f"The pinned team {invalid_pin_label(status)} {invalid_pin_reason(status)}.{choices} "
        f"Pin a paid team with {_code(hints.pin_team)}."
    )


WhenUnknown: TypeAlias = Literal["allow", "refuse"]
"""What :func:`ensure_billing_funds` does when billing is unknown (``None``)."""

_WHEN_UNKNOWN: Final = frozenset({"allow", "refuse"})


def _unknown(*, hints: CommandHints) -> BillingUnknownError:
    return BillingUnknownError(
        "Who pays for the next request is unknown (not signed in, or billing could not be "
        f"resolved). Sign in with {_code(hints.sign_in)}, or try again once billing answers."
    )


@overload
def ensure_billing_funds(
    status: StatusBilling,
    *,
    usages: Iterable[BillingUsage] = (),
    when_unknown: WhenUnknown = "refuse",
    hints: CommandHints = DEFAULT_COMMAND_HINTS,
    teams: Iterable[Team] = (),
) -> None: ...


@overload
def ensure_billing_funds(
    status: StatusBilling | None,
    *,
    usages: Iterable[BillingUsage] = (),
    when_unknown: WhenUnknown,
    hints: CommandHints = DEFAULT_COMMAND_HINTS,
    teams: Iterable[Team] = (),
) -> None: ...


def ensure_billing_funds(
    status: StatusBilling | None,
    *,
    usages: Iterable[BillingUsage] = (),
    when_unknown: WhenUnknown = "refuse",
    hints: CommandHints = DEFAULT_COMMAND_HINTS,
    teams: Iterable[Team] = (),
) -> None:
    """Raise when the next request cannot be paid for; return ``None`` otherwise.

    Exhausted means no credits left or the limit exceeded (see
    :func:`is_billing_exhausted`).

    - exhausted free credits: :class:`InsufficientCreditsError` telling the user
      to upgrade;
    - an exhausted paid team: :class:`InsufficientCreditsError` listing the
      user's *other* paid teams that still have credits and are not over their
      limit (from ``usages``), most remaining first, and how to pin one; and,
      when ``hints.web_app_url`` is known and the team is among ``teams``
      (``team.id == organization_id``) with a slug, its top-up link (see
      :func:`~billing_core.presentation.build_top_up_url`);
    - exhausted free credits while a team must be picked:
      :class:`InsufficientCreditsError` listing the paid teams to pick;
    - an invalid pin: :class:`InvalidPinError` telling the user to pin a paid
      team (listing the paid teams with credits found in ``usages``);
    - unknown billing, ``None`` (what a signed-out user or an outage
      resolves to: nobody knows who would pay): :class:`BillingUnknownError`
      unless ``when_unknown="allow"``.

    A status that may be ``None`` must say what to do with it: ``mypy``
    rejects ``ensure_billing_funds(status)`` for a ``StatusBilling | None``
    without ``when_unknown``, and at run time the default is ``"refuse"``.
    Another provider and a known payer without numbers pass: the guard
    refuses what it knows cannot be paid (or cannot tell who would pay),
    and leaves the rest to the server. A ``when_unknown`` other than
    ``"allow"`` or ``"refuse"`` raises :class:`BillingConfigError`.

    The commands the messages cite (to pin a team, to sign in) are those of
    ``hints``; ``teams`` (the user's teams, read only for an exhausted paid
    team) gives the payer's slug for its top-up link. Without a web app URL or
    that team, the message has no link.

    >>> from billing_core.presentation import CommandHints
    >>> ensure_billing_funds(
    ...     PaidBilling(organization_id="org-1", organization_name="Acme", remaining=0),
    ...     hints=CommandHints(web_app_url="https://app.example.com"),
    ...     teams=[Team(id="org-1", name="acme", display_name="Acme", slug="acme")])
    Traceback (most recent call last):
      ...
    billing_core.errors.InsufficientCreditsError: Acme has no credits left. \
Top up Acme's credits to keep going: https://app.example.com/settings/acme/billing

    >>> ensure_billing_funds(InvalidPinBilling(organization_id="org-9", reason="not-a-member"))
    Traceback (most recent call last):
      ...
    billing_core.errors.InvalidPinError: The pinned team org-9 is not one of your teams. \
Pin a paid team with `billing-core pin TEAM`.
    >>> ensure_billing_funds(None, when_unknown="refuse")
    Traceback (most recent call last):
      ...
    billing_core.errors.BillingUnknownError: Who pays for the next request is unknown \
(not signed in, or billing could not be resolved). Sign in with `brv login`, or try again once \
billing answers.
    >>> ensure_billing_funds(None, when_unknown="allow") is None
    True
    """
    if when_unknown not in _WHEN_UNKNOWN:
        raise BillingConfigError(f"when_unknown must be 'allow' or 'refuse', not {when_unknown!r}")
    _check_hints(hints)
    match status:
        case InvalidPinBilling():
            raise _invalid_pin(status, usages, hints=hints)
        case FreeBilling():
            if is_billing_exhausted(status):
                raise _free_exhausted(status)
        case PaidBilling():
            if is_billing_exhausted(status):
                raise _paid_exhausted(status, usages, hints=hints, teams=teams)
        case TeamPickNeededBilling():
            if is_billing_exhausted(status):
                raise _pick_needed_exhausted(status, hints=hints)
        case None:
            if when_unknown == "refuse":
                raise _unknown(hints=hints)
        case OtherProviderBilling():
            pass  # not billed in credits: nothing to guard
        case _:
            raise unhandled_status(status)
