"""Pure resolution: who pays for the next request, decided once from plain data.

Nothing here does I/O, reads a clock or keeps state. Every view (status line,
tone, funds guard, team picker) takes what these functions return and never
re-derives who pays.

>>> acme = BillingUsage(
...     organization_id="org-1", organization_name="Acme", organization_status="active",
...     limit=20_000, add_on_remaining=0, total_limit=20_000, used=7_600, remaining=12_400,
...     percent_used=38.0, limit_exceeded=False, tier="PRO")
>>> build_status_billing(active_provider="byterover", is_authenticated=True, usages=[acme])
PaidBilling(organization_id='org-1', organization_name='Acme', remaining=12400, total=20000, \
tier='PRO', limit_exceeded=False)
>>> build_status_billing(active_provider="byterover", is_authenticated=True, usages=[acme],
...                      pinned_team_id="org-9")
InvalidPinBilling(organization_id='org-9', reason='not-a-member', organization_name=None)

Duplicate organisations: upstream should list each organisation once. When an
organisation that matters to the answer (the pinned one, or a paid one when
nothing is pinned) appears more than once, identical entries are read as one
and conflicting entries raise :class:`~billing_core.errors.BillingPayloadError`:
picking one of them would make the answer depend on the order of the list, and
merging them would invent numbers nobody reported.

Organisations with an empty id follow the same idea. Such an organisation
can never be pinned (an empty pin is no pin) nor billed (a paid status names
its organisation), so it matters only when it is paid and nothing is pinned:
then it would be one more paid team, and whether it counts decides who pays,
so that raises :class:`~billing_core.errors.BillingPayloadError`. Everywhere
else it is left out: it is not a pick candidate, not a picker row, not a
predicted payer.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import Final, Literal, TypeAlias, TypeVar

from attrs import Attribute, field, frozen

from billing_core.errors import BillingPayloadError
from billing_core.models import (
    FREE_TIER,
    BillingUsage,
    FreeBilling,
    FreeUserLimit,
    InvalidPinBilling,
    OrganizationTier,
    OtherProviderBilling,
    PaidBilling,
    RawUsage,
    StatusBilling,
    Team,
    TeamPickNeededBilling,
)

__all__ = [
    "BYTEROVER_PROVIDER",
    "TeamChoice",
    "TeamChoiceReason",
    "build_status_billing",
    "build_status_without_tiers",
    "compute_team_preselection",
    "has_paid_team",
    "join_usages_with_tiers",
    "paid_organization_ids",
    "resolve_billing_team_id",
    "team_choices",
]

BYTEROVER_PROVIDER: Final = "byterover"
"""The only active provider whose requests are billed in credits."""

TeamChoiceReason: TypeAlias = Literal["free-tier", "no-usage"]
"""Why a team cannot be picked: it is on the FREE tier, or billing reported no usage for it."""


def _ids(ids: Iterable[str], *, name: str) -> Set[str]:
    # A bare string is iterable (of characters): almost always a caller's slip.
    if isinstance(ids, str):
        raise TypeError(f"{name} must be a collection of ids, not a string")
    return ids if isinstance(ids, Set) else frozenset(ids)


def resolve_billing_team_id(
    *, paid_organization_ids: Iterable[str], pinned_team_id: str | None = None
) -> str | None:
    """Predict the team the billing server charges.

    A non-empty pin wins, even a stale one (the server decides what it accepts);
    otherwise the only paid organisation when there is exactly one (duplicate ids
    count once); otherwise ``None``. An empty id counts as a paid organisation
    but is never the answer (it cannot be billed): ``None`` then.

    >>> resolve_billing_team_id(paid_organization_ids=["org-1"])
    'org-1'
    >>> resolve_billing_team_id(paid_organization_ids=["org-1", "org-2"]) is None
    True
    >>> resolve_billing_team_id(paid_organization_ids=["org-1"], pinned_team_id="org-7")
    'org-7'
    """
    paid = _ids(paid_organization_ids, name="paid_organization_ids")
    if pinned_team_id:
        return pinned_team_id
    if len(paid) == 1:
        return next(iter(paid)) or None
    return None


def paid_organization_ids(usages: Iterable[BillingUsage]) -> frozenset[str]:
    """The ids of the paid organisations among ``usages``, as a set.

    A set because only membership and count matter to resolution, and a set
    cannot make an answer depend on the order of the usages.

    >>> paid_organization_ids([]) == frozenset()
    True
    """
    return frozenset(u.organization_id for u in usages if u.is_paid)


def has_paid_team(usages: Iterable[BillingUsage]) -> bool:
    """Whether any of ``usages`` is on a paid tier (any tier but ``FREE``).

    >>> has_paid_team([])
    False
    """
    return any(u.is_paid for u in usages)


def join_usages_with_tiers(
    raw_usages: Iterable[RawUsage], tiers: Iterable[OrganizationTier]
) -> tuple[BillingUsage, ...]:
    """Join each raw usage with the tier entry of the same organisation.

    An organisation with no tier entry is ``FREE`` and not trialing. The result
    keeps the order of ``raw_usages``. Two tier entries for one organisation
    that disagree raise :class:`~billing_core.errors.BillingPayloadError`
    (identical repeats are harmless). An empty id is joined like any other:
    two tier entries with an empty id that disagree are such a conflict too,
    since which usage each belongs to cannot be told.

    >>> raw = RawUsage(
    ...     organization_id="org-1", organization_name="Acme", organization_status="active",
    ...     limit=100, add_on_remaining=0, total_limit=100, used=0, remaining=100,
    ...     percent_used=0, limit_exceeded=False)
    >>> [u.tier for u in join_usages_with_tiers([raw], [])]
    ['FREE']
    >>> [u.tier for u in join_usages_with_tiers(
    ...     [raw], [OrganizationTier(organization_id="org-1", tier="PRO")])]
    ['PRO']
    """
    by_id = _by_organization_id(tiers, path="tiers", entry="tier")
    joined = []
    for raw in raw_usages:
        entry_or_none = by_id.get(raw.organization_id)
        if entry_or_none is None:
            joined.append(raw.with_tier())
        else:
            joined.append(raw.with_tier(entry_or_none.tier, is_trialing=entry_or_none.is_trialing))
    return tuple(joined)


_Entry = TypeVar("_Entry", BillingUsage, OrganizationTier)


_ANONYMOUS_PAYER: Final = (
    "an organization on a paid tier has an empty id: it can be neither billed nor pinned,"
    " and counting it or not changes who pays"
)


def _by_organization_id(
    items: Iterable[_Entry], *, path: str, entry: str, refuse_empty_ids: bool = False
) -> dict[str, _Entry]:
    """``items`` by organisation id, in first-seen order: the one rule for duplicates.

    Identical repeats are one entry; repeats that disagree raise
    :class:`~billing_core.errors.BillingPayloadError` naming ``path`` (the
    payload list) and the organisation, since keeping either would make the
    answer depend on the order of the list. With ``refuse_empty_ids``, an
    entry with an empty id raises too (only paid usages ask for it).
    """
    by_id: dict[str, _Entry] = {}
    for item in items:
        if refuse_empty_ids and not item.organization_id:
            raise BillingPayloadError(_ANONYMOUS_PAYER, path=path)
        known = by_id.setdefault(item.organization_id, item)
        if known is not item and known != item:
            raise BillingPayloadError(
                f"conflicting {entry} entries for organization {item.organization_id!r}",
                path=path,
            )
    return by_id


def _as_paid_billing(usage: BillingUsage | RawUsage, *, tier: str | None) -> PaidBilling:
    return PaidBilling(
        organization_id=usage.organization_id,
        # An empty name is no name: views then show the id instead.
        organization_name=usage.organization_name or None,
        remaining=usage.remaining,
        total=usage.total_limit,
        tier=tier,
        limit_exceeded=usage.limit_exceeded,
    )


def build_status_billing(
    *,
    active_provider: str | None,
    is_authenticated: bool,
    usages: Iterable[BillingUsage] = (),
    pinned_team_id: str | None = None,
    free_user_limit: FreeUserLimit | None = None,
) -> StatusBilling | None:
    """Decide who pays for the next request, by the rules below in their order.

    ``usages`` are all of the user's organisations, free ones included, joined
    with their tiers. The answer never depends on their order. In order:

    1. not authenticated: ``None``;
    2. another provider: :class:`OtherProviderBilling` (an empty or missing
       provider name is absent);
    3. a non-empty pin decides the organisation: :class:`PaidBilling` when it is
       a paid organisation of the user, else :class:`InvalidPinBilling`
       (``free-tier`` or ``not-a-member``);
    4. no pin and exactly one paid organisation: :class:`PaidBilling` for it;
    5. no pin and two or more: :class:`TeamPickNeededBilling` listing every
       paid organisation, with the monthly free numbers;
    6. no pin and no paid organisation: :class:`FreeBilling` with the monthly
       free numbers (absent when ``free_user_limit`` is ``None``).

    A paid status carries its usage's ``limit_exceeded``; free and pick-needed
    statuses are ``limit_exceeded`` when the free limit's flag or its monthly
    window's flag is set. A paid organisation with an empty id, when nothing
    is pinned, raises :class:`~billing_core.errors.BillingPayloadError` (see
    the module's note); with a pin, or on the FREE tier, it is ignored.

    The work is one pass over ``usages``; only the returned objects are built.

    >>> build_status_billing(active_provider="openai", is_authenticated=True)
    OtherProviderBilling(active_provider='openai')
    >>> build_status_billing(active_provider="byterover", is_authenticated=False) is None
    True
    >>> build_status_billing(active_provider="byterover", is_authenticated=True)
    FreeBilling(remaining=None, total=None, limit_exceeded=False)
    """
    if not is_authenticated:
        return None
    if active_provider != BYTEROVER_PROVIDER:
        return OtherProviderBilling(active_provider=active_provider or None)

    if pinned_team_id:
        # The pin decides: only its own entries matter, whatever the rest says.
        matches = [u for u in usages if u.organization_id == pinned_team_id]
        if not matches:
            return InvalidPinBilling(organization_id=pinned_team_id, reason="not-a-member")
        pinned = _by_organization_id(matches, path="usages", entry="usage")[pinned_team_id]
        if not pinned.is_paid:
            return InvalidPinBilling(
                organization_id=pinned_team_id,
                reason="free-tier",
                organization_name=pinned.organization_name or None,
            )
        return _as_paid_billing(pinned, tier=pinned.tier)

    # Inline tier test, not u.is_paid: two calls per usage make the 100k bench 5x slower.
    paid = _by_organization_id(
        [u for u in usages if u.tier != FREE_TIER],
        path="usages",
        entry="usage",
        refuse_empty_ids=True,
    )
    team_id = resolve_billing_team_id(paid_organization_ids=paid.keys())
    if team_id is not None:
        return _as_paid_billing(paid[team_id], tier=paid[team_id].tier)

    remaining, total, limit_exceeded = _free_numbers(free_user_limit)
    if paid:
        return TeamPickNeededBilling(
            candidates=[_as_paid_billing(u, tier=u.tier) for u in paid.values()],
            remaining=remaining,
            total=total,
            limit_exceeded=limit_exceeded,
        )
    return FreeBilling(remaining=remaining, total=total, limit_exceeded=limit_exceeded)


def build_status_without_tiers(
    *, raw_usages: Iterable[RawUsage], pinned_team_id: str | None
) -> PaidBilling | None:
    """What can still be said when the tiers could not be loaded: the pinned
    team, as :class:`PaidBilling` without its tier, or ``None``.

    Without tiers nobody can tell which teams are paid, so only a non-empty
    pin among ``raw_usages`` gives an answer (the server decides whether it
    accepts it). Reading every organisation as ``FREE`` instead would be a lie:
    paid and needs-pick users would be told they use free credits. ``None``
    when there is no pin, when the pin is not among the usages, and when the
    pinned organisation is listed more than once with different values (which
    entry is true cannot be told). Identical repeats count once.

    Whenever :func:`build_status_billing` would bill the pinned team, its answer
    is this one plus the tier.

    >>> raw = RawUsage(
    ...     organization_id="org-1", organization_name="Acme", organization_status="active",
    ...     limit=100, add_on_remaining=0, total_limit=100, used=40, remaining=60,
    ...     percent_used=40, limit_exceeded=False)
    >>> build_status_without_tiers(raw_usages=[raw], pinned_team_id="org-1")
    PaidBilling(organization_id='org-1', organization_name='Acme', remaining=60, total=100, \
tier=None, limit_exceeded=False)
    >>> build_status_without_tiers(raw_usages=[raw], pinned_team_id=None) is None
    True
    """
    if not pinned_team_id:
        return None
    pinned = {u for u in raw_usages if u.organization_id == pinned_team_id}
    if len(pinned) != 1:
        return None
    (usage,) = pinned
    return _as_paid_billing(usage, tier=None)


def _free_numbers(free_user_limit: FreeUserLimit | None) -> tuple[int | None, int | None, bool]:
    """The free credits as statuses show them: the monthly window's remaining and
    limit, and whether upstream says they are over their limit.

    The limit counts as exceeded when the free limit's own flag says so
    (upstream's verdict, which may stem from the daily window, whose numbers are
    not shown) or when the monthly window's flag does: either way the server
    refuses requests, and a status showing the monthly numbers must not look
    fine. The daily window's flag alone is left to upstream's verdict.
    """
    if free_user_limit is None:
        return None, None, False
    monthly = free_user_limit.monthly
    exceeded = free_user_limit.limit_exceeded or monthly.limit_exceeded
    return monthly.remaining, monthly.limit, exceeded


def compute_team_preselection(
    *,
    teams: Iterable[Team],
    paid_organization_ids: Iterable[str],
    pinned_team_id: str | None = None,
    workspace_team_id: str | None = None,
) -> str | None:
    """The team a picker highlights before the user confirms (nothing is written).

    The pin if it is a paid team in ``teams``; else the only paid team in
    ``teams``; else the workspace team if it is a paid team in ``teams``; else
    ``None``. The answer is always ``None`` or the id of a paid team in ``teams``.

    >>> acme = Team(id="org-1", name="acme", display_name="Acme", slug="acme")
    >>> beta = Team(id="org-2", name="beta", display_name="Beta", slug="beta")
    >>> compute_team_preselection(teams=[acme, beta], paid_organization_ids=["org-2"])
    'org-2'
    >>> compute_team_preselection(
    ...     teams=[acme, beta], paid_organization_ids=["org-1", "org-2"], pinned_team_id="org-1")
    'org-1'
    """
    paid = _ids(paid_organization_ids, name="paid_organization_ids")
    paid_in_teams = {team.id for team in teams if team.id in paid}
    if pinned_team_id and pinned_team_id in paid_in_teams:
        return pinned_team_id
    if len(paid_in_teams) == 1:
        return next(iter(paid_in_teams))
    if workspace_team_id and workspace_team_id in paid_in_teams:
        return workspace_team_id
    return None


@frozen(kw_only=True)
class TeamChoice:
    """One row of a team picker: a team, its usage if billing knows it, and whether
    it can be picked.

    ``tier``, ``selectable`` and ``reason`` are read from ``usage``, so they
    cannot disagree with it: a team is selectable exactly when its usage is
    known and on a paid tier; ``reason`` says why not (``"free-tier"`` or
    ``"no-usage"``) and is ``None`` for selectable rows.

    >>> team = Team(id="org-1", name="acme", display_name="Acme", slug="acme")
    >>> choice = TeamChoice(team=team, usage=None)
    >>> choice.selectable, choice.reason, choice.tier
    (False, 'no-usage', None)
    """

    team: Team = field()
    usage: BillingUsage | None = field(default=None)
    is_pinned: bool = field(default=False)

    @team.validator
    def _check_team(self, attribute: Attribute[Team], value: Team) -> None:
        if type(value) is not Team:
            raise TypeError(f"team must be a Team, not {type(value).__name__}")

    @usage.validator
    def _check_usage(self, attribute: Attribute[BillingUsage | None], value: object) -> None:
        if value is None:
            return
        if type(value) is not BillingUsage:
            raise TypeError(f"usage must be a BillingUsage or None, not {type(value).__name__}")
        if value.organization_id != self.team.id:
            raise ValueError(
                f"usage is for organization {value.organization_id!r}, not team {self.team.id!r}"
            )

    @is_pinned.validator
    def _check_is_pinned(self, attribute: Attribute[bool], value: object) -> None:
        if type(value) is not bool:
            raise TypeError(f"is_pinned must be a bool, not {type(value).__name__}")

    @property
    def tier(self) -> str | None:
        """The team's tier, or ``None`` when billing reported no usage for it."""
        return None if self.usage is None else self.usage.tier

    @property
    def selectable(self) -> bool:
        """Whether the team can be pinned: its usage is known and on a paid tier."""
        return self.usage is not None and self.usage.is_paid

    @property
    def reason(self) -> TeamChoiceReason | None:
        """Why the team cannot be picked, or ``None`` when it can."""
        if self.usage is None:
            return "no-usage"
        if not self.usage.is_paid:
            return "free-tier"
        return None


def team_choices(
    *,
    teams: Iterable[Team],
    usages: Iterable[BillingUsage],
    pinned_team_id: str | None = None,
) -> tuple[TeamChoice, ...]:
    """One picker row per team, in the order of ``teams``.

    Free-tier teams and teams billing reported no usage for are not
    selectable; exactly the rows of the pinned team (if any) are marked pinned,
    selectable or not, so a picker can show a stale or free-tier pin. Conflicting
    usages for one organisation raise
    :class:`~billing_core.errors.BillingPayloadError`; usages with an empty id
    belong to no team and are left out.

    >>> team = Team(id="org-1", name="acme", display_name="Acme", slug="acme")
    >>> [(c.team.id, c.selectable, c.reason, c.is_pinned)
    ...  for c in team_choices(teams=[team], usages=[], pinned_team_id="org-1")]
    [('org-1', False, 'no-usage', True)]
    """
    by_id = _by_organization_id(
        (u for u in usages if u.organization_id), path="usages", entry="usage"
    )
    return tuple(
        TeamChoice(
            team=team,
            usage=by_id.get(team.id),
            is_pinned=bool(pinned_team_id) and team.id == pinned_team_id,
        )
        for team in teams
    )
