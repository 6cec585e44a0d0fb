"""Immutable domain models, and the ``StatusBilling`` union: who pays for the next request.

The models are usages, tiers, free-credit windows and teams. Every class is a
frozen, slotted, hashable attrs class whose constructor checks its fields: a
bad value raises ``TypeError`` or ``ValueError`` naming the field. Attribute
names are snake_case; the camelCase wire format lives in :mod:`billing_core.wire`.

>>> PaidBilling(organization_id="org-1", remaining=12_400, total=20_000, tier="PRO").source
'paid'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar, Final, Literal, Never, TypeAlias, final, get_args

import attrs
from attrs import field, frozen

__all__ = [
    "FREE_TIER",
    "BillingResolution",
    "BillingUsage",
    "FreeBilling",
    "FreeUserLimit",
    "FreeUserLimitWindow",
    "InvalidPinBilling",
    "InvalidPinReason",
    "OrganizationTier",
    "OtherProviderBilling",
    "PaidBilling",
    "Problem",
    "ProblemPart",
    "RawUsage",
    "StatusBilling",
    "Team",
    "TeamPickNeededBilling",
    "is_paid_tier",
    "unhandled_status",
]

FREE_TIER: Final = "FREE"
"""The one tier that is not paid. Every other tier string, known or not, is paid."""

InvalidPinReason: TypeAlias = Literal["free-tier", "not-a-member"]
ProblemPart: TypeAlias = Literal["usages", "tiers", "free-limit", "pins", "auth"]

_INVALID_PIN_REASONS: Final = frozenset({"free-tier", "not-a-member"})
_PROBLEM_PARTS: Final = frozenset({"usages", "tiers", "free-limit", "pins", "auth"})


def is_paid_tier(tier: str) -> bool:
    """Whether ``tier`` is paid: anything but ``"FREE"``, including unknown tiers
    (the empty string is one).

    >>> is_paid_tier("PRO"), is_paid_tier("ENTERPRISE"), is_paid_tier(""), is_paid_tier("FREE")
    (True, True, True, False)
    """
    return tier != FREE_TIER


# Validators are hand-written rather than attrs.validators.instance_of: they
# reject bools where ints belong (bool is an int subclass) and they are cheap,
# which matters when a payload carries thousands of organisations.


def _str(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not str:
        raise TypeError(f"{attribute.name} must be a string, not {type(value).__name__}")


def _nonempty_str(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not str:
        raise TypeError(f"{attribute.name} must be a string, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{attribute.name} must not be empty")


def _optional_str(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and type(value) is not str:
        raise TypeError(f"{attribute.name} must be a string or None, not {type(value).__name__}")


def _int(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int:
        raise TypeError(f"{attribute.name} must be an int, not {type(value).__name__}")


def _optional_int(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and type(value) is not int:
        raise TypeError(f"{attribute.name} must be an int or None, not {type(value).__name__}")


def _bool(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not bool:
        raise TypeError(f"{attribute.name} must be a bool, not {type(value).__name__}")


def _percent(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    kind = type(value)
    if kind is not int and kind is not float:
        raise TypeError(f"{attribute.name} must be a number, not {kind.__name__}")
    if kind is float and not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be a finite number, not {value!r}")


@frozen(kw_only=True)
class OrganizationTier:
    """The subscription tier of one organisation, as ``/billing/organizations/tiers`` says.

    Any string is a tier: the empty one too is an unknown tier, hence paid.
    An empty ``organization_id`` is accepted as upstream sent it (see
    :class:`RawUsage`).
    """

    organization_id: str = field(validator=_str)
    tier: str = field(validator=_str)
    is_trialing: bool = field(default=False, validator=_bool)

    @property
    def is_paid(self) -> bool:
        """Whether the tier is paid (anything but ``FREE``)."""
        return is_paid_tier(self.tier)


@frozen(kw_only=True)
class RawUsage:
    """One organisation's credit usage before the tier join (``/billing/usages``).

    ``total_limit`` is ``limit + add_on_remaining``; ``percent_used`` is 0-100.
    An empty ``organization_id`` is accepted, so that one odd entry does not
    reject the whole payload; such an organisation can never be pinned or
    billed, and resolution refuses to guess only when it would decide who pays.
    """

    organization_id: str = field(validator=_str)
    organization_name: str = field(validator=_str)
    organization_status: str = field(validator=_str)
    limit: int = field(validator=_int)
    add_on_remaining: int = field(validator=_int)
    total_limit: int = field(validator=_int)
    used: int = field(validator=_int)
    remaining: int = field(validator=_int)
    percent_used: float = field(validator=_percent)
    limit_exceeded: bool = field(validator=_bool)

    def with_tier(self, tier: str = FREE_TIER, *, is_trialing: bool = False) -> BillingUsage:
        """This usage joined with its tier."""
        return BillingUsage(
            organization_id=self.organization_id,
            organization_name=self.organization_name,
            organization_status=self.organization_status,
            limit=self.limit,
            add_on_remaining=self.add_on_remaining,
            total_limit=self.total_limit,
            used=self.used,
            remaining=self.remaining,
            percent_used=self.percent_used,
            limit_exceeded=self.limit_exceeded,
            tier=tier,
            is_trialing=is_trialing,
        )


@frozen(kw_only=True)
class BillingUsage:
    """One organisation's usage joined with its tier: the input of resolution.

    As in :class:`RawUsage`, ``organization_id`` may be empty; ``tier`` is any
    string, the empty one an unknown (paid) tier.
    """

    organization_id: str = field(validator=_str)
    organization_name: str = field(validator=_str)
    organization_status: str = field(validator=_str)
    limit: int = field(validator=_int)
    add_on_remaining: int = field(validator=_int)
    total_limit: int = field(validator=_int)
    used: int = field(validator=_int)
    remaining: int = field(validator=_int)
    percent_used: float = field(validator=_percent)
    limit_exceeded: bool = field(validator=_bool)
    tier: str = field(default=FREE_TIER, validator=_str)
    is_trialing: bool = field(default=False, validator=_bool)

    @property
    def is_paid(self) -> bool:
        """Whether this organisation's tier is paid (anything but ``FREE``)."""
        return is_paid_tier(self.tier)

    def without_tier(self) -> RawUsage:
        """This usage as ``/billing/usages`` reports it, before the tier join.

        The inverse of :meth:`RawUsage.with_tier`:
        ``usage.without_tier().with_tier(usage.tier, is_trialing=usage.is_trialing) == usage``.
        """
        return RawUsage(
            organization_id=self.organization_id,
            organization_name=self.organization_name,
            organization_status=self.organization_status,
            limit=self.limit,
            add_on_remaining=self.add_on_remaining,
            total_limit=self.total_limit,
            used=self.used,
            remaining=self.remaining,
            percent_used=self.percent_used,
            limit_exceeded=self.limit_exceeded,
        )


