"""The four commands (status, teams, pin, demo) and the decisions behind their exit codes.

Each command takes the parsed arguments, the :class:`~billing_core.cli.settings._Settings`
and a console, prints its result and returns :data:`~billing_core.cli.exits.EXIT_OK`,
or raises a :class:`~billing_core.cli.exits._CliError` for an expected failure.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

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
    _print_billing_line,
    _print_team_table,
    _status_document,
)
from billing_core.cli.settings import (
    _NO_SESSION,
    ENV_SESSION_KEY,
    PIN_FILE,
    _NoBillingService,
    _Settings,
    _signed_out,
    _upstream_errors,
)
from billing_core.cli.terminal import Console, printable
from billing_core.errors import (
    AmbiguousTeamError,
    BillingError,
    InsufficientCreditsError,
    InvalidPinError,
    PinStoreError,
    TeamNotFoundError,
)
from billing_core.funds import ensure_billing_funds
from billing_core.models import BillingUsage, OtherProviderBilling, Problem, StatusBilling
from billing_core.resolution import BYTEROVER_PROVIDER
from billing_core.teams import team_label

if TYPE_CHECKING:
    from billing_core.adapters.pin_file import FilePinStore
    from billing_core.cli.demo import DemoUpstream
    from billing_core.ports import BillingService

# --- status ---------------------------------------------------------------------


def _status_failure(
    status: StatusBilling | None, problems: Sequence[Problem], *, signed_in: bool
) -> _CliError | None:
    """Why no status could be resolved, or ``None`` when one was."""
    if status is not None:
        return None
    if not signed_in:
        return _signed_out(_NO_SESSION)
    auth = [p.message for p in problems if p.part == "auth"]
    if auth:
        return _signed_out(f"{'; '.join(auth)} (then update {ENV_SESSION_KEY})")
    reasons = "; ".join(f"{p.part}: {p.message}" for p in problems) or "no answer"
    return _CliError(EXIT_UNAVAILABLE, f"billing is unavailable ({reasons})")


def _funds_refusal(
    status: StatusBilling, usages: Callable[[], Sequence[BillingUsage]]
) -> str | None:
    """The funds guard's refusal, or ``None`` when the next request can be paid for.

    The guard decides on the status alone; the usages only word a refusal
    (which other paid teams still have credits). So they are fetched on the
    refusal path only: a second request, never made when the request can be
    paid for. ``examples/gate_llm_call.py`` takes the same two steps.
    """
    if _refusal(status, usages=()) is None:
        return None
    return _refusal(status, usages=usages())


def _pin_refusal(problems: Sequence[Problem]) -> str | None:
    """Refuse when the pin could not be read: the payer shown may not be the team pinned.

    The resolve goes on as if unpinned (right for a status line), but a gate
    that passed would bill the default payer instead of the pinned team.
    """
    unread = [problem.message for problem in problems if problem.part == "pins"]
    if not unread:
        return None
    return (
        f"refusing: the billing pin could not be read, so the team billed may not be the one"
        f" pinned ({'; '.join(unread)}); fix or remove {PIN_FILE}"
    )


def _refusal(status: StatusBilling, *, usages: Sequence[BillingUsage]) -> str | None:
    try:
        ensure_billing_funds(status, usages=usages)
    except (InsufficientCreditsError, InvalidPinError) as exc:
        return str(exc)
    return None


def _cmd_status(args: argparse.Namespace, settings: _Settings, console: Console) -> int:
    from billing_core.service import resolve_billing

    as_json: bool = args.json
    require_funds: bool = args.require_funds
    pins = settings.pin_store()
    refusal: str | None = None
    # Signed out or another provider: the resolution makes no request, so the
    # base URL is neither required nor checked (not signed in stays exit 4).
    service: BillingService = (
        settings.billing_service() if settings.needs_billing_requests() else _NoBillingService()
    )
    with service as billing:
        with _upstream_errors("resolve billing"):
            resolution = resolve_billing(
                active_provider=settings.provider,
                session_key=settings.session_key,
                billing=billing,
                pins=pins,
            )
        status, problems = resolution.status, list(resolution.problems)
        failure = _status_failure(status, problems, signed_in=bool(settings.session_key))
        if (
            failure is not None
            and failure.code == EXIT_NOT_SIGNED_IN
            and not any(p.part == "auth" for p in problems)
        ):
            # JSON readers get the reason too, not just a bare null status.
            problems.append(Problem(part="auth", message=failure.message))
        if status is not None and require_funds:
            session_key = settings.require_session_key()

            def usages() -> Sequence[BillingUsage]:
                # Only to word the refusal: a failure here must not hide it.
                try:
                    return billing.get_usages(session_key)
                except BillingError:
                    return ()

            refusal = _pin_refusal(problems) or _funds_refusal(status, usages)
        if require_funds and isinstance(status, OtherProviderBilling):
            console.warn(
                f"--require-funds: nothing to check: {printable(settings.provider or '(none)')}"
                f" is the active provider, and only {BYTEROVER_PROVIDER} is billed in credits"
            )
    if failure is None and refusal is not None:
        failure = _CliError(EXIT_NO_FUNDS, refusal)

    if as_json:
        console.print_json(_status_document(status, problems, failure=failure))
    elif status is not None:
        _print_billing_line(console, status)
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
        _upstream_errors("list teams"),
    ):
        picker = list_team_choices(
            session_key=session_key, billing=billing, teams=team_service, pins=pins
        )
    preselected = picker.preselected_team_id
    if as_json:
        console.print_json([_choice_wire(c, preselected=preselected) for c in picker.rows])
    else:
        _print_team_table(console, picker.rows, preselected=preselected)
    for problem in picker.problems:
        console.warn(f"{problem.part}: {problem.message}")
    return EXIT_OK


# --- pin ------------------------------------------------------------------------


def _cmd_pin(args: argparse.Namespace, settings: _Settings, console: Console) -> int:
    query: str | None = args.team
    clear: bool = args.clear
    if clear == (query is not None):
        raise _CliError(EXIT_USAGE, "pin: give a TEAM or --clear (not both)")
    from billing_core.service import pin_billing_team

    session_key = settings.require_session_key()
    pins = settings.pin_store()
    previous = _pin_to_clear(pins) if clear else None
    with settings.billing_service() as billing, settings.team_service() as team_service:
        try:
            with _upstream_errors("pin the team"):
                team = pin_billing_team(
                    session_key=session_key,
                    query=query,
                    billing=billing,
                    teams=team_service,
                    pins=pins,
                )
        except (TeamNotFoundError, AmbiguousTeamError, InvalidPinError) as exc:
            raise _CliError(EXIT_USAGE, f"cannot pin {query!r}: {exc}") from exc
    # Set when the write met a corrupt file and kept its bytes beside it.
    backup = pins.last_backup_path
    kept = None if backup is None else printable(str(backup))
    where = printable(str(settings.project / PIN_FILE))
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


def _pin_to_clear(pins: FilePinStore) -> str | None:
    """The pin about to be cleared, to name it once it is gone.

    An unreadable pin counts as none: clearing it rewrites the file, keeping
    the old bytes in a backup, and the message names the backup instead.
    """
    try:
        return pins.read_pin().team_id
    except PinStoreError:  # the write that follows fails too, and says why
        return None


# --- demo -----------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace, settings: _Settings, console: Console) -> int:
    # Imported here, not above: the demo loads tempfile, which every other
    # command (and `--version`) would pay for at start-up.
    from billing_core.cli.demo import run_demo

    parser = _parser()

    def run_step(argv: Sequence[str], upstream: DemoUpstream) -> int:
        step_settings = evolve(
            settings,
            base_url=upstream.base_url,
            team_base_url=upstream.team_base_url,
            session_key=upstream.session_key,
            provider=BYTEROVER_PROVIDER,
            project=upstream.project,
        )
        try:
            step_args = parser.parse_args(argv)
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
    "demo": _cmd_demo,
}
