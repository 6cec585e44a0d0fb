"""The ``billing-core`` command line (also ``python -m billing_core``).

For people and agents: who pays for this project's next LLM request, which
teams could, and which one is pinned.

.. code-block:: text

    billing-core status [--json] [--require-funds]
    billing-core teams [--json]
    billing-core pin TEAM | billing-core pin --clear
    billing-core demo

Settings come from the environment: ``BRV_BILLING_BASE_URL`` (required to
reach billing: not for ``demo``, nor for ``status`` when signed out or with
another provider), ``BRV_TEAM_BASE_URL`` (defaults to the billing base),
``BRV_SESSION_KEY`` (the signed-in session) and ``BRV_ACTIVE_PROVIDER``
(defaults to ``byterover``; ``--provider`` overrides it). ``--project DIR``
picks the project (default: the current directory); its pin lives in
``DIR/.brv/brv-provider.json``. ``--timeout SECONDS`` bounds each HTTP
request (default and maximum: the HTTP adapters').

Exit codes (:data:`EXIT_CODES`): 0 resolved; 1 unexpected error; 2 bad usage
(bad arguments or settings, a team query that names no team, several teams,
or a team that cannot be billed, an unusable project directory); 3
``status --require-funds`` found the credits exhausted or the pin invalid; 4
not signed in (no session key, or the session was refused); 5 upstream
unavailable (no status could be resolved, or the services failed); 130
interrupted (Ctrl-C).

Expected failures print one line, ``billing-core: error: ...``, on stderr and
never a traceback; nothing printed ever contains the session key. Names,
messages and paths from upstream, files or the user are shown with their
control and invisible formatting characters escaped (``\\x1b``, ``\\u202e``),
so they can neither drive the terminal nor forge a line; ``--json`` escapes
them the JSON way.

With ``--json`` (``status``, ``teams``) stdout holds one JSON document
whatever the exit code, the error line still going to stderr: ``status``
prints ``{"status": <wire JSON or null>, "problems": [{"part", "message"}]}``
and, when it exits non-zero, ``"error": {"code", "message"}`` in it too;
``teams`` prints its rows as a list, or ``{"error": {"code", "message"}}``
when it exits non-zero. ``error.message`` is the stderr line without its
``billing-core: error:`` prefix.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from attrs import evolve, field, frozen

from billing_core import __version__
from billing_core._session import session_key_flaw
from billing_core._terminal import Console, Piece, printable, tint, wants_colour
from billing_core.errors import (
    AmbiguousTeamError,
    BillingApiError,
    BillingAuthError,
    BillingConfigError,
    BillingError,
    BillingPayloadError,
    InsufficientCreditsError,
    InvalidPinError,
    NotAuthenticatedError,
    PinStoreError,
    TeamNotFoundError,
)
from billing_core.funds import ensure_billing_funds
from billing_core.models import (
    BillingUsage,
    FreeUserLimit,
    OrganizationTier,
    Problem,
    RawUsage,
    StatusBilling,
)
from billing_core.presentation import (
    BillingTone,
    billing_tone,
    format_billing_line,
    format_credits,
    usage_tone,
)
from billing_core.resolution import BYTEROVER_PROVIDER, TeamChoice
from billing_core.teams import team_label

if TYPE_CHECKING:
    from billing_core.adapters.http import HttpBillingService, HttpTeamService
    from billing_core.adapters.pin_file import FilePinStore
    from billing_core.ports import BillingService

__all__ = [
    "ENV_ACTIVE_PROVIDER",
    "ENV_BILLING_BASE_URL",
    "ENV_SESSION_KEY",
    "ENV_TEAM_BASE_URL",
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_SIGNED_IN",
    "EXIT_NO_FUNDS",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "main",
]

PROG: Final = "billing-core"

ENV_BILLING_BASE_URL: Final = "BRV_BILLING_BASE_URL"
ENV_TEAM_BASE_URL: Final = "BRV_TEAM_BASE_URL"
ENV_SESSION_KEY: Final = "BRV_SESSION_KEY"
ENV_ACTIVE_PROVIDER: Final = "BRV_ACTIVE_PROVIDER"

EXIT_OK: Final = 0
EXIT_UNEXPECTED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NO_FUNDS: Final = 3
EXIT_NOT_SIGNED_IN: Final = 4
EXIT_UNAVAILABLE: Final = 5
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as shells report it

EXIT_CODES: Final[Mapping[int, str]] = {
    EXIT_OK: "resolved",
    EXIT_UNEXPECTED: "unexpected error (a bug: please report it)",
    EXIT_USAGE: "bad usage: arguments, settings, project directory, or a team that cannot pay",
    EXIT_NO_FUNDS: "status --require-funds: credits exhausted or the pin is invalid",
    EXIT_NOT_SIGNED_IN: "not signed in: no session key, or the session was refused",
    EXIT_UNAVAILABLE: "upstream unavailable: billing could not be resolved",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

PIN_FILE: Final = ".brv/brv-provider.json"

# --- failures -------------------------------------------------------------------


class _CliError(Exception):
    """An expected failure: one line on stderr and an exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _signed_out(detail: str) -> _CliError:
    return _CliError(EXIT_NOT_SIGNED_IN, f"not signed in: {detail}")