@frozen(kw_only=True)
class FreeUserLimitWindow:
    """One window (daily or monthly) of the user's personal free credits."""

    limit: int = field(validator=_int)
    used: int = field(validator=_int)
    remaining: int = field(validator=_int)
    percent_used: float = field(validator=_percent)
    limit_exceeded: bool = field(validator=_bool)


@frozen(kw_only=True)
class FreeUserLimit:
    """The user's personal free credits; status lines show the monthly window."""

    daily: FreeUserLimitWindow = field(validator=attrs.validators.instance_of(FreeUserLimitWindow))
    monthly: FreeUserLimitWindow = field(
        validator=attrs.validators.instance_of(FreeUserLimitWindow)
    )
    limit_exceeded: bool = field(validator=_bool)


@frozen(kw_only=True)
class Team:
    """A team (organisation) the user belongs to. ``slug`` defaults to ``name`` upstream."""

    id: str = field(validator=_nonempty_str)
    name: str = field(validator=_str)
    display_name: str = field(validator=_str)
    slug: str = field(validator=_str)
    avatar_url: str | None = field(default=None, validator=_optional_str)
    is_default: bool = field(default=False, validator=_bool)


# --- StatusBilling: the answer, one variant per situation --------------------
# The variants are final: a dispatch's ``case PaidBilling():`` is then exactly
# "is a PaidBilling", as far as the type checker can tell.


@final
@frozen(kw_only=True)
class OtherProviderBilling:
    """Another LLM provider is active: no credits are involved."""

    source: ClassVar[Literal["other-provider"]] = "other-provider"

    active_provider: str | None = field(default=None, validator=_optional_str)


