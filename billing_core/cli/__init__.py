"""The ``billing-core`` command line (also ``python -m billing_core``).

For people and agents: who pays for this project's next LLM request, which
teams could, and which one is pinned.

.. code-block:: text

    billing-core status [--json] [--require-funds]
    billing-core teams [--json]
    billing-core pin TEAM | billing-core pin --clear
    billing-core demo

Settings are read the way the brv CLI reads them, so a brv user needs none:
the session from ``BRV_SESSION_KEY``, else the brv CLI's stored login; the
active provider from ``--provider``, else ``BRV_ACTIVE_PROVIDER``, else brv's
``providers.json``; the endpoints from the root domains in
``BRV_BILLING_BASE_URL``, ``BRV_IAM_BASE_URL`` and ``BRV_WEB_APP_URL``
(defaults: the production hosts); the project from ``--project DIR``, else
the first ``.brv`` up from the working directory (a worktree's ``.brv``
pointer leads to its project). The pin lives in ``<project>/.brv/brv-provider.json``.
``--timeout SECONDS`` bounds each HTTP request (default 10).

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

With ``--json`` (``status``, ``teams``, ``pin``) stdout holds one JSON
document whatever the exit code, always of one shape, the error line still
going to stderr: the command's own key (``"status"``, ``"teams"`` or
``"pin"``), ``"problems"``, ``"project"`` and, when it exits non-zero,
``"error": {"code", "kind", "message"}``. ``error.kind`` is one of
:data:`~billing_core.cli.exits.ERROR_KINDS`, ``error.message`` the stderr line
without its ``billing-core: error:`` prefix; ``docs/cli-json.schema.json`` is
the JSON Schema of every document.

The package, one job per module: :mod:`~billing_core.cli.exits` (exit codes
and the expected failure), :mod:`~billing_core.cli.environment` (the
variables' names), :mod:`~billing_core.cli.settings` (environment and
flags), :mod:`~billing_core.cli.parser` (the arguments),
:mod:`~billing_core.cli.commands` (the four commands),
:mod:`~billing_core.cli.render` (what they print),
:mod:`~billing_core.cli.terminal` (inert text, colour, the console) and
:mod:`~billing_core.cli.demo` (the walk-through). This module only runs them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from billing_core.cli.environment import ENV_SESSION_KEY as _ENV_SESSION_KEY

# The commands and their rendering load only once a command runs: `--help` and
# `--version` do without them, and `--version` without the settings and the
# console too (they load the models): those are re-exported lazily below. The
# `X as X` imports are re-exports: PROG and PIN_FILE are public, and the tests
# call _parser and _settings from here.
from billing_core.cli.exits import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_NO_FUNDS,
    EXIT_NOT_SIGNED_IN,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    _CliError,
)
from billing_core.cli.exits import PROG as PROG
from billing_core.cli.parser import _asks_version, _json_command, _version_line
from billing_core.cli.parser import _parser as _parser

if TYPE_CHECKING:
    from billing_core.cli.settings import (
        ENV_ACTIVE_PROVIDER,
        ENV_BILLING_BASE_URL,
        ENV_IAM_BASE_URL,
        ENV_SESSION_KEY,
        ENV_WEB_APP_URL,
        _Settings,
    )
    from billing_core.cli.settings import PIN_FILE as PIN_FILE
    from billing_core.cli.settings import _settings as _settings

_FROM_SETTINGS = frozenset(
    {
        "ENV_ACTIVE_PROVIDER",
        "ENV_BILLING_BASE_URL",
        "ENV_IAM_BASE_URL",
        "ENV_SESSION_KEY",
        "ENV_WEB_APP_URL",
        "PIN_FILE",
        "_settings",
    }
)


def __getattr__(name: str) -> Any:
    # PEP 562: the names re-exported from the settings module, loaded on first use.
    if name not in _FROM_SETTINGS:
        raise AttributeError(f"module 'billing_core.cli' has no attribute {name!r}")
    from billing_core.cli import settings

    value = getattr(settings, name)
    globals()[name] = value
    return value


__all__ = [
    "ENV_ACTIVE_PROVIDER",
    "ENV_BILLING_BASE_URL",
    "ENV_IAM_BASE_URL",
    "ENV_SESSION_KEY",
    "ENV_WEB_APP_URL",
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_SIGNED_IN",
    "EXIT_NO_FUNDS",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "main",
    "run",
]


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


def run() -> NoReturn:
    """The console script: :func:`main` on ``sys.argv``, Ctrl-C taken once, then exit.

    The first Ctrl-C interrupts whatever runs (exit 130 within moments: the
    worker threads of a request in flight are daemons); later ones are
    ignored, so an impatient second press never prints a traceback from the
    interpreter's shutdown. :func:`main` itself leaves signals alone, for
    programs that embed it.
    """
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        signal.signal(signal.SIGINT, _interrupt_once)
    sys.exit(main())


def _interrupt_once(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _devnull() -> TextIO:
    # Open for the rest of the run, which is short: nothing to close.
    return open(os.devnull, "w", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    >>> main(["--version"])  # doctest: +SKIP
    billing-core 0.1.0
    0
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    if _asks_version(arguments):  # answered before anything heavy loads
        try:
            print(_version_line(), flush=True)
        except BrokenPipeError:
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        return EXIT_OK
    # The settings load once the arguments are parsed: they load the models,
    # which `--help` does without.
    from billing_core.cli.terminal import Console, terminal_width, wants_colour, wants_progress

    environ = os.environ
    json_command = _json_command(arguments)
    # Started with stdout or stderr closed (`>&-`), Python sets them to None:
    # what would go there is dropped, and the exit code still says what happened.
    out = sys.stdout if sys.stdout is not None else _devnull()
    err = sys.stderr if sys.stderr is not None else _devnull()
    console = Console(
        out=out,
        err=err,
        colour=wants_colour(out, environ),
        secret=environ.get(_ENV_SESSION_KEY) or None,
        prog=PROG,
        # Never with --json: its reader wants the document, not a spinner.
        progress=json_command is None and wants_progress(out, err, environ),
        width=terminal_width(out, environ),
    )
    settings: _Settings | None = None  # once read: the project a failure document names
    try:
        with _quiet_library_logs():
            args = _parser().parse_args(arguments)
            if args.command == "demo":
                # The demo brings its own API, session and project: it reads
                # none of the user's settings, login or files.
                from billing_core.cli.commands import _cmd_demo

                return _cmd_demo(args, console)
            from billing_core.cli.settings import _settings

            settings = _settings(args, environ)
            if settings.session.source == "brv login" and settings.session_key:
                console.hide(settings.session_key)
            from billing_core.cli.commands import _COMMANDS

            return _COMMANDS[args.command](args, settings, console)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except _CliError as exc:
        failure = exc
    except KeyboardInterrupt:
        failure = _CliError(EXIT_INTERRUPTED, "interrupted")
    except BrokenPipeError:
        # The reader went away (`billing-core teams | head -1`): nothing left to say.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        # A bug, not an expected failure: still one line, and still no key.
        failure = _CliError(
            EXIT_UNEXPECTED, f"unexpected {type(exc).__name__}: {exc} (please report this)"
        )
    try:
        if json_command is not None and not console.printed_json:
            # A reader of --json always gets a document, whatever went wrong.
            from billing_core.cli.render import _failure_wire

            console.print_json(_failure_wire(json_command, failure, settings=settings))
        console.error(failure.message)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    return failure.code