_NO_SESSION: Final = f"set {ENV_SESSION_KEY} to your session key"


@contextlib.contextmanager
def _upstream_errors(what: str) -> Iterator[None]:
    """Turn the library's errors into exit codes and one-line messages."""
    try:
        yield
    except BillingAuthError as exc:
        raise _signed_out(
            f"the session was refused ({exc.message}); sign in again and update {ENV_SESSION_KEY}"
        ) from exc
    except NotAuthenticatedError as exc:
        raise _signed_out(_NO_SESSION) from exc
    except (BillingApiError, BillingPayloadError) as exc:
        raise _CliError(EXIT_UNAVAILABLE, f"cannot {what}: {exc}") from exc
    except BillingConfigError as exc:
        raise _CliError(EXIT_USAGE, str(exc)) from exc
    except PinStoreError as exc:
        raise _CliError(EXIT_USAGE, f"cannot use the project's pin file: {exc}") from exc


# --- settings -------------------------------------------------------------------


@frozen(kw_only=True)
class _Settings:
    """Everything a command needs, read once from the environment and the arguments."""

    base_url: str | None
    team_base_url: str | None
    session_key: str | None = field(repr=False)
    provider: str
    project: Path
    timeout: float | None  # None: the HTTP adapters' default

    def require_base_url(self) -> str:
        if not self.base_url:
            raise _CliError(
                EXIT_USAGE,
                f"{ENV_BILLING_BASE_URL} is not set: point it at the billing API "
                f"(e.g. https://api.example.com/api/v1), or try `{PROG} demo`",
            )
        return self.base_url

    def require_session_key(self) -> str:
        if not self.session_key:
            raise _signed_out(_NO_SESSION)
        return self.session_key

    def pin_store(self) -> FilePinStore:
        from billing_core.adapters.pin_file import FilePinStore

        with _upstream_errors("use the project directory"):
            return FilePinStore(self.project / ".brv")

    def billing_service(self) -> HttpBillingService:
        from billing_core.adapters.http import HttpBillingService

        with _upstream_errors("reach the billing service"):
            return HttpBillingService(self.require_base_url(), timeout=self.http_timeout())

    def needs_billing_requests(self) -> bool:
        """Whether resolving the status asks the billing API anything (SPEC §9)."""
        return bool(self.session_key) and self.provider == BYTEROVER_PROVIDER

    def team_service(self) -> HttpTeamService:
        from billing_core.adapters.http import HttpTeamService

        base = self.team_base_url or self.require_base_url()
        with _upstream_errors("reach the team service"):
            return HttpTeamService(base, timeout=self.http_timeout())

    def http_timeout(self) -> float:
        """``--timeout``, else the HTTP adapters' default."""
        from billing_core.adapters.http import DEFAULT_TIMEOUT

        return DEFAULT_TIMEOUT if self.timeout is None else self.timeout


class _NoBillingService:
    """The billing service of a resolution that asks nothing (signed out, another provider).

    So ``status`` needs no base URL when it makes no request; a call would be a
    bug, and says so rather than reaching the network.
    """

    def _unused(self) -> NoReturn:
        raise BillingConfigError(f"{ENV_BILLING_BASE_URL} was not needed, so it was not read")

    def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        self._unused()

    def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        self._unused()

    def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        self._unused()

    def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        self._unused()

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBillingService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _project_dir(raw: str | None) -> Path:
    if raw is None:
        try:
            text = os.getcwd()
        except OSError as exc:  # run from a directory that was removed since
            raise _CliError(
                EXIT_USAGE, f"cannot use the current directory ({exc.strerror}): pass --project DIR"
            ) from exc
    else:
        text = raw
    if not text.strip():
        raise _CliError(EXIT_USAGE, "--project: the directory name is empty")
    try:
        path = Path(text).expanduser()
    except RuntimeError as exc:  # `~someone` with no such user, or no home directory
        raise _CliError(EXIT_USAGE, f"--project {text}: cannot expand '~': {exc}") from exc
    try:
        resolved = path.resolve()
        # is_dir() swallows only "no such file" errors; a name too long or a
        # directory we may not search raises.
        is_dir = resolved.is_dir()
        exists = is_dir or resolved.exists()
    except (OSError, RuntimeError, ValueError) as exc:
        raise _CliError(EXIT_USAGE, f"--project {text}: {exc}") from exc
    if not is_dir:
        what = "is not a directory" if exists else "does not exist"
        raise _CliError(EXIT_USAGE, f"--project {text}: {what}")
    return resolved


