"""The arguments: the argparse parser, its help text, and the raw scans before it.

The conventions are gh's and ruff's: flags are spelt in full (no parser
accepts an abbreviation, and neither do the raw scans); an unknown command or
flag is refused with a "did you mean" when one is close; a mistake after the
subcommand prints the subcommand's usage; ``-V`` is ``--version``. The
environment and the exit codes are listed once, in the top-level ``--help``;
each subcommand's help ends with examples.

The raw scans read ``--json`` and ``--version`` from the arguments as given.
Importing this module imports nothing heavy, and ``--version`` is answered
by its scan without building the parser. Building the parser, and printing
any ``--help``, loads neither httpx nor the models: the help text takes its
names and defaults from modules that import neither.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any, Final, NoReturn

from billing_core import __version__
from billing_core.adapters._timeouts import DEFAULT_TIMEOUT, MAX_TIMEOUT
from billing_core.cli.environment import ENV_ACTIVE_PROVIDER as _ENV_ACTIVE_PROVIDER
from billing_core.cli.environment import ENV_DATA_DIR as _ENV_DATA_DIR
from billing_core.cli.environment import ENV_SESSION_KEY as _ENV_SESSION_KEY
from billing_core.cli.exits import EXIT_CODES, EXIT_NO_FUNDS, EXIT_USAGE, PROG, _CliError

_NO_COLOR: Final = "NO_COLOR"

# The one provider billed in credits (billing_core.resolution.BYTEROVER_PROVIDER,
# which loads the models; a test checks they agree).
_BYTEROVER: Final = "byterover"

# --- the raw scans ----------------------------------------------------------------

_JSON_COMMANDS: Final = frozenset({"status", "teams", "pin"})
# The options of _add_common_options, which take a value.
_VALUE_OPTIONS: Final = frozenset({"--project", "--provider", "--timeout"})
# The top-level parser's short options (none takes a value) and its flags.
_SHORT_FLAGS: Final = frozenset("hV")
_TOP_LEVEL_OPTIONS: Final = _VALUE_OPTIONS | {"--help", "--version", "-h", "-V"}
# What argparse takes for a negative number, hence for a positional argument.
_NEGATIVE_NUMBER: Final = re.compile(r"^-\d+$|^-\d*\.\d+$")


def _json_command(argv: Sequence[str]) -> str | None:
    """The command whose ``--json`` document this run owes, if it asked for one.

    Read from the raw arguments, before argparse, so that arguments argparse
    refuses still get their failure as JSON. The command is the first argument
    that names one, but for the value of an option (``--project status``).
    Options count only spelt in full, as argparse reads them: ``--js`` is not
    ``--json`` (``--json=1`` is, refused by argparse, so it still gets its
    document).
    """
    command: str | None = None
    wants_json = False
    takes_value = False
    for token in argv:
        if token == "--":
            break
        if takes_value:
            takes_value = False
        elif token in _VALUE_OPTIONS:
            takes_value = True
        elif token.partition("=")[0] == "--json":
            wants_json = True
        elif command is None and not token.startswith("-"):
            command = token
    return command if wants_json and command in _JSON_COMMANDS else None


def _reads_as_option(token: str) -> bool:
    """Whether the top-level parser reads ``token`` as an option (else: a positional)."""
    if not token.startswith("-") or token in ("-", "--"):
        return False
    if token.partition("=")[0] in _TOP_LEVEL_OPTIONS or token[:2] in ("-h", "-V"):
        return True
    # An unknown option, unless it looks like a negative number or holds a space.
    return not _NEGATIVE_NUMBER.match(token) and " " not in token


def _short_cluster_asks_version(token: str) -> bool:
    """Whether a cluster of short flags (``-V``, ``-Vh``, ``-hV``) shows the version.

    argparse takes the flags of a cluster in order, and the first of ``-h``
    and ``-V`` answers. Anything else in the cluster (``-Vx``, ``-V=h``) is
    left to argparse, whose answer differs between Python versions: the scan
    only ever answers where every version shows the version.
    """
    letters = token[1:]
    return letters[:1] == "V" and set(letters) <= _SHORT_FLAGS


def _asks_version(argv: Sequence[str]) -> bool:
    """Whether argparse would answer ``argv`` with the version (and nothing else).

    That is ``-V`` or ``--version`` before the command, not as the value of an
    option, and not after ``-h``/``--help`` (the first one wins). An unknown
    option before it does not matter (argparse refuses it only once done),
    nor does an abbreviation: it is an unknown option too. When in doubt it
    says no: argparse, run then, still shows the version if it should.
    """
    takes_value = False
    for token in argv:
        option = _reads_as_option(token)
        if takes_value:
            if option or token == "--":
                return False  # argparse: "expected one argument"
            takes_value = False
        elif not option:
            return False  # the command, "--", or a positional argparse refuses
        elif token in _VALUE_OPTIONS:
            takes_value = True
        elif token == "--version":
            return True
        elif token[:2] in ("-h", "-V"):
            return _short_cluster_asks_version(token)
        elif token.partition("=")[0] in ("--help", "--version"):
            return False  # --help itself, or a flag given a value: refused
    return False


def _version_line() -> str:
    """What ``--version`` prints."""
    return f"{PROG} {__version__}"


# --- "did you mean" ---------------------------------------------------------------


def _closest(typed: str, known: Iterable[str]) -> str | None:
    """The name ``typed`` most likely meant, if one is close enough.

    A unique completion first (what an abbreviation used to mean), then the
    closest spelling, case aside (``-v`` means ``-V``).
    """
    names = sorted(set(known))
    completions = [name for name in names if name.startswith(typed)]
    if len(completions) == 1:
        return completions[0]
    by_folded = {name.casefold(): name for name in names}
    close = difflib.get_close_matches(typed.casefold(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[close[0]] if close else None


def _did_you_mean(suggestion: str | None) -> str:
    return "" if suggestion is None else f" (did you mean {suggestion!r}?)"


def _where(flag: str, command: str | None) -> str:
    """``flag`` as it is typed: after its command (``status --json``), if it needs one."""
    return flag if command is None else f"{command} {flag}"


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """The flags ``parser`` offers (those its help shows, and ``-h``)."""
    return {
        option
        for action in parser._actions
        if action.help is not argparse.SUPPRESS or isinstance(action, argparse._HelpAction)
        for option in action.option_strings
    }


# --- the parser -----------------------------------------------------------------


def _timeout_seconds(text: str) -> float:
    """A ``--timeout`` the HTTP adapters accept, or bad usage now rather than later."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= MAX_TIMEOUT:  # NaN fails the comparison too
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds up to {MAX_TIMEOUT:g}: {text!r}"
        )
    return value


