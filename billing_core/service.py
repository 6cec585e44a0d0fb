"""The imperative shell: resolve who pays, list the teams a picker shows, and pin
a team, over the ports.

Each use case is written once, as a *plan*: a generator that yields the port
calls it needs (all at once when they do not depend on each other), receives
their outcomes and decides. A small driver per flavour makes the calls: the
sync one in worker threads, the async one with :func:`asyncio.gather`. So the
sync and async functions share every decision, and a resolve costs one round
trip of wall time, not one per endpoint.

>>> from billing_core.testing import DEFAULT_SESSION_KEY, InMemoryBillingService, InMemoryPinStore
>>> from billing_core.testing.sample import sample_account
>>> resolution = resolve_billing(
...     active_provider="byterover", session_key=DEFAULT_SESSION_KEY,
...     billing=InMemoryBillingService(sample_account()), pins=InMemoryPinStore())
>>> resolution.status.organization_name, resolution.problems
('Acme Corp', ())
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from typing import Final, Literal, TypeAlias, TypeVar, cast

from attrs import field, frozen

from billing_core._threads import start as _start
from billing_core.errors import (
    BillingAuthError,
    BillingError,
    BillingPayloadError,
    NotAuthenticatedError,
)
from billing_core.models import (
    BillingResolution,
    BillingUsage,
    FreeBilling,
    FreeUserLimit,
    OrganizationTier,
    Problem,
    ProblemPart,
    RawUsage,
    StatusBilling,
    Team,
    TeamPickNeededBilling,
)
from billing_core.ports import (
    AsyncBillingService,
    AsyncTeamService,
    BillingService,
    PinRead,
    PinReader,
    PinStore,
    TeamService,
)
from billing_core.resolution import (
    BYTEROVER_PROVIDER,
    TeamChoice,
    build_status_billing,
    build_status_without_tiers,
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
_I = TypeVar("_I")


# --- public use cases ---------------------------------------------------------


def resolve_billing(
    *,
    active_provider: str | None,
    session_key: str | None,
    billing: BillingService,
    pins: PinStore,
    prefetch_free_limit: bool = True,
) -> BillingResolution:
    """Who pays for the next request, and what went wrong finding out (SPEC §9).

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
      either way. The calls run at once in a process-wide pool of worker
      threads; a call that no worker has picked up by the time its result
      is needed runs in the calling thread (the pin read always does).

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
    return _run_in_threads(plan, _Ports(session_key=session_key or "", billing=billing, pins=pins))


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
    return await _run_in_tasks(
        plan, _Ports(session_key=session_key or "", billing=billing, pins=pins)
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
    ports = _Ports(session_key=session_key or "", billing=billing, teams=teams, pins=pins)
    return _run_in_threads(_pin_plan(session_key=session_key, query=query), ports)


async def apin_billing_team(
    *,
    session_key: str | None,
    query: str | None,
    billing: AsyncBillingService,
    teams: AsyncTeamService,
    pins: PinStore,
) -> Team | None:
    """The async twin of :func:`pin_billing_team`; ``pins`` is written in a worker thread."""
    ports = _Ports(session_key=session_key or "", billing=billing, teams=teams, pins=pins)
    return await _run_in_tasks(_pin_plan(session_key=session_key, query=query), ports)


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
    ports = _Ports(session_key=session_key or "", billing=billing, teams=teams, pins=pins)
    return _run_in_threads(_team_picker_plan(session_key=session_key), ports)


async def alist_team_choices(
    *,
    session_key: str | None,
    billing: AsyncBillingService,
    teams: AsyncTeamService,
    pins: PinStore,
) -> TeamPicker:
    """The async twin of :func:`list_team_choices`; ``pins`` is read in a worker thread."""
    ports = _Ports(session_key=session_key or "", billing=billing, teams=teams, pins=pins)
    return await _run_in_tasks(_team_picker_plan(session_key=session_key), ports)


# --- what a plan asks for and gets back ---------------------------------------------

_Op: TypeAlias = Literal[
    "read-pin", "write-pin", "raw-usages", "tiers", "free-limit", "usages", "teams"
]


@frozen
class _Call:
    """One port call a plan needs; ``team_id`` is what ``write-pin`` writes."""

    op: _Op
    team_id: str | None = None

    @property
    def is_local(self) -> bool:
        """Whether the pin store (sync in both flavours) serves this call."""
        return self.op in ("read-pin", "write-pin")


_READ_PIN: Final = _Call("read-pin")
_RAW_USAGES: Final = _Call("raw-usages")
_TIERS: Final = _Call("tiers")
_FREE_LIMIT: Final = _Call("free-limit")
_USAGES: Final = _Call("usages")
_TEAMS: Final = _Call("teams")


@frozen
class _Outcome:
    """What one call gave: a value, or the exception it raised."""

    value: object = None
    error: Exception | None = None

    def unwrap(self) -> object:
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value


def _attempt(thunk: Callable[[], object]) -> _Outcome:
    try:
        return _Outcome(value=thunk())
    except Exception as error:  # ports are third-party code; BaseException still propagates
        return _Outcome(error=error)


_Outcomes: TypeAlias = Mapping[_Call, _Outcome]
_Plan: TypeAlias = Generator[tuple[_Call, ...], _Outcomes, _T]


# --- drivers: the only code that differs between sync and async ----------------------


def _read_pin(pins: PinStore) -> PinRead:
    if isinstance(pins, PinReader):
        return pins.read_pin()
    return PinRead(pins.get_pinned_team_id())


@frozen
class _Ports:
    """The ports of one use case, and the session key their calls carry."""

    session_key: str = field(repr=False)
    billing: BillingService | AsyncBillingService
    pins: PinStore
    teams: TeamService | AsyncTeamService | None = None

    def thunk(self, call: _Call) -> Callable[[], object]:
        """The call, ready to make; for async services it returns a coroutine."""
        key = self.session_key
        match call.op:
            case "read-pin":
                return lambda: _read_pin(self.pins)
            case "write-pin":
                return lambda: self.pins.set_pinned_team_id(call.team_id)
            case "raw-usages":
                return lambda: self.billing.get_raw_usages(key)
            case "tiers":
                return lambda: self.billing.get_tiers(key)
            case "free-limit":
                return lambda: self.billing.get_free_user_limit(key)
            case "usages":
                return lambda: self.billing.get_usages(key)
            case "teams":
                return lambda: _required(self.teams).list_teams(key)


def _required(teams: TeamService | AsyncTeamService | None) -> TeamService | AsyncTeamService:
    if teams is None:
        raise TypeError("this use case has no team service")
    return teams


def _run_in_threads(plan: _Plan[_T], ports: _Ports) -> _T:
    try:
        calls = next(plan)
        while True:
            calls = plan.send(_gather_in_threads({call: ports.thunk(call) for call in calls}))
    except StopIteration as done:
        return cast(_T, done.value)


async def _run_in_tasks(plan: _Plan[_T], ports: _Ports) -> _T:
    try:
        calls = next(plan)
        while True:
            calls = plan.send(await _gather_in_tasks({call: ports.thunk(call) for call in calls}))
    except StopIteration as done:
        return cast(_T, done.value)


def _gather_in_threads(thunks: Mapping[_Call, Callable[[], object]]) -> dict[_Call, _Outcome]:
    """Make every call at once: the first in this thread, the others in the shared pool."""
    (first, first_thunk), *others = thunks.items()
    waits = {call: _start(thunk) for call, thunk in others}
    outcomes = {first: _attempt(first_thunk)}
    outcomes.update((call, _attempt(wait)) for call, wait in waits.items())
    return outcomes


async def _gather_in_tasks(thunks: Mapping[_Call, Callable[[], object]]) -> dict[_Call, _Outcome]:
    """Make every call at once; the pin store's in a worker thread."""

    async def make(call: _Call, thunk: Callable[[], object]) -> object:
        if call.is_local:
            return await asyncio.to_thread(thunk)
        return await cast(Awaitable[object], thunk())

    calls = list(thunks)
    results = await asyncio.gather(
        *(make(call, thunks[call]) for call in calls), return_exceptions=True
    )
    outcomes = {}
    for call, result in zip(calls, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result  # cancellation, KeyboardInterrupt...: not ours to report
        outcomes[call] = (
            _Outcome(error=result) if isinstance(result, Exception) else _Outcome(result)
        )
    return outcomes


# --- the resolve plan and its decisions ------------------------------------------------


def _resolution_plan(
    *, active_provider: str | None, session_key: str | None, prefetch_free_limit: bool
) -> _Plan[BillingResolution]:
    if not session_key:
        return BillingResolution(status=None)
    if active_provider != BYTEROVER_PROVIDER:
        status = build_status_billing(active_provider=active_provider, is_authenticated=True)
        return BillingResolution(status=status)
    calls = (_READ_PIN, _RAW_USAGES, _TIERS) + ((_FREE_LIMIT,) if prefetch_free_limit else ())
    outcomes = dict((yield calls))
    resolution = _decide(outcomes, session_key=session_key)
    if _FREE_LIMIT not in outcomes and _shows_free_credits(resolution.status):
        outcomes.update((yield (_FREE_LIMIT,)))
        resolution = _decide(outcomes, session_key=session_key)
    return resolution


def _shows_free_credits(status: StatusBilling | None) -> bool:
    return isinstance(status, FreeBilling | TeamPickNeededBilling)


_AUTH_PROBLEM: Final = Problem(part="auth", message="session invalid or expired: sign in again")


def _decide(outcomes: _Outcomes, *, session_key: str) -> BillingResolution:
    """The answer from the fetched outcomes (the free limit may not have been fetched)."""
    pinned_team_id, problems = _pin_of(outcomes[_READ_PIN], session_key=session_key)
    if _is_auth(outcomes[_RAW_USAGES].error) or _is_auth(outcomes[_TIERS].error):
        return BillingResolution(status=None, problems=[*problems, _AUTH_PROBLEM])
    try:
        raw_usages = _items(outcomes[_RAW_USAGES].unwrap(), RawUsage, "usages")
    except Exception as error:
        problem = _problem("usages", error, _UNKNOWN, session_key=session_key)
        return BillingResolution(status=None, problems=[*problems, problem])
    try:
        tiers = _items(outcomes[_TIERS].unwrap(), OrganizationTier, "tiers")
        usages = join_usages_with_tiers(raw_usages, tiers)
    except Exception as error:
        return _decide_without_tiers(
            raw_usages, error, pinned_team_id, problems, session_key=session_key
        )
    free_user_limit, free_error = _free_user_limit_of(outcomes.get(_FREE_LIMIT))
    try:
        status = build_status_billing(
            active_provider=BYTEROVER_PROVIDER,
            is_authenticated=True,
            usages=usages,
            pinned_team_id=pinned_team_id,
            free_user_limit=free_user_limit,
        )
    except Exception as error:  # e.g. one organisation listed twice, differently
        problem = _problem("usages", error, _UNKNOWN, session_key=session_key)
        return BillingResolution(status=None, problems=[*problems, problem])
    # A free limit that failed matters only if the answer shows free credits;
    # so the answer does not depend on whether it was prefetched.
    if free_error is not None and _shows_free_credits(status):
        if _is_auth(free_error):
            return BillingResolution(status=None, problems=[*problems, _AUTH_PROBLEM])
        problem = _problem("free-limit", free_error, _NO_NUMBERS, session_key=session_key)
        problems.append(problem)
    return BillingResolution(status=status, problems=problems)


def _free_user_limit_of(
    outcome: _Outcome | None,
) -> tuple[FreeUserLimit | None, Exception | None]:
    if outcome is None:  # not fetched (yet)
        return None, None
    try:
        return _instance(outcome.unwrap(), FreeUserLimit, "free user limit"), None
    except Exception as error:
        return None, error


def _decide_without_tiers(
    raw_usages: tuple[RawUsage, ...],
    error: Exception,
    pinned_team_id: str | None,
    problems: list[Problem],
    *,
    session_key: str,
) -> BillingResolution:
    """Tiers unknown: only a pin among the usages can be shown, and without its tier
    (see :func:`~billing_core.resolution.build_status_without_tiers`)."""
    status = build_status_without_tiers(raw_usages=raw_usages, pinned_team_id=pinned_team_id)
    if status is None:
        problem = _problem(
            "tiers", error, "cannot tell which teams are paid", session_key=session_key
        )
        return BillingResolution(status=None, problems=[*problems, problem])
    problem = _problem(
        "tiers", error, "showing the pinned team without its tier", session_key=session_key
    )
    return BillingResolution(status=status, problems=[*problems, problem])


def _pin_of(outcome: _Outcome, *, session_key: str) -> tuple[str | None, list[Problem]]:
    """The pin, or no pin and the problem that hid it."""
    try:
        read = _instance(outcome.unwrap(), PinRead, "pin read")
        if read.team_id is not None and not isinstance(read.team_id, str):
            raise BillingPayloadError(f"the pin store returned a {type(read.team_id).__name__}")
    except Exception as error:
        return None, [_problem("pins", error, _UNPINNED, session_key=session_key)]
    if read.problem is not None:  # e.g. a corrupt pin file
        message = _redacted(f"{read.problem}; {_UNPINNED}", session_key)
        return None, [Problem(part="pins", message=message)]
    return read.team_id or None, []


_UNPINNED: Final = "treating the project as unpinned"
_UNKNOWN: Final = "billing status unknown"
_NO_NUMBERS: Final = "showing free credits without numbers"

_WHAT_FAILED: Final[Mapping[ProblemPart, str]] = {
    "usages": "could not load credit usage",
    "tiers": "could not load subscription tiers",
    "free-limit": "could not load personal free credits",
    "pins": "could not read the billing pin",
}


def _problem(part: ProblemPart, error: Exception, consequence: str, *, session_key: str) -> Problem:
    # Our errors and OSError say what went wrong without secrets; anything else
    # comes from third-party code and is named, never quoted.
    known = isinstance(error, BillingError | OSError) and str(error)
    detail = str(error) if known else f"unexpected {type(error).__name__}"
    return Problem(
        part=part,
        message=_redacted(f"{_WHAT_FAILED[part]}: {detail}; {consequence}", session_key),
    )


def _redacted(message: str, session_key: str) -> str:
    # Belt and braces: a misbehaving adapter may have put the key in its message.
    return message.replace(session_key, "[session key]") if session_key else message


def _is_auth(error: Exception | None) -> bool:
    return isinstance(error, BillingAuthError)


def _items(value: object, kind: type[_I], what: str) -> tuple[_I, ...]:
    """``value`` as a tuple of ``kind``; a port that returned something else is at fault."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise BillingPayloadError(f"{what} must be a sequence, not {type(value).__name__}")
    items = tuple(value)
    for index, item in enumerate(items):
        _instance(item, kind, f"{what}[{index}]")
    return items


def _instance(value: object, kind: type[_I], what: str) -> _I:
    if not isinstance(value, kind):
        raise BillingPayloadError(f"{what} must be a {kind.__name__}, not {type(value).__name__}")
    return value


# --- the pin plan and its decision ---------------------------------------------------


def _pin_plan(*, session_key: str | None, query: str | None) -> _Plan[Team | None]:
    if not session_key:
        raise NotAuthenticatedError("not signed in: sign in to change the billing team")
    team: Team | None = None
    if query is not None:
        fetched = yield (_TEAMS, _USAGES)
        teams, usages = _values(fetched, (_TEAMS, _USAGES))
        team = _team_to_pin(
            query=query,
            teams=_items(teams, Team, "teams"),
            usages=_items(usages, BillingUsage, "usages"),
        )
    write = _Call("write-pin", team_id=None if team is None else team.id)
    _values((yield (write,)), (write,))
    return team


def _values(outcomes: _Outcomes, calls: tuple[_Call, ...]) -> list[object]:
    """The calls' values in order; raises their error if any failed (a 401/403 first)."""
    errors = [error for call in calls if (error := outcomes[call].error) is not None]
    if errors:
        raise next((e for e in errors if _is_auth(e)), errors[0])
    return [outcomes[call].value for call in calls]


# --- the team picker plan --------------------------------------------------------------


def _team_picker_plan(*, session_key: str | None) -> _Plan[TeamPicker]:
    if not session_key:
        raise NotAuthenticatedError("not signed in: sign in to list your teams")
    fetched = yield (_READ_PIN, _TEAMS, _USAGES)
    teams, usages = _values(fetched, (_TEAMS, _USAGES))
    team_list = _items(teams, Team, "teams")
    usage_list = _items(usages, BillingUsage, "usages")
    pinned_team_id, problems = _pin_of(fetched[_READ_PIN], session_key=session_key)
    return TeamPicker(
        rows=team_choices(teams=team_list, usages=usage_list, pinned_team_id=pinned_team_id),
        preselected_team_id=compute_team_preselection(
            teams=team_list,
            paid_organization_ids=paid_organization_ids(usage_list),
            pinned_team_id=pinned_team_id,
        ),
        problems=problems,
    )