def _session_key(environ: Mapping[str, str]) -> str | None:
    # Checked here so that every command refuses a mangled key the same way (exit
    # 2), before it could reach a request header. The message never quotes it.
    key = environ.get(ENV_SESSION_KEY) or None
    if key is None:
        return None
    flaw = session_key_flaw(key)
    if flaw is None:
        return key
    raise _CliError(EXIT_USAGE, f"{ENV_SESSION_KEY} is not a usable session key: it {flaw}")


def _settings(args: argparse.Namespace, environ: Mapping[str, str]) -> _Settings:
    provider_arg: str | None = args.provider
    provider = provider_arg if provider_arg is not None else _env(environ, ENV_ACTIVE_PROVIDER)
    return _Settings(
        base_url=_env(environ, ENV_BILLING_BASE_URL),
        team_base_url=_env(environ, ENV_TEAM_BASE_URL),
        session_key=_session_key(environ),
        provider=BYTEROVER_PROVIDER if provider is None else provider.strip(),
        project=_project_dir(args.project),
        timeout=args.timeout,
    )


# --- output ---------------------------------------------------------------------


def _problem_wire(problem: Problem) -> dict[str, str]:
    return {"part": problem.part, "message": problem.message}


def _error_wire(*, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _failure_wire(command: str, *, code: int, message: str) -> Any:
    """The ``--json`` document of a run that failed before its command printed one.

    ``status`` keeps its shape (no status, no problem) and adds the error;
    ``teams``, whose success is a bare list of rows, prints only the error.
    """
    error = _error_wire(code=code, message=message)
    if command == "status":
        return {"status": None, "problems": [], "error": error}
    return {"error": error}


_JSON_COMMANDS: Final = frozenset({"status", "teams"})
_VALUE_OPTIONS: Final = ("--project", "--provider", "--timeout")


def _json_command(argv: Sequence[str]) -> str | None:
    """The command whose ``--json`` document this run owes, if it asked for one.

    Read from the raw arguments, before argparse, so that arguments argparse
    refuses still get their failure as JSON. The command is the first argument
    that names one, but for the value of an option (``--project status``);
    ``--json`` may be abbreviated, as argparse allows.
    """
    command: str | None = None
    wants_json = False
    takes_value = False
    for token in argv:
        if token == "--":
            break
        if takes_value:
            takes_value = False
        elif len(token) > 2 and any(option.startswith(token) for option in _VALUE_OPTIONS):
            takes_value = True
        elif len(token) > 2 and "--json".startswith(token.split("=", 1)[0]):
            wants_json = True
        elif command is None and not token.startswith("-"):
            command = token
    return command if wants_json and command in _JSON_COMMANDS else None


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

            refusal = _funds_refusal(status, usages)
    if failure is None and refusal is not None:
        failure = _CliError(EXIT_NO_FUNDS, refusal)

    if as_json:
        from billing_core.wire import to_wire

        document: dict[str, Any] = {
            "status": None if status is None else to_wire(status),
            "problems": [_problem_wire(p) for p in problems],
        }
        if failure is not None:
            document["error"] = _error_wire(code=failure.code, message=failure.message)
        console.print_json(document)
    elif status is not None:
        # One line, whatever the names in it hold: a newline in an org name must
        # not print a second, forged billing line.
        line = printable(format_billing_line(status))
        console.print(tint(line, billing_tone(status)))
    if status is None and failure is not None:
        raise failure  # the problems are its message
    for problem in problems:
        console.warn(f"{problem.part}: {problem.message}")
    if failure is not None:
        raise failure
    return EXIT_OK


# --- teams ----------------------------------------------------------------------


def _credits_cell(choice: TeamChoice) -> str:
    usage = choice.usage
    if usage is None:
        return "-"
    return f"{format_credits(usage.remaining)} / {format_credits(usage.total_limit)}"


_REASONS: Final[Mapping[str, str]] = {
    "free-tier": "FREE tier",
    "no-usage": "no usage reported",
}


def _state_cell(choice: TeamChoice) -> str:
    marks = ["pinned"] if choice.is_pinned else []
    if choice.selectable:
        marks.append("selectable")
    else:
        marks.append(f"not selectable: {_REASONS.get(choice.reason or '', choice.reason or '')}")
    return ", ".join(marks)


def _choice_wire(choice: TeamChoice, *, preselected: str | None) -> dict[str, Any]:
    from billing_core.wire import to_wire

    usage = choice.usage
    return {
        "team": to_wire(choice.team),
        "tier": choice.tier,
        "remaining": None if usage is None else usage.remaining,
        "total": None if usage is None else usage.total_limit,
        "selectable": choice.selectable,
        "reason": choice.reason,
        "pinned": choice.is_pinned,
        "preselected": choice.team.id == preselected,
    }


def _print_team_table(
    console: Console, choices: Sequence[TeamChoice], *, preselected: str | None
) -> None:
    if not choices:
        console.print("No teams.")
        return
    header = ("", "TEAM", "SLUG", "CREDITS", "TIER", "STATE")
    # Cells made printable before they are measured: a newline in a team name
    # must not start a row, and the columns line up with what is shown.
    rows = [
        tuple(
            printable(cell)
            for cell in (
                ">" if choice.team.id == preselected else "",
                team_label(choice.team),
                choice.team.slug,
                _credits_cell(choice),
                choice.tier or "-",
                _state_cell(choice),
            )
        )
        for choice in choices
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str], tones: Sequence[BillingTone | None]) -> list[Piece]:
        pieces: list[Piece] = []
        last = len(cells) - 1
        for index, (cell, width, tone) in enumerate(zip(cells, widths, tones, strict=True)):
            # The last column is not padded: no trailing blanks.
            text = cell.rstrip() if index == last else cell.ljust(width)
            pieces.append(tint(text, tone) if tone is not None else text)
            if index != last:
                pieces.append("  ")
        return pieces

    console.print(*line(header, [None] * len(header)))
    for choice, row in zip(choices, rows, strict=True):
        tones: list[BillingTone | None] = [None] * len(header)
        tones[3] = usage_tone(choice.usage) if choice.usage is not None else None
        console.print(*line(row, tones))
    if preselected is not None:
        console.print(f"\n> suggested billing team; pin a selectable team with `{PROG} pin TEAM`")
    else:
        console.print(f"\nPin a selectable team with `{PROG} pin TEAM`")


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
    from billing_core._demo import DemoUpstream, run_demo

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


