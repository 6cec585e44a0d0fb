"""The four commands (status, teams, pin, demo) and the decisions behind their exit codes.

Each command takes the parsed arguments, the :class:`~billing_core.cli.settings._Settings`
and a console, prints its result and returns :data:`~billing_core.cli.exits.EXIT_OK`,
or raises a :class:`~billing_core.cli.exits._CliError` for an expected failure.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from attrs import evolve

from billing_core.cli.exits import (
    EXIT_NO_FUNDS,
    EXIT_NOT_SIGNED_IN,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    PROG,
    _CliError,
)
from billing_core.cli.parser import _parser
from billing_core.cli.render import (
    _choice_wire,
    _document,
    _print_billing_line,
    _print_team_table,
    _status_document,
)
from billing_core.cli.settings import (
    _NoBillingService,
    _refused,
    _Settings,
    _upstream_errors,
    _WatchedBilling,
)
from billing_core.cli.terminal import Console, printable
from billing_core.errors import (
    AmbiguousTeamError,
    BillingAuthError,
    BillingError,
    InsufficientCreditsError,
    InvalidPinError,
    PinStoreError,
    TeamNotFoundError,
)
from billing_core.funds import ensure_billing_funds
from billing_core.models import (
    BillingUsage,
    InvalidPinBilling,
    OtherProviderBilling,
    Problem,
    StatusBilling,
    Team,
)
from billing_core.presentation import DEFAULT_COMMAND_HINTS, CommandHints
from billing_core.resolution import BYTEROVER_PROVIDER
from billing_core.teams import team_label

if TYPE_CHECKING:
    from billing_core.adapters.pin_file import FilePinStore
    from billing_core.cli.demo import DemoUpstream
    from billing_core.ports import BillingService, TeamService

# --- status ---------------------------------------------------------------------


def _status_failure(
    status: StatusBilling | None,
    problems: Sequence[Problem],
    *,
    settings: _Settings,
    refused: BillingAuthError | None,
) -> _CliError | None:
    """Why no status could be resolved, or ``None`` when one was."""
    if status is not None:
        return None
    if not settings.session_key:
        return settings.signed_out()
    if any(p.part == "auth" for p in problems):
        return _refused(refused, source=settings.session.source)
    reasons = "; ".join(f"{p.part}: {p.message}" for p in problems) or "no answer"
    return _CliError(
        EXIT_UNAVAILABLE, f"billing is unavailable at {settings.billing_host()} ({reasons})"
    )


def _project_line(settings: _Settings) -> str:
    """Which project the command used, and how it was found."""
    project = settings.project
    root = printable(str(project.root))
    if project.source == "linked":
        how = f" (through the linked worktree {printable(str(project.worktree_root))})"
    elif settings.project_given:
        how = " (--project)"
    elif project.source == "cwd":
        how = " (no .brv found above: the current directory)"
    else:
        how = ""
    return f"Project: {root}{how}"


def _funds_refusal(
    status: StatusBilling,
    usages: Callable[[], Sequence[BillingUsage]],
    *,
    teams: Callable[[], Sequence[Team]] = tuple,
    hints: CommandHints = DEFAULT_COMMAND_HINTS,
) -> str | None:
    """The funds guard's refusal, or ``None`` when the next request can be paid for.

    The guard decides on the status alone; the usages and the teams only word
    a refusal (which other paid teams still have credits, the payer's top-up
    link). So they are fetched on the refusal path only: requests never made
    when the request can be paid for. ``examples/gate_llm_call.py`` takes the
    same two steps.
    """
    if _refusal(status, usages=(), teams=(), hints=hints) is None:
        return None
    return _refusal(status, usages=usages(), teams=teams(), hints=hints)


def _pin_refusal(problems: Sequence[Problem], *, pin_path: str) -> str | None:
    """Refuse when the pin could not be read: the payer shown may not be the team pinned.

    The resolve goes on as if unpinned (right for a status line), but a gate
    that passed would bill the default payer instead of the pinned team.
    """
    unread = [problem.message for problem in problems if problem.part == "pins"]
    if not unread:
        return None
    return (
        f"refusing: the billing pin could not be read, so the team billed may not be the one"
        f" pinned ({'; '.join(unread)}); fix or remove {pin_path}"
    )


def _refusal(
    status: StatusBilling,
    *,
    usages: Sequence[BillingUsage],
    teams: Sequence[Team],
    hints: CommandHints,
) -> str | None:
    try:
        ensure_billing_funds(status, usages=usages, teams=teams, hints=hints)
    except (InsufficientCreditsError, InvalidPinError) as exc:
        return str(exc)
    return None


def _require_funds_refusal(
    status: StatusBilling,
    problems: Sequence[Problem],
    *,
    billing: BillingService,
    settings: _Settings,
) -> _CliError | None:
    """Why ``status --require-funds`` refuses (exit 3), or ``None`` when it passes."""
    unread_pin = _pin_refusal(problems, pin_path=printable(str(settings.pin_path)))
    if unread_pin is not None:
        return _CliError(EXIT_NO_FUNDS, unread_pin, kind="pin-unreadable")
    session_key = settings.require_session_key()

    def usages() -> Sequence[BillingUsage]:
        # Only to word the refusal: a failure here must not hide it.
        try:
            return billing.get_usages(session_key)
        except BillingError:
            return ()

    def teams() -> Sequence[Team]:
        # Only for the payer's top-up link, which needs its slug.
        try:
            with settings.team_service() as team_service:
                return team_service.list_teams(session_key)
        except (BillingError, _CliError):
            return ()

    # The link is a bonus: a malformed BRV_WEB_APP_URL must not fail the gate.
    web_app = None if settings.endpoints is None else settings.endpoints.web_app_url
    words = _funds_refusal(status, usages, teams=teams, hints=CommandHints(web_app_url=web_app))
    if words is None:
        return None
    kind = "invalid-pin" if isinstance(status, InvalidPinBilling) else "no-funds"
    return _CliError(EXIT_NO_FUNDS, words, kind=kind)


def _cmd_status(args: argparse.Namespace, settings: _Settings, console: Console) -> int:
    from billing_core.service import resolve_billing

    as_json: bool = args.json
    require_funds: bool = args.require_funds
    pins = settings.pin_store()
    refusal: _CliError | None = None
    # Signed out or another provider: the resolution makes no request, so the
    # endpoints are neither required nor checked (not signed in stays exit 4).
    watched = (
        _WatchedBilling(settings.billing_service()) if settings.needs_billing_requests() else None
    )
    service: BillingService = _NoBillingService() if watched is None else watched
    with service as billing:
        with (
            _upstream_errors("resolve billing", settings=settings),
            console.progress("resolving billing"),
        ):
            resolution = resolve_billing(
                active_provider=settings.provider,
                session_key=settings.session_key,
                billing=billing,
                pins=pins,
            )
        if watched is not None and watched.not_found is not None:
            # A wrong base URL, not an outage: no status would ever come from it.
            raise settings.wrong_base_url(watched.not_found)
        status, problems = resolution.status, list(resolution.problems)
        refused = None if watched is None else watched.refused
        failure = _status_failure(status, problems, settings=settings, refused=refused)
        if (
            failure is not None
            and failure.code == EXIT_NOT_SIGNED_IN
            and not any(p.part == "auth" for p in problems)
        ):
            # JSON readers get the reason too, not just a bare null status.
            problems.append(Problem(part="auth", message=failure.message))
        if status is not None and require_funds:
            refusal = _require_funds_refusal(status, problems, billing=billing, settings=settings)
        if require_funds and isinstance(status, OtherProviderBilling):
            active = (
                f"{printable(settings.provider)} is the active provider"
                if settings.provider
                else "no provider is connected"
            )
            console.warn(
                f"--require-funds: nothing to check: {active},"
                f" and only {BYTEROVER_PROVIDER} is billed in credits"
            )
    if failure is None and refusal is not None:
        failure = refusal

    if as_json:
        console.print_json(_status_document(status, problems, settings=settings, failure=failure))
    elif status is not None:
        _print_billing_line(console, status)
        console.print(_project_line(settings))
    if not as_json and settings.provider == "" and isinstance(status, OtherProviderBilling):
        why = (
            "brv's providers.json names none"
            if settings.provider_problem is None
            else f"{printable(settings.provider_problem)}, so brv reads it as none"
        )
        console.warn(
            f"no LLM provider is connected ({why}): nothing is billed;"
            f" pass --provider {BYTEROVER_PROVIDER} to see the credits"
        )
    if status is None and failure is not None:
        raise failure  # the problems are its message
    for problem in problems:
        console.warn(f"{problem.part}: {problem.message}")
    if failure is not None:
        raise failure
    return EXIT_OK


# --- teams ----------------------------------------------------------------------


def _cmd_teams(args: argparse.Namespace, settings: _Settings, console: Console) -> int:
    from billing_core.service import list_team_choices

    as_json: bool = args.json
    session_key = settings.require_session_key()
    pins = settings.pin_store()
    with (
        settings.billing_service() as billing,
        settings.team_service() as team_service,
        _upstream_errors("list teams", settings=settings),
        console.progress("listing teams"),
    ):
        picker = list_team_choices(
            session_key=session_key, billing=billing, teams=team_service, pins=pins
        )
    preselected = picker.preselected_team_id
    if as_json:
        rows = [_choice_wire(c, preselected=preselected) for c in picker.rows]
        console.print_json(
            _document("teams", rows, problems=picker.problems, settings=settings, failure=None)
        )
    else:
        _print_team_table(console, picker.rows, preselected=preselected)
        console.print(_project_line(settings))
    for problem in picker.problems:
        console.warn(f"{problem.part}: {problem.message}")
    return EXIT_OK


# --- pin ------------------------------------------------------------------------


def _cmd_pin(args: argparse.Namespace, settings: _Settings, console: Console) -> int:
    query: str | None = args.team
    clear: bool = args.clear
    if clear == (query is not None):
        raise _CliError(EXIT_USAGE, "pin: give a TEAM or --clear (not both)", kind="bad-arguments")
    from billing_core.service import pin_billing_team

    session_key = settings.require_session_key()
    pins = settings.pin_store()
    previous = _pin_in_place(pins)
    # Clearing asks the upstream nothing: no endpoint is needed, nor checked.
    billing_service: BillingService = _NoBillingService() if clear else settings.billing_service()
    team_service_: TeamService = _NoBillingService() if clear else settings.team_service()
    with billing_service as billing, team_service_ as team_service:
        try:
            with (
                _upstream_errors("pin the team", settings=settings),
                console.progress("clearing the pin" if clear else "pinning the team"),
            ):
                team = pin_billing_team(
                    session_key=session_key,
                    query=query,
                    billing=billing,
                    teams=team_service,
                    pins=pins,
                )
        except (TeamNotFoundError, AmbiguousTeamError, InvalidPinError) as exc:
            raise _CliError(
                EXIT_USAGE, f"cannot pin {query!r}: {exc}", kind=_pin_refusal_kind(exc)
            ) from exc
    # Set when the write met a corrupt file and kept its bytes beside it.
    backup = pins.last_backup_path
    if args.json:
        console.print_json(_pin_document(settings, team=team, previous=previous, backup=backup))
        return EXIT_OK
    kept = None if backup is None else printable(str(backup))
    where = printable(str(settings.pin_path))
    if team is not None:
        if kept is not None:
            console.warn(f"the pin file was corrupt; its old content was kept in {kept}")
        label, slug, team_id = (printable(t) for t in (team_label(team), team.slug, team.id))
        console.print(f"Pinned {label} (slug {slug}, id {team_id}) as the billing team in {where}.")
    elif kept is not None:
        console.print(f"Cleared an unreadable pin (old content kept in {kept}) in {where}.")
    elif previous is None:
        console.print(f"No billing team was pinned in {where}; nothing to clear.")
    else:
        console.print(f"Cleared the billing pin ({printable(previous)}) in {where}.")
    return EXIT_OK


def _pin_document(
    settings: _Settings, *, team: Team | None, previous: str | None, backup: Path | None
) -> dict[str, Any]:
    """``pin --json``: what was done, to which file, and the backup of a corrupt one."""
    from billing_core.wire import to_wire

    if team is not None:
        action = "unchanged" if previous == team.id else "pinned"
    elif previous is not None or backup is not None:
        action = "cleared"
    else:
        action = "unchanged"  # clearing a project that had no pin
    problems = (
        []
        if backup is None
        else [
            Problem(
                part="pins",
                message=f"the pin file was corrupt; its old content was kept in {backup}",
            )
        ]
    )
    value = {
        "action": action,
        "team": None if team is None else to_wire(team),
        "previousTeamId": previous,
        "file": str(settings.pin_path),
        "backup": None if backup is None else str(backup),
    }
    return _document("pin", value, problems=problems, settings=settings, failure=None)


def _pin_refusal_kind(exc: BillingError) -> str:
    if isinstance(exc, TeamNotFoundError):
        return "team-not-found"
    if isinstance(exc, AmbiguousTeamError):
        return "team-ambiguous"
    return "team-not-billable"


def _pin_in_place(pins: FilePinStore) -> str | None:
    """The pin about to be replaced or cleared, to name it once it is gone.

    An unreadable pin counts as none: clearing it rewrites the file, keeping
    the old bytes in a backup, and the message names the backup instead.
    """
    try:
        return pins.read_pin().team_id
    except PinStoreError:  # the write that follows fails too, and says why
        return None


# --- demo -----------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """The walk-through. It reads no setting, login or file of the user's."""
    # Imported here, not above: the demo loads tempfile, which every other
    # command (and `--version`) would pay for at start-up.
    from billing_core.cli.demo import run_demo
    from billing_core.cli.settings import _settings

    parser = _parser()

    def run_step(argv: Sequence[str], upstream: DemoUpstream) -> int:
        try:
            step_args = parser.parse_args(argv)
            # The fake API's own variables, as a brv user would set them, and
            # the demo's project: never the user's settings, login or files.
            step_settings = evolve(
                _settings(step_args, upstream.environ, cwd=upstream.project),
                timeout=getattr(args, "timeout", None),
            )
            return _COMMANDS[step_args.command](step_args, step_settings, console)
        except _CliError as exc:
            # On stdout, so the walk-through reads in order when piped.
            console.print(printable(f"{PROG}: error: {exc.message}"))
            return exc.code

    return run_demo(console, run_step=run_step)


_Command = Callable[[argparse.Namespace, _Settings, Console], int]

_COMMANDS: Final[Mapping[str, _Command]] = {
    "status": _cmd_status,
    "teams": _cmd_teams,
    "pin": _cmd_pin,
}