# Options the demo refuses: it brings its own project, session and fake API.
_NOT_FOR_DEMO: Final = ("project", "provider", "timeout")


def _add_common_options(
    parser: argparse.ArgumentParser, *, defaults: bool, shown: bool = True
) -> None:
    # The options are accepted before and after the subcommand; on a subcommand
    # they default to SUPPRESS so they do not erase a value given before it.
    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    def help_text(text: str) -> str:
        # Hidden where they are refused (demo): parsed only to refuse them clearly.
        return text if shown else argparse.SUPPRESS

    parser.add_argument(
        "--project",
        metavar="DIR",
        default=default(None),
        help=help_text(
            "find the project from DIR instead of the current directory, the way brv"
            " finds it: the nearest .brv up the tree"
        ),
    )
    parser.add_argument(
        "--provider",
        metavar="NAME",
        default=default(None),
        help=help_text(
            f"the project's active LLM provider (default: ${_ENV_ACTIVE_PROVIDER}, else the brv"
            f" CLI's providers.json); billing applies only to {_BYTEROVER}"
        ),
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_timeout_seconds,
        default=default(None),
        help=help_text(
            f"HTTP timeout per request, in seconds (default: {DEFAULT_TIMEOUT:g};"
            f" at most {MAX_TIMEOUT:g})"
        ),
    )


