"""The use cases of the shell: resolve who pays, list a team picker's rows, pin a team.

Each use case is written once, as a sans-I/O *plan* (see :mod:`billing_core._plan`):
a generator that yields the primitive port calls it needs, all at once when
they do not depend on each other, receives their typed outcomes and lets the
pure core decide. The drivers of :mod:`billing_core._drive` make the calls, in
threads or in tasks, so the sync and async functions share every decision and
a resolve costs one round trip of wall time, not one per endpoint.

>>> from billing_core.testing import DEFAULT_SESSION_KEY, InMemoryBillingService, InMemoryPinStore
>>> from billing_core.testing.sample import sample_account
>>> resolution = resolve_billing(
...     active_provider="byterover", session_key=DEFAULT_SESSION_KEY,
...     billing=InMemoryBillingService(sample_account()), pins=InMemoryPinStore())
>>> resolution.status.organization_name, resolution.problems
('Acme Corp', ())
"""

from __future__ import annotations

from typing import TypeVar

from attrs import evolve, field, frozen

from billing_core._decide import decide, fixed_resolution, pin_of, shows_free_credits
from billing_core._drive import AsyncPorts, SyncPorts, run_async, run_sync
from billing_core._plan import (
    Calls,
    Fetched,
    Outcome,
    PinWrite,
    Plan,
    asked,
    unwrap,
    winning_error,
)
from billing_core.errors import NotAuthenticatedError
from billing_core.models import (
    BillingResolution,
    BillingUsage,
    Problem,
    Team,
)
from billing_core.ports import (
    AsyncBillingService,
    AsyncTeamService,
    BillingService,
    PinStore,
    TeamService,
)
from billing_core.resolution import (
    BYTEROVER_PROVIDER,
    TeamChoice,
    compute_team_preselection,
    join_usages_with_tiers,
    paid_organization_ids,
    team_choices,
)
from billing_core.teams import team_to_pin as _team_to_pin

__all__ = [
    "TeamPicker",
    "alist_team_choices",
    "apin_billing_team",
    "aresolve_billing",
    "list_team_choices",
    "pin_billing_team",
    "resolve_billing",
]

_T = TypeVar("_T")


# --- public use cases ---------------------------------------------------------


def resolve_billing(
    *,
    active_provider: str | None,
    session_key: str | None,
    billing: BillingService,
    pins: PinStore,
    prefetch_free_limit: bool = True,
) -> BillingResolution:
    """Who pays for the next request, and what went wrong finding out .

    Never raises for upstream or storage failures: they become
    :class:`~billing_core.Problem`\\ s and a degraded (or ``None``) status.

    - No session (``None`` or ``""``): ``status=None`` and no problem; nothing
      is fetched and the pin is not read.
    - Another provider: :class:`~billing_core.OtherProviderBilling`; nothing is
      fetched.
    - Otherwise the pin, the raw usages, the tiers and (with
      ``prefetch_free_limit``) the free credits are fetched concurrently, then
      :func:`~billing_core.build_status_billing` decides. With
      ``prefetch_free_limit=False`` the free credits are fetched only when the
      answer shows them (free or needs-pick): one request fewer for paid
      users, a second round trip for the others. The answer is the same
      either way. The pin read and one request run in the calling thread, the
      other requests at once in a process-wide pool of worker threads.

    Degradation: usages fail: ``status=None``; tiers fail: the pinned team
    without its tier when the pin is among the usages, else ``status=None``;
    free credits fail: free or needs-pick without numbers; the pin store fails
    (or the pin file is corrupt): no pin. A 401/403 anywhere that matters:
    ``status=None`` and an ``auth`` problem.
    """
    plan = _resolution_plan(
        active_provider=active_provider,
        session_key=session_key,
        prefetch_free_limit=prefetch_free_limit,
    )
    return run_sync(plan, SyncPorts(session_key=session_key or "", billing=billing, pins=pins))


