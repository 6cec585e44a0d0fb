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
``DIR/.brv/brv-provider.json``.

Exit codes (:data:`EXIT_CODES`): 0 resolved; 1 unexpected error; 2 bad usage
(bad arguments or settings, a team query that names no team, several teams,
or a team that cannot be billed, an unusable project directory); 3
``status --require-funds`` found the credits exhausted or the pin invalid; 4
not signed in (no session key, or the session was refused); 5 upstream
unavailable (no status could be resolved, or the services failed).

Expected failures print one line, ``billing-core: error: ...``, on stderr and
never a traceback; nothing printed ever contains the session key. Names,
messages and paths from upstream, files or the user are shown with their
control and invisible formatting characters escaped (``\\x1b``, ``\\u202e``),
so they can neither drive the terminal nor forge a line; ``--json`` escapes
them the JSON way.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import textwrap
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, TextIO, TypeAlias

from attrs import evolve, field, frozen

from billing_core import __version__
from billing_core._session import session_key_flaw
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
from billing_core.funds import ensure_billing_funds, is_billing_exhausted
from billing_core.models import (
    BillingUsage,
    FreeUserLimit,
    InvalidPinBilling,
    OrganizationTier,
    PaidBilling,
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
from billing_core.resolution import (
    BYTEROVER_PROVIDER,
    TeamChoice,
    compute_team_preselection,
    paid_organization_ids,
    team_choices,
)
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

EXIT_CODES: Final[Mapping[int, str]] = {
    EXIT_OK: "resolved",
    EXIT_UNEXPECTED: "unexpected error (a bug: please report it)",
    EXIT_USAGE: "bad usage: arguments, settings, project directory, or a team that cannot pay",
    EXIT_NO_FUNDS: "status --require-funds: credits exhausted or the pin is invalid",
    EXIT_NOT_SIGNED_IN: "not signed in: no session key, or the session was refused",
    EXIT_UNAVAILABLE: "upstream unavailable: billing could not be resolved",
}

_PIN_FILE: Final = ".brv/brv-provider.json"
_MIN_SCRUBBED_SECRET: Final = 8
_DEFAULT_TIMEOUT: Final = 10.0

_ANSI: Final[Mapping[BillingTone, str]] = {
    "ok": "\x1b[32m",  # green
    "warn": "\x1b[33m",  # yellow
    "danger": "\x1b[31m",  # red
    "inactive": "\x1b[2m",  # dim
}
_ANSI_BOLD: Final = "\x1b[1m"
_ANSI_RESET: Final = "\x1b[0m"


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
    timeout: float

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
            return HttpBillingService(self.require_base_url(), timeout=self.timeout)

    def needs_billing_requests(self) -> bool:
        """Whether resolving the status asks the billing API anything (SPEC §9)."""
        return bool(self.session_key) and self.provider == BYTEROVER_PROVIDER

    def team_service(self) -> HttpTeamService:
        from billing_core.adapters.http import HttpTeamService

        base = self.team_base_url or self.require_base_url()
        with _upstream_errors("reach the team service"):
            return HttpTeamService(base, timeout=self.timeout)


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

# What a terminal may act on rather than show: C0/C1 controls (ESC starts the
# sequences that clear the screen or set the title; \n and \r forge lines),
# invisible formatting (bidi overrides reorder the text around them), line and
# paragraph separators, and lone surrogates (which no encoder accepts).
_UNPRINTABLE: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _is_unprintable(char: str) -> bool:
    return unicodedata.category(char) in _UNPRINTABLE


_SHORT_ESCAPES: Final[Mapping[str, str]] = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _printable(text: str) -> str:
    """``text`` as one inert line: every unprintable character shown as its escape.

    For anything that came from upstream, a file or the user (names, messages,
    paths, arguments) before it is put into a line.

    >>> _printable("Acme\\x1b[2J\\nBilling: forged \\u202e")
    'Acme\\\\x1b[2J\\\\nBilling: forged \\\\u202e'
    """
    if text.isprintable():  # the common case; stricter than _UNPRINTABLE
        return text
    return "".join(_escape(char) if _is_unprintable(char) else char for char in text)


def _printable_lines(text: str) -> str:
    """:func:`_printable` line by line: the CLI's own newlines stay, nothing else does."""
    return "\n".join(_printable(line) for line in text.split("\n"))


def _json_text(value: Any) -> str:
    """JSON for the terminal: non-ASCII stays readable, nothing unprintable stays raw.

    :func:`json.dumps` escapes C0 controls, but with ``ensure_ascii=False`` it
    leaves DEL, the C1 controls (``\\x9b`` is a one-byte CSI), bidi overrides
    and lone surrogates raw. They only occur inside strings, where a ``\\uXXXX``
    escape is the same JSON value: lossless for a reader, inert on a terminal.
    """
    text = json.dumps(value, indent=2, ensure_ascii=False)

    def escape(char: str) -> str:
        if char == "\n" or not _is_unprintable(char):  # newlines: the indentation's own
            return char
        units = char.encode("utf-16-le", "surrogatepass")
        return "".join(
            f"\\u{int.from_bytes(units[i : i + 2], 'little'):04x}" for i in range(0, len(units), 2)
        )

    return "".join(escape(char) for char in text)


def _write(stream: TextIO, text: str) -> None:
    """Write ``text``, escaping what the stream's encoding cannot carry instead of failing."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding, "replace"))
    stream.flush()


@frozen
class _Styled:
    """Text the console paints (after making it printable): a tone, or bold."""

    text: str
    style: BillingTone | Literal["bold"]


_Piece: TypeAlias = "str | _Styled"


class _Console:
    """stdout/stderr with optional colour.

    Everything written is scrubbed of the session key and made printable: an
    escape sequence or a forged line in a team name is shown, never obeyed.
    :meth:`print` keeps the line breaks of its text (the CLI's own); warnings
    and errors are one line. The only escape sequences written are the
    console's own colours.
    """

    def __init__(self, *, out: TextIO, err: TextIO, colour: bool, secret: str | None) -> None:
        self.out = out
        self.err = err
        self.colour = colour
        self._secrets = [secret] if secret else []

    def hide(self, secret: str) -> None:
        """Scrub ``secret`` too from everything printed from now on."""
        if secret:
            self._secrets.append(secret)

    def scrub(self, text: str) -> str:
        # Defence in depth: the library never puts the key in a message, and the
        # CLI makes sure that whatever it prints cannot either. A toy key of a
        # few characters is left alone: scrubbing it would mangle every line
        # (and the JSON) for a secret that guards nothing.
        for secret in self._secrets:
            if len(secret) >= _MIN_SCRUBBED_SECRET:
                text = text.replace(secret, "***")
        return text

    def print(self, *pieces: _Piece) -> None:
        """One line (or several, split by the CLI's own newlines) of plain and painted pieces."""
        _write(self.out, self.scrub("".join(self._render(piece) for piece in pieces)) + "\n")

    def warn(self, text: str) -> None:
        _write(self.err, _printable(self.scrub(f"{PROG}: warning: {text}")) + "\n")

    def error(self, text: str) -> None:
        _write(self.err, _printable(self.scrub(f"{PROG}: error: {text}")) + "\n")

    def tint(self, text: str, tone: BillingTone) -> _Styled:
        return _Styled(text, tone)

    def bold(self, text: str) -> _Styled:
        return _Styled(text, "bold")

    def _render(self, piece: _Piece) -> str:
        if isinstance(piece, str):
            return _printable_lines(self.scrub(piece))
        text = _printable_lines(self.scrub(piece.text))
        if not self.colour:
            return text
        code = _ANSI_BOLD if piece.style == "bold" else _ANSI[piece.style]
        # Line by line, so every line of a multi-line text is coloured on its own.
        return "\n".join(f"{code}{line}{_ANSI_RESET}" for line in text.split("\n"))


def _wants_colour(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if environ.get("NO_COLOR"):
        return False
    if environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def _print_json(console: _Console, value: Any) -> None:
    console.print(_json_text(value))


def _problem_wire(problem: Problem) -> dict[str, str]:
    return {"part": problem.part, "message": problem.message}


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
    """The funds guard's refusal, or ``None`` when the next request can be paid for."""
    needs_usages = isinstance(status, InvalidPinBilling) or (
        isinstance(status, PaidBilling) and is_billing_exhausted(status)
    )
    try:
        ensure_billing_funds(status, usages=usages() if needs_usages else ())
    except (InsufficientCreditsError, InvalidPinError) as exc:
        return str(exc)
    return None


def _cmd_status(args: argparse.Namespace, settings: _Settings, console: _Console) -> int:
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
                # Only to name the other paid teams in the advice: a failure
                # here must not hide the refusal itself.
                try:
                    return billing.get_usages(session_key)
                except BillingError:
                    return ()

            refusal = _funds_refusal(status, usages)

    if as_json:
        from billing_core.wire import to_wire

        _print_json(
            console,
            {
                "status": None if status is None else to_wire(status),
                "problems": [_problem_wire(p) for p in problems],
            },
        )
    elif status is not None:
        # One line, whatever the names in it hold: a newline in an org name must
        # not print a second, forged billing line.
        line = _printable(format_billing_line(status))
        console.print(console.tint(line, billing_tone(status)))
    if failure is not None:
        raise failure
    for problem in problems:
        console.warn(f"{problem.part}: {problem.message}")
    if refusal is not None:
        raise _CliError(EXIT_NO_FUNDS, refusal)
    return EXIT_OK


# --- teams ----------------------------------------------------------------------


def _read_pin(pins: FilePinStore, console: _Console) -> str | None:
    """The pin, warning (not failing) about a file that cannot be understood."""
    try:
        read = pins.read_pin()
    except PinStoreError as exc:
        console.warn(f"pins: {exc}; reading it as no pin")
        return None
    if read.problem is not None:
        console.warn(f"pins: {read.problem}; reading it as no pin")
    return read.team_id


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
    console: _Console, choices: Sequence[TeamChoice], *, preselected: str | None
) -> None:
    if not choices:
        console.print("No teams.")
        return
    header = ("", "TEAM", "SLUG", "CREDITS", "TIER", "STATE")
    # Cells made printable before they are measured: a newline in a team name
    # must not start a row, and the columns line up with what is shown.
    rows = [
        tuple(
            _printable(cell)
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

    def line(cells: Sequence[str], tones: Sequence[BillingTone | None]) -> list[_Piece]:
        pieces: list[_Piece] = []
        last = len(cells) - 1
        for index, (cell, width, tone) in enumerate(zip(cells, widths, tones, strict=True)):
            # The last column is not padded: no trailing blanks.
            text = cell.rstrip() if index == last else cell.ljust(width)
            pieces.append(console.tint(text, tone) if tone is not None else text)
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


def _cmd_teams(args: argparse.Namespace, settings: _Settings, console: _Console) -> int:
    as_json: bool = args.json
    session_key = settings.require_session_key()
    pins = settings.pin_store()
    with settings.billing_service() as billing, settings.team_service() as team_service:
        pinned = _read_pin(pins, console)
        with _upstream_errors("list teams"), ThreadPoolExecutor(max_workers=2) as pool:
            # One round trip instead of two: the services share nothing.
            teams_future = pool.submit(team_service.list_teams, session_key)
            usages_future = pool.submit(billing.get_usages, session_key)
            teams = teams_future.result()
            usages = usages_future.result()
    with _upstream_errors("list teams"):
        choices = team_choices(teams=teams, usages=usages, pinned_team_id=pinned)
        preselected = compute_team_preselection(
            teams=teams, paid_organization_ids=paid_organization_ids(usages), pinned_team_id=pinned
        )
    if as_json:
        _print_json(console, [_choice_wire(c, preselected=preselected) for c in choices])
    else:
        _print_team_table(console, choices, preselected=preselected)
    return EXIT_OK


# --- pin ------------------------------------------------------------------------


def _cmd_pin(args: argparse.Namespace, settings: _Settings, console: _Console) -> int:
    query: str | None = args.team
    clear: bool = args.clear
    if clear == (query is not None):
        raise _CliError(EXIT_USAGE, "pin: give a TEAM or --clear (not both)")
    from billing_core.service import pin_billing_team

    session_key = settings.require_session_key()
    pins = settings.pin_store()
    previous = _read_pin(pins, console) if clear else None
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
    backup = pins.last_backup_path
    if backup is not None:
        console.warn(f"the pin file was corrupt; its old content was kept in {backup}")
    where = _printable(str(settings.project / _PIN_FILE))
    if team is None:
        if previous is None:
            console.print(f"No billing team was pinned in {where}; nothing to clear.")
        else:
            console.print(f"Cleared the billing pin ({_printable(previous)}) in {where}.")
    else:
        label, slug, team_id = (_printable(t) for t in (team_label(team), team.slug, team.id))
        console.print(f"Pinned {label} (slug {slug}, id {team_id}) as the billing team in {where}.")
    return EXIT_OK


# --- demo -----------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace, settings: _Settings, console: _Console) -> int:
    from billing_core.testing.fake_api import FakeBillingApi
    from billing_core.testing.sample import sample_account

    parser = _parser()
    failures = 0

    def step(note: str, argv: Sequence[str], *, expect: int) -> None:
        nonlocal failures
        console.print()
        console.print(console.tint(f"# {note}", "inactive"))
        console.print(console.bold(f"$ {PROG} {' '.join(argv)}"))
        step_args = parser.parse_args(argv)
        try:
            code = _COMMANDS[step_args.command](step_args, demo_settings, console)
        except _CliError as exc:
            # On stdout, so the walk-through reads in order when piped.
            console.print(_printable(f"{PROG}: error: {exc.message}"))
            code = exc.code
        console.print(console.tint(f"(exit {code})", "inactive"))
        if code != expect:
            failures += 1
            console.error(f"demo step `{' '.join(argv)}` exited {code}, expected {expect}")

    console.print(console.bold(f"{PROG} demo"))
    console.print(
        "The real HTTP adapters, pin file and resolution, against a fake billing API on\n"
        "127.0.0.1 serving a sample account: Acme Corp (PRO), Side Project (FREE)."
    )
    with (
        tempfile.TemporaryDirectory(prefix="billing-core-demo-") as project,
        FakeBillingApi(sample_account()) as api,
    ):
        console.hide(api.session_key)
        demo_settings = evolve(
            settings,
            base_url=api.base_url,
            team_base_url=api.team_base_url,
            session_key=api.session_key,
            provider=BYTEROVER_PROVIDER,
            project=Path(project).resolve(),
        )
        console.print(f"Project: {demo_settings.project} (a temporary directory)")
        step(
            "Nothing pinned, exactly one paid team: billing picks Acme Corp by itself.",
            ["status"],
            expect=EXIT_OK,
        )
        step(
            "The team picker: a FREE-tier team cannot be billed; > marks the suggestion.",
            ["teams"],
            expect=EXIT_OK,
        )
        step("Pinning the FREE-tier team is refused.", ["pin", "side-project"], expect=EXIT_USAGE)
        step(
            f"Pin Acme Corp for this project (written to {_PIN_FILE}).",
            ["pin", "acme"],
            expect=EXIT_OK,
        )
        step("The pin decides who pays.", ["status"], expect=EXIT_OK)
        api.account = sample_account(acme_remaining=0)
        step(
            "Acme Corp has used all its credits: an agent gates its next request on the"
            " funds guard.",
            ["status", "--require-funds"],
            expect=EXIT_NO_FUNDS,
        )
        step("Clear the pin again.", ["pin", "--clear"], expect=EXIT_OK)
        requests = api.request_count
    console.print()
    console.print(f"Done: {requests} HTTP requests to the fake API, no account needed.")
    return EXIT_UNEXPECTED if failures else EXIT_OK


# --- the parser -----------------------------------------------------------------

_Command = Callable[[argparse.Namespace, _Settings, _Console], int]

_COMMANDS: Final[Mapping[str, _Command]] = {
    "status": _cmd_status,
    "teams": _cmd_teams,
    "pin": _cmd_pin,
    "demo": _cmd_demo,
}


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
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
        help=f"the project directory (default: the current one); its pin is DIR/{_PIN_FILE}",
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
        type=_positive_seconds,
        default=default(_DEFAULT_TIMEOUT),
        help=f"HTTP timeout per request (default: {_DEFAULT_TIMEOUT:g})",
    )


class _Parser(argparse.ArgumentParser):
    """argparse, with errors in the same one-line shape as every other failure."""

    def error(self, message: str) -> NoReturn:
        # The message may quote the arguments: shown, never obeyed by the terminal.
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, _printable(f"{PROG}: error: {message}") + "\n")


_EPILOG: Final = f"""\
environment:
  {ENV_BILLING_BASE_URL}  billing API base URL, e.g. https://api.example.com/api/v1
  {ENV_TEAM_BASE_URL}     team API base URL (default: the billing base URL)
  {ENV_SESSION_KEY}       your session key (never printed)
  {ENV_ACTIVE_PROVIDER}   the active LLM provider (default: {BYTEROVER_PROVIDER})
  NO_COLOR              set to disable colours (colours are used only on a terminal)

exit codes:
""" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())


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
        help='print {"status": <wire JSON or null>, "problems": [{"part", "message"}]}',
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
    teams.add_argument("--json", action="store_true", help="print the rows as a JSON list")

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
    console = _Console(
        out=sys.stdout,
        err=sys.stderr,
        colour=_wants_colour(sys.stdout, environ),
        secret=environ.get(ENV_SESSION_KEY) or None,
    )
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        with _quiet_library_logs():
            # The demo brings its own API, session and project: settings meant
            # for the real service must not break it.
            settings = _settings(args, {} if args.command == "demo" else environ)
            return _COMMANDS[args.command](args, settings, console)
    except _CliError as exc:
        console.error(exc.message)
        return exc.code
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`billing-core teams | head -1`): nothing left to say.
        _silence_stdout()
        return EXIT_UNEXPECTED
    except Exception as exc:
        # A bug, not an expected failure: still one line, and still no key.
        console.error(f"unexpected {type(exc).__name__}: {exc} (please report this)")
        return EXIT_UNEXPECTED