# --- the parser -----------------------------------------------------------------

_Command = Callable[[argparse.Namespace, _Settings, Console], int]

_COMMANDS: Final[Mapping[str, _Command]] = {
    "status": _cmd_status,
    "teams": _cmd_teams,
    "pin": _cmd_pin,
    "demo": _cmd_demo,
}


def _timeout_seconds(text: str) -> float:
    """A ``--timeout`` the HTTP adapters accept, or bad usage now rather than later."""
    # Imports httpx, but only when --timeout is given: `--help` stays light.
    from billing_core.adapters.http import MAX_TIMEOUT

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= MAX_TIMEOUT:  # NaN fails the comparison too
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds up to {MAX_TIMEOUT:g}: {text!r}"
        )
    return value


def _add_common_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    # The options are accepted before and after the subcommand; on a subcommand
    # they default to SUPPRESS so they do not erase a value given before it.
    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--project",
        metavar="DIR",
        default=default(None),
        help=f"the project directory (default: the current one); its pin is DIR/{PIN_FILE}",
    )
    parser.add_argument(
        "--provider",
        metavar="NAME",
        default=default(None),
        help=(
            f"the project's active LLM provider (default: ${ENV_ACTIVE_PROVIDER}, else "
            f"{BYTEROVER_PROVIDER}); billing applies only to {BYTEROVER_PROVIDER}"
        ),
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_timeout_seconds,
        default=default(None),
        # No number here: the adapters own the default and the maximum, and
        # reading them would import httpx for `--help` too.
        help="HTTP timeout per request, in seconds (default: the HTTP adapters' default)",
    )


class _Parser(argparse.ArgumentParser):
    """argparse, with errors in the same one-line shape as every other failure."""

    def error(self, message: str) -> NoReturn:
        # Raised, not exited: main() reports it like every other failure (one
        # inert line, and the JSON failure document when --json was asked for).
        self.print_usage(sys.stderr)
        raise _CliError(EXIT_USAGE, message)