async def aresolve_billing(
    *,
    active_provider: str | None,
    session_key: str | None,
    billing: AsyncBillingService,
    pins: PinStore,
    prefetch_free_limit: bool = True,
) -> BillingResolution:
    """The async twin of :func:`resolve_billing`; ``pins`` is read in a worker thread."""
    plan = _resolution_plan(
        active_provider=active_provider,
        session_key=session_key,
        prefetch_free_limit=prefetch_free_limit,
    )
    return await run_async(
        plan, AsyncPorts(session_key=session_key or "", billing=billing, pins=pins)
    )


def pin_billing_team(
    *,
    session_key: str | None,
    query: str | None,
    billing: BillingService,
    teams: TeamService,
    pins: PinStore,
) -> Team | None:
    """Bill the project to the team ``query`` names, or clear the pin when ``query`` is None.

    Needs a session, to clear too (else :class:`~billing_core.NotAuthenticatedError`,
    and the pin is left alone). The teams and usages are fetched concurrently;
    ``query`` is matched with :func:`~billing_core.match_team`
    (:class:`~billing_core.TeamNotFoundError`, :class:`~billing_core.AmbiguousTeamError`);
    a team that is not on a paid tier is refused with
    :class:`~billing_core.InvalidPinError` naming the paid teams. Returns the
    pinned team (``None`` after clearing). Upstream and pin store failures
    raise their typed errors: this is a command.
    """
    ports = SyncPorts(session_key=session_key or "", billing=billing, teams=teams, pins=pins)
    return run_sync(_pin_plan(session_key=session_key, query=query), ports)


async def apin_billing_team(
    *,
    session_key: str | None,
    query: str | None,
    billing: AsyncBillingService,
    teams: AsyncTeamService,
    pins: PinStore,
) -> Team | None:
    """The async twin of :func:`pin_billing_team`; ``pins`` is written in a worker thread."""
    ports = AsyncPorts(session_key=session_key or "", billing=billing, teams=teams, pins=pins)
    return await run_async(_pin_plan(session_key=session_key, query=query), ports)


@frozen(kw_only=True)
class TeamPicker:
    """What a team picker shows (:func:`list_team_choices`).

    ``rows``: one :class:`~billing_core.TeamChoice` per team, in the team
    service's order, the pinned one marked. ``preselected_team_id``: the team
    to highlight, from :func:`~billing_core.compute_team_preselection`
    (``None``, or the id of a selectable row). ``problems``: what went wrong
    reading the pin (part ``pins``); such a pin is shown as no pin.
    """

    rows: tuple[TeamChoice, ...] = field(converter=tuple[TeamChoice, ...])
    preselected_team_id: str | None = None
    problems: tuple[Problem, ...] = field(default=(), converter=tuple[Problem, ...])


def list_team_choices(
    *,
    session_key: str | None,
    billing: BillingService,
    teams: TeamService,
    pins: PinStore,
) -> TeamPicker:
    """The rows of a team picker: every team, its credits and tier, which can be billed.

    Needs a session (else :class:`~billing_core.NotAuthenticatedError`). The
    teams, the usages and the pin are fetched concurrently, as in
    :func:`resolve_billing`. A pin that cannot be read (a corrupt pin file, a
    failing store) is reported in ``problems`` and shown as no pin; teams and
    usages failures raise their typed errors
    (:class:`~billing_core.BillingAuthError` first), as :func:`pin_billing_team`
    does: without them there is nothing to pick from.

    >>> from billing_core.testing import (
    ...     DEFAULT_SESSION_KEY, InMemoryBillingService, InMemoryPinStore, InMemoryTeamService)
    >>> from billing_core.testing.sample import sample_account
    >>> picker = list_team_choices(
    ...     session_key=DEFAULT_SESSION_KEY, billing=InMemoryBillingService(sample_account()),
    ...     teams=InMemoryTeamService(sample_account()), pins=InMemoryPinStore())
    >>> [(row.team.display_name, row.selectable, row.reason) for row in picker.rows]
    [('Acme Corp', True, None), ('Side Project', False, 'free-tier')]
    >>> picker.preselected_team_id == picker.rows[0].team.id
    True
    """
    ports = SyncPorts(session_key=session_key or "", billing=billing, teams=teams, pins=pins)
    return run_sync(_team_picker_plan(session_key=session_key), ports)


