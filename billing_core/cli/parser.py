"""The arguments: the argparse parser, its help text, and the raw scans before it.

The raw scans read ``--json`` and ``--version`` from the arguments as given.
Importing this module imports nothing heavy, and ``--version`` is answered
by its scan without building the parser (nor loading the settings and the
models the help text names). Building the parser loads no HTTP code: only a
``--timeout`` given on the command line loads the HTTP adapters (to check it
against their maximum).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, Final, NoReturn

from billing_core import __version__
from billing_core.cli.exits import EXIT_CODES, EXIT_NO_FUNDS, EXIT_USAGE, PROG, _CliError

# --- the raw scan ---------------------------------------------------------------

_JSON_COMMANDS: Final = frozenset({"status", "teams"})
# The options of _add_common_options that take a value.
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


def _asks_version(argv: Sequence[str]) -> bool:
    """Whether argparse would answer ``argv`` with the version (and nothing else).

    That is ``--version`` (or an abbreviation) before the command, not as the
    value of an option, and not after ``--help`` (the first one wins).
    """
    takes_value = False
    for token in argv:
        if takes_value:
            takes_value = False
        elif token == "--" or not token.startswith("-"):
            return False  # the command, or a positional argparse will refuse
        elif len(token) > 2 and any(option.startswith(token) for option in _VALUE_OPTIONS):
            takes_value = True
        elif len(token) > 2 and "--version".startswith(token):
            return True
        elif token == "-h" or (len(token) > 2 and "--help".startswith(token)):
            return False
    return False


def _version_line() -> str:
    """What ``--version`` prints."""
    return f"{PROG} {__version__}"


# --- the parser -----------------------------------------------------------------


def _timeout_seconds(text: str) -> float:
    """A ``--timeout`` the HTTP adapters accept, or bad usage now rather than later."""
    from billing_core.adapters._timeouts import MAX_TIMEOUT

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
    # Loaded with the parser, not with this module: --version does without them.
    from billing_core.cli.settings import ENV_ACTIVE_PROVIDER, PIN_FILE
    from billing_core.resolution import BYTEROVER_PROVIDER

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


def _epilog() -> str:
    from billing_core.cli.settings import (
        ENV_ACTIVE_PROVIDER,
        ENV_BILLING_BASE_URL,
        ENV_SESSION_KEY,
        ENV_TEAM_BASE_URL,
    )
    from billing_core.resolution import BYTEROVER_PROVIDER

    return f"""\
environment:
  {ENV_BILLING_BASE_URL}  billing API base URL, e.g. https://api.example.com/api/v1
  {ENV_TEAM_BASE_URL}     team API base URL (default: the billing base URL)
  {ENV_SESSION_KEY}       your session key (never printed)
  {ENV_ACTIVE_PROVIDER}   the active LLM provider (default: {BYTEROVER_PROVIDER})
  NO_COLOR              set to disable colours (colours are used only on a terminal)

exit codes:
""" + "\n".join(f"  {code:<3}  {meaning}" for code, meaning in EXIT_CODES.items())


def _parser() -> argparse.ArgumentParser:
    epilog = _epilog()
    parser = _Parser(
        prog=PROG,
        description=textwrap.fill(
            "Who pays for this project's next LLM request, how many credits are left, "
            "and which team is pinned.",
            width=78,
        ),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version_line())
    _add_common_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=textwrap.fill(description, width=78),
            epilog=epilog,
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