class _Parser(argparse.ArgumentParser):
    """argparse, with gh's conventions and errors in the one-line shape of every failure.

    Every error prints the usage of the parser that met it (a subcommand's
    own for a mistake after the subcommand) and raises a
    :class:`~billing_core.cli.exits._CliError`: ``main`` reports it like every
    other failure (one inert line, and the JSON failure document when
    ``--json`` was asked for). Unknown commands and flags get a "did you mean".
    """

    commands: dict[str, _Parser]
    """The subcommands' parsers, by name (empty on a subcommand's parser)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # every parser, subcommands included
        super().__init__(*args, **kwargs)
        self.commands = {}
        self._arguments: list[str] = []  # what parse_known_args was given, to name a mistake

    def error(self, message: str) -> NoReturn:
        """Print the usage, then raise the failure (exit 2) for ``main`` to report."""
        self.print_usage(sys.stderr)
        raise _CliError(EXIT_USAGE, message)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # The one choice argparse checks is the command: say which one was meant.
        if isinstance(action, argparse._SubParsersAction) and value not in action.choices:
            # `--timout 5 status`: argparse takes 5 for the command, but the
            # mistake is the flag before it.
            flag = self._unknown_flag_before(value)
            if flag is not None:
                self.error(self._unknown_message([flag], None, None))
            suggestion = _closest(value, self.commands) or self._flag_named(value)
            self.error(f"unknown command {value!r}{_did_you_mean(suggestion)}")
        super()._check_value(action, value)

    def _flag_named(self, word: str) -> str | None:
        """The flag ``word`` names without its dashes (``help``: ``--help``), as it is typed.

        People coming from git or go type ``billing-core help`` and
        ``billing-core version``; ``json`` and ``clear`` name a command's flag.
        """
        flag = f"--{word.casefold()}"
        flags = self._flags(None)
        return _where(flag, flags[flag]) if flag in flags else None

    def _flags(self, command: str | None) -> dict[str, str | None]:
        """The flags a mistake may have meant, each with the command it goes after
        (``None``: this parser's own).

        The command's flags when one is given; without one, every command's,
        each with the first command that has it (they are listed most used
        first: ``--json`` is ``status --json``).
        """
        flags: dict[str, str | None] = dict.fromkeys(_option_strings(self))
        others = self.commands if command is None else {command: self.commands[command]}
        for name, sub in others.items():
            for option in _option_strings(sub):
                flags.setdefault(option, name)
        return flags

    def _unknown_flag_before(self, command: str) -> str | None:
        known = _option_strings(self)
        for token in self._arguments:
            if token == command:
                return None
            if _reads_as_option(token) and token.partition("=")[0] not in known:
                return token
        return None

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse ``args``; anything unknown is an error, raised by the parser that met it.

        A subcommand's parser refuses what it does not know itself (argparse
        would leave it to the top-level parser, which prints its own usage).
        """
        self._arguments = list(sys.argv[1:] if args is None else args)
        parsed, unknown = super().parse_known_args(args, namespace)
        command: str | None = getattr(parsed, "command", None)
        sub = self.commands.get(command or "")
        if unknown:
            self.error(self._unknown_message(unknown, sub, command))
        if self.commands and command is None:
            # Checked here rather than by argparse (the subparsers are not
            # `required`), so that an unknown flag is named first: `-v` is `-V`.
            self.error("the following arguments are required: COMMAND")
        if sub is not None and command == "demo":
            given = [name for name in _NOT_FOR_DEMO if getattr(parsed, name, None) is not None]
            if given:
                sub.error(
                    f"demo takes no --{given[0]}: the demo brings its own project,"
                    " session and fake API"
                )
        return parsed, unknown

    def _unknown_message(
        self, unknown: Sequence[str], sub: _Parser | None, command: str | None
    ) -> str:
        flag = next((arg.partition("=")[0] for arg in unknown if _reads_as_option(arg)), None)
        if flag is None:
            return f"unrecognized arguments: {' '.join(unknown)}"
        # Given before the command (or with none), a flag of a command: show
        # where it goes. Only the command given counts, when there is one.
        flags = self._flags(command if sub is not None else None)
        suggestion = _closest(flag, flags)
        meant = None if suggestion is None else _where(suggestion, flags[suggestion])
        return f"unknown flag {flag!r}{_did_you_mean(meant)}"


def _table(rows: Iterable[tuple[str, str]], *, width: int = 79) -> str:
    """Two columns, the second wrapped under itself: an epilog's list of names."""
    pairs = list(rows)
    name_width = max(len(name) for name, _ in pairs)
    indent = " " * (2 + name_width + 2)
    return "\n".join(
        textwrap.fill(
            text,
            width=width,
            initial_indent=f"  {name:<{name_width}}  ",
            subsequent_indent=indent,
            break_on_hyphens=False,
        )
        for name, text in pairs
    )


def _environment() -> list[tuple[str, str]]:
    # brv_endpoints imports attrs and the errors, not the models nor httpx.
    from billing_core.adapters.brv_endpoints import (
        API_V1_PATH,
        DEFAULT_BILLING_BASE_URL,
        DEFAULT_IAM_BASE_URL,
        DEFAULT_WEB_APP_URL,
        ENV_BILLING_BASE_URL,
        ENV_IAM_BASE_URL,
        ENV_WEB_APP_URL,
    )

    return [
        (
            _ENV_SESSION_KEY,
            "your session key, never printed (else the brv CLI's stored login is used)",
        ),
        (
            ENV_BILLING_BASE_URL,
            f"billing API root domain (default: {DEFAULT_BILLING_BASE_URL};"
            f" {API_V1_PATH} is appended)",
        ),
        (
            ENV_IAM_BASE_URL,
            f"teams API root domain (default: {DEFAULT_IAM_BASE_URL}; {API_V1_PATH} is appended)",
        ),
        (ENV_WEB_APP_URL, f"web app for top-up links (default: {DEFAULT_WEB_APP_URL})"),
        (
            _ENV_ACTIVE_PROVIDER,
            "the active LLM provider (else the brv CLI's providers.json; --provider overrides it)",
        ),
        (_ENV_DATA_DIR, "where the brv CLI's login is read from"),
        (_NO_COLOR, "set to disable colour (colour is used only on a terminal)"),
    ]


def _top_level_epilog() -> str:
    exit_codes = "\n".join(f"  {code:<3}  {meaning}" for code, meaning in EXIT_CODES.items())
    return (
        f"environment:\n{_table(_environment())}\n\n"
        f"exit codes:\n{exit_codes}\n\n"
        f"Run `{PROG} COMMAND --help` for a command's options and examples."
    )


def _examples(*examples: tuple[str, str]) -> str:
    """A subcommand's epilog: its examples (what each shows, then the command line)."""
    shown = "\n\n".join(f"  # {what}\n  {command}" for what, command in examples)
    return f"examples:\n{shown}\n\nThe environment and the exit codes: `{PROG} --help`."


def _json_help(value: str) -> str:
    """The ``--json`` help of a command whose document holds ``value``."""
    return (
        f"print one JSON document whatever the exit code: {{{value}, "
        '"problems": [...], "project": {...}}, and "error": {"code", "kind", "message"} '
        "when it fails (docs/cli-json.schema.json)"
    )


def _parser() -> argparse.ArgumentParser:
    """The ``billing-core`` parser: the common options, then one of the four commands."""
    parser = _Parser(
        prog=PROG,
        description=textwrap.fill(
            "Who pays for this project's next LLM request, how many credits are left, "
            "and which team is pinned.",
            width=78,
        ),
        epilog=_top_level_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("-V", "--version", action="version", version=_version_line())
    _add_common_options(parser, defaults=True)
    # Not `required`: _Parser.parse_known_args asks for the command itself.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(
        name: str, help_text: str, description: str, epilog: str, *, common: bool = True
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=textwrap.fill(description, width=78),
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,
        )
        _add_common_options(sub, defaults=False, shown=common)
        parser.commands[name] = sub
        return sub

    status = command(
        "status",
        "print who pays for the next request",
        "Print the billing line: who pays for the project's next request and how many "
        "credits are left. Problems met on the way are printed as warnings on stderr.",
        _examples(
            ("who pays for the next request, as one line", f"{PROG} status"),
            ("the same for a script: the status on the wire", f"{PROG} status --json"),
            (
                f"gate an agent: exit {EXIT_NO_FUNDS} when the next request cannot be paid for",
                f"{PROG} status --require-funds && my-agent",
            ),
            ("another project than the current directory's", f"{PROG} --project ~/code/app status"),
        ),
    )
    status.add_argument(
        "--json",
        action="store_true",
        help=_json_help('"status": <the status on the wire, or null>'),
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
        _examples(
            ("the teams, their credits and which one is pinned", f"{PROG} teams"),
            (
                "the slugs of the teams that can be pinned",
                f"{PROG} teams --json | jq -r '.teams[] | select(.selectable) | .team.slug'",
            ),
        ),
    )
    teams.add_argument(
        "--json",
        action="store_true",
        help=_json_help('"teams": [<one object per row>]'),
    )

    pin = command(
        "pin",
        "pin the team that pays for this project, or clear the pin",
        "Pin the team billed for this project's requests. TEAM is a team id, slug, name "
        f"or display name. A query that matches no team or several teams, or a team that "
        f"cannot be billed (FREE tier), is refused with exit {EXIT_USAGE}.",
        _examples(
            ("pin a team by its slug (or its id, name or display name)", f"{PROG} pin acme"),
            ("a display name with a space: quote it", f"{PROG} pin 'Acme Corp'"),
            ("clear the pin: the default payer pays again", f"{PROG} pin --clear"),
            ("pin from a script, reading what was done", f"{PROG} pin acme --json"),
        ),
    )
    pin.add_argument("team", metavar="TEAM", nargs="?", help="the team to pin")
    pin.add_argument("--clear", action="store_true", help="remove the pin")
    pin.add_argument(
        "--json",
        action="store_true",
        help=_json_help('"pin": {"action", "team", "previousTeamId", "file", "backup"}'),
    )

    command(
        "demo",
        "walk through status, teams and pin against a built-in fake API",
        "Run the whole flow on an embedded fake billing API with a sample account and a "
        "temporary project: no account, network or settings needed (so it takes no "
        "--project, --provider or --timeout).",
        _examples(
            ("the walk-through, in colour on a terminal", f"{PROG} demo"),
            ("the same as plain text", f"{PROG} demo > demo.txt"),
        ),
        common=False,
    )
    return parser