async def alist_team_choices(
    *,
    session_key: str | None,
    billing: AsyncBillingService,
    teams: AsyncTeamService,
    pins: PinStore,
) -> TeamPicker:
    """The async twin of :func:`list_team_choices`; ``pins`` is read in a worker thread."""
    ports = AsyncPorts(session_key=session_key or "", billing=billing, teams=teams, pins=pins)
    return await run_async(_team_picker_plan(session_key=session_key), ports)


# --- the resolve plan (its decision is billing_core._decide) ---------------------------


def _resolution_plan(
    *, active_provider: str | None, session_key: str | None, prefetch_free_limit: bool
) -> Plan[BillingResolution]:
    if not session_key or active_provider != BYTEROVER_PROVIDER:
        return fixed_resolution(active_provider=active_provider, session_key=session_key)
    fetched = yield Calls(
        read_pin=True, raw_usages=True, tiers=True, free_limit=prefetch_free_limit
    )
    resolution = decide(fetched, session_key=session_key)
    if fetched.free_limit is None and shows_free_credits(resolution.status):
        more = yield Calls(free_limit=True)
        fetched = evolve(fetched, free_limit=more.free_limit)
        resolution = decide(fetched, session_key=session_key)
    return resolution


def _raise_winning(*outcomes: Outcome[object]) -> None:
    """Raise the failure to act on (:func:`~billing_core._plan.winning_error`), if any."""
    error = winning_error(*outcomes)
    if error is not None:
        raise error


# --- the pin plan ----------------------------------------------------------------------


def _pin_plan(*, session_key: str | None, query: str | None) -> Plan[Team | None]:
    if not session_key:
        raise NotAuthenticatedError("not signed in: sign in to change the billing team")
    team: Team | None = None
    if query is not None:
        fetched = yield Calls(teams=True, raw_usages=True, tiers=True)
        teams, usages = _teams_and_usages(fetched)
        team = _team_to_pin(query=query, teams=teams, usages=usages)
    written = yield Calls(write_pin=PinWrite(None if team is None else team.id))
    unwrap(asked(written.pin_written))
    return team


def _teams_and_usages(fetched: Fetched) -> tuple[tuple[Team, ...], tuple[BillingUsage, ...]]:
    """The teams and the joined usages; raises the winning failure if a call failed."""
    teams, raw_usages, tiers = (
        asked(fetched.teams),
        asked(fetched.raw_usages),
        asked(fetched.tiers),
    )
    _raise_winning(teams, raw_usages, tiers)
    return unwrap(teams), join_usages_with_tiers(unwrap(raw_usages), unwrap(tiers))


# --- the team picker plan --------------------------------------------------------------


def _team_picker_plan(*, session_key: str | None) -> Plan[TeamPicker]:
    if not session_key:
        raise NotAuthenticatedError("not signed in: sign in to list your teams")
    fetched = yield Calls(read_pin=True, teams=True, raw_usages=True, tiers=True)
    teams, usages = _teams_and_usages(fetched)
    pinned_team_id, problems = pin_of(asked(fetched.pin), session_key=session_key)
    return TeamPicker(
        rows=team_choices(teams=teams, usages=usages, pinned_team_id=pinned_team_id),
        preselected_team_id=compute_team_preselection(
            teams=teams,
            paid_organization_ids=paid_organization_ids(usages),
            pinned_team_id=pinned_team_id,
        ),
        problems=problems,
    )