_EPILOG: Final = f"""\
environment:
  {ENV_BILLING_BASE_URL}  billing API base URL, e.g. https://api.example.com/api/v1
  {ENV_TEAM_BASE_URL}     team API base URL (default: the billing base URL)
  {ENV_SESSION_KEY}       your session key (never printed)
  {ENV_ACTIVE_PROVIDER}   the active LLM provider (default: {BYTEROVER_PROVIDER})
  NO_COLOR              set to disable colours (colours are used only on a terminal)

exit codes:
""" + "\n".join(f"  {code:<3}  {meaning}" for code, meaning in EXIT_CODES.items())


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=textwrap.fill(
            "Who pays for this project's next LLM request, how many credits are left, "
            "and which team is pinned.",
            width=78,
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_common_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=textwrap.fill(description, width=78),
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common_options(sub, defaults=False)
        return sub

    status = command(
        "status",
        "print who pays for the next request",
        "Print the billing line: who pays for the project's next request and how many "
        "credits are left. Problems met on the way are printed as warnings on stderr.",
    )
    status.add_argument(
        "--json",
        action="store_true",
        help=(
            'print {"status": <wire JSON or null>, "problems": [{"part", "message"}]}; '
            'when it exits non-zero, with "error": {"code", "message"} too'
        ),
    )
    status.add_argument(
        "--require-funds",
        action="store_true",
        help=f"exit {EXIT_NO_FUNDS} when the credits are used up or the pin is invalid",
    )

    teams = command(
        "teams",
        "list the teams that could pay, with credits and tier",
        "List your teams as a picker would: credits left / total, tier, which one is "
        "pinned, which can be billed (FREE-tier teams cannot) and the suggested one (>).",
    )
    teams.add_argument(
        "--json",
        action="store_true",
        help=(
            'print the rows as a JSON list; when it exits non-zero, {"error": {"code", "message"}}'
        ),
    )

    pin = command(
        "pin",
        "pin the team that pays for this project, or clear the pin",
        "Pin the team billed for this project's requests. TEAM is a team id, slug, name "
        f"or display name. A query that matches no team or several teams, or a team that "
        f"cannot be billed (FREE tier), is refused with exit {EXIT_USAGE}.",
    )
    pin.add_argument("team", metavar="TEAM", nargs="?", help="the team to pin")
    pin.add_argument("--clear", action="store_true", help="remove the pin")

    command(
        "demo",
        "walk through status, teams and pin against a built-in fake API",
        "Run the whole flow on an embedded fake billing API with a sample account and a "
        "temporary project: no account, network or settings needed.",
    )
    return parser


# --- entry point ----------------------------------------------------------------


@contextlib.contextmanager
def _quiet_library_logs() -> Iterator[None]:
    # The CLI reports problems itself (warnings, errors); the library's log records
    # would say the same thing twice, unformatted.
    logger = logging.getLogger("billing_core")
    saved = logger.propagate, logger.handlers[:]
    logger.propagate = False
    logger.handlers = [logging.NullHandler()]
    try:
        yield
    finally:
        logger.propagate, logger.handlers = saved[0], saved[1]


def _silence_stdout() -> None:
    # As the Python docs advise for SIGPIPE: point stdout at devnull so the
    # interpreter's final flush does not fail again.
    with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    >>> main(["--version"])  # doctest: +SKIP
    billing-core 0.1.0
    0
    """
    environ = os.environ
    console = Console(
        out=sys.stdout,
        err=sys.stderr,
        colour=wants_colour(sys.stdout, environ),
        secret=environ.get(ENV_SESSION_KEY) or None,
        prog=PROG,
    )
    arguments = sys.argv[1:] if argv is None else list(argv)
    json_command = _json_command(arguments)
    try:
        with _quiet_library_logs():
            args = _parser().parse_args(arguments)
            # The demo brings its own API, session and project: settings meant
            # for the real service must not break it.
            settings = _settings(args, {} if args.command == "demo" else environ)
            return _COMMANDS[args.command](args, settings, console)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except _CliError as exc:
        code, message = exc.code, exc.message
    except KeyboardInterrupt:
        code, message = EXIT_INTERRUPTED, "interrupted"
    except BrokenPipeError:
        # The reader went away (`billing-core teams | head -1`): nothing left to say.
        _silence_stdout()
        return EXIT_UNEXPECTED
    except Exception as exc:
        # A bug, not an expected failure: still one line, and still no key.
        code = EXIT_UNEXPECTED
        message = f"unexpected {type(exc).__name__}: {exc} (please report this)"
    if json_command is not None and not console.printed_json:
        # A reader of --json always gets a document, whatever went wrong.
        console.print_json(_failure_wire(json_command, code=code, message=message))
    console.error(message)
    return code