@final
@frozen(kw_only=True)
class PaidBilling:
    """Requests are billed to this paid team. ``total`` is the team's ``totalLimit``.

    ``limit_exceeded`` is the team usage's ``limitExceeded``: the server refuses
    requests while it is true, whatever ``remaining`` says.
    """

    source: ClassVar[Literal["paid"]] = "paid"

    organization_id: str = field(validator=_nonempty_str)
    organization_name: str | None = field(default=None, validator=_optional_str)
    remaining: int | None = field(default=None, validator=_optional_int)
    total: int | None = field(default=None, validator=_optional_int)
    tier: str | None = field(default=None, validator=_optional_str)
    limit_exceeded: bool = field(default=False, validator=_bool)


@final
@frozen(kw_only=True)
class FreeBilling:
    """Requests use the user's personal free credits (monthly window).

    ``limit_exceeded``: upstream says the free credits are over their limit (the
    :class:`FreeUserLimit`'s own flag or its monthly window's), so the server
    refuses requests whatever ``remaining`` says.
    """

    source: ClassVar[Literal["free"]] = "free"

    remaining: int | None = field(default=None, validator=_optional_int)
    total: int | None = field(default=None, validator=_optional_int)
    limit_exceeded: bool = field(default=False, validator=_bool)


def _candidate_sort_key(candidate: PaidBilling) -> tuple[str, str]:
    """The order of pick candidates: name case-insensitively, then id."""
    return ((candidate.organization_name or "").casefold(), candidate.organization_id)


def _sorted_candidates(candidates: Iterable[PaidBilling]) -> tuple[PaidBilling, ...]:
    if isinstance(candidates, (str, bytes)):
        raise TypeError("candidates must be a sequence of PaidBilling, not a string")
    items = tuple(candidates)
    for item in items:
        if type(item) is not PaidBilling:
            raise TypeError(f"candidates must hold PaidBilling, not {type(item).__name__}")
    ids = [item.organization_id for item in items]
    if len(set(ids)) != len(ids):
        # Two entries for one team: the sort key would tie on them, so the same
        # candidates given in another order would build an unequal value.
        repeated = next(id_ for index, id_ in enumerate(ids) if id_ in ids[:index])
        raise ValueError(f"candidates must list each organization once; {repeated!r} is repeated")
    return tuple(sorted(items, key=_candidate_sort_key))


@final
@frozen(kw_only=True)
class TeamPickNeededBilling:
    """Two or more paid teams and no pin: free credits are charged until the user picks.

    ``candidates`` are kept sorted by name (case-insensitively), then id, whatever
    order they are given in; each team appears once (a repeated organization id
    raises ``ValueError``). ``remaining``, ``total`` and ``limit_exceeded`` are
    the free credits', as in :class:`FreeBilling`; each candidate carries its own.
    """

    source: ClassVar[Literal["needs-pick"]] = "needs-pick"

    candidates: tuple[PaidBilling, ...] = field(converter=_sorted_candidates)
    remaining: int | None = field(default=None, validator=_optional_int)
    total: int | None = field(default=None, validator=_optional_int)
    limit_exceeded: bool = field(default=False, validator=_bool)


def _reason(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not str or value not in _INVALID_PIN_REASONS:
        raise ValueError(f"{attribute.name} must be 'free-tier' or 'not-a-member', not {value!r}")


@final
@frozen(kw_only=True)
class InvalidPinBilling:
    """The pin names a team that cannot be billed; the server will reject requests."""

    source: ClassVar[Literal["invalid-pin"]] = "invalid-pin"

    organization_id: str = field(validator=_nonempty_str)
    reason: InvalidPinReason = field(validator=_reason)
    organization_name: str | None = field(default=None, validator=_optional_str)


StatusBilling: TypeAlias = (
    OtherProviderBilling | PaidBilling | FreeBilling | TeamPickNeededBilling | InvalidPinBilling
)
"""Who pays for the next request: one of five variants, discriminated by ``source``.

A new variant goes into this union and nowhere else in this module; ``mypy``
then names every dispatch that must handle it (see :func:`unhandled_status`).
"""

STATUS_BILLING_VARIANTS: Final[tuple[type[StatusBilling], ...]] = get_args(StatusBilling)
"""The variant classes, in the union's order (derived from it, never listed twice)."""


def unhandled_status(status: Never) -> TypeError:
    """The error for the ``case _:`` of every ``match`` on a ``StatusBilling``:
    ``raise unhandled_status(status)``, the ``typing.assert_never`` of this package.

    Statically, ``mypy`` accepts the call only where every variant (and ``None``,
    where the dispatch takes it) was handled before it: a variant left out is an
    ``arg-type`` error naming it. At run time only an ill-typed caller gets
    there, and gets a ``TypeError`` naming what it passed.

    >>> def source(status: StatusBilling) -> str:
    ...     match status:
    ...         case OtherProviderBilling() | PaidBilling() | FreeBilling():
    ...             return status.source
    ...         case TeamPickNeededBilling() | InvalidPinBilling():
    ...             return status.source
    ...         case _:
    ...             raise unhandled_status(status)
    >>> source(FreeBilling())
    'free'
    >>> source("free")
    Traceback (most recent call last):
      ...
    TypeError: status must be a StatusBilling variant, not str
    """
    return TypeError(f"status must be a StatusBilling variant, not {type(status).__name__}")


# --- the shell's answer -------------------------------------------------------


def _part(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not str or value not in _PROBLEM_PARTS:
        raise ValueError(f"{attribute.name} must be one of {sorted(_PROBLEM_PARTS)}, not {value!r}")


@frozen(kw_only=True)
class Problem:
    """Something that went wrong while resolving, reported instead of raised.

    ``part`` names what failed (``usages``, ``tiers``, ``free-limit``, ``pins``,
    ``auth``); ``message`` is for people and never holds the session key.
    """

    part: ProblemPart = field(validator=_part)
    message: str = field(validator=_str)


def _pinned_team_id(
    instance: BillingResolution, attribute: attrs.Attribute[Any], value: Any
) -> None:
    if value is None:
        return
    _nonempty_str(instance, attribute, value)
    # A non-empty pin decides the payer: the status names it, or is unknown.
    status = instance.status
    if status is None:
        return
    if not isinstance(status, PaidBilling | InvalidPinBilling):
        raise ValueError(
            f"a pinned resolution cannot be a {type(status).__name__}: the pin decides the payer"
        )
    if status.organization_id != value:
        raise ValueError(
            f"the status names {status.organization_id!r}, not the pinned team {value!r}"
        )


@frozen(kw_only=True)
class BillingResolution:
    """What :func:`billing_core.resolve_billing` found: a status (or ``None``) and problems.

    ``pinned_team_id`` is the project's pin as the resolve read it (``None``: no
    pin, none read, or one that could not be read). It is provenance, not
    part of the answer: it does not take part in ``==`` or ``hash``, so two
    resolves giving the same status and problems compare equal. When set,
    the status names that team (a paid or invalid-pin status) or is ``None``.

    >>> BillingResolution(status=PaidBilling(organization_id="org-1"),
    ...                   pinned_team_id="org-1").request_team_id
    'org-1'
    >>> BillingResolution(status=PaidBilling(organization_id="org-1")).request_team_id is None
    True
    """

    status: StatusBilling | None
    problems: tuple[Problem, ...] = field(default=(), converter=tuple[Problem, ...])
    pinned_team_id: str | None = field(default=None, validator=_pinned_team_id, eq=False)

    @property
    def ok(self) -> bool:
        """Whether resolution met no problem at all."""
        return not self.problems

    @property
    def request_team_id(self) -> str | None:
        """The team id each LLM request to the ByteRover provider carries, or
        ``None`` to send none (the field left out, or empty).

        It is the pin, as read, and nothing else, as the reference agent does:

        - an auto-selected payer (one paid team, no pin) is not sent: the
          billing server picks it itself, by the same rule;
        - an invalid pin (a stale or FREE-tier team) is sent all the same: the
          server refuses the request, as :func:`~billing_core.ensure_billing_funds`
          does first; sending nothing would bill a payer the user did not pick;
        - billing unknown (``status`` ``None``, say an outage of the usages)
          still sends a pin that was read, for the same reason;
        - another provider never gets one (its requests are not billed in
          credits), and neither does a signed-out user (no pin is read).

        A pin that could not be read (a ``pins`` problem) is ``None`` too: whoever
        the server picks pays, so a gate should refuse then.
        """
        if isinstance(self.status, OtherProviderBilling):
            return None
        return self.pinned_team_id
