"""The program's name, its exit codes, and the expected failure that ends a run with one.

A leaf: every other module of the command line (the demo included) takes
these from here, so none of them needs to import another to exit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_SIGNED_IN",
    "EXIT_NO_FUNDS",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "PROG",
]

PROG: Final = "billing-core"

EXIT_OK: Final = 0
EXIT_UNEXPECTED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NO_FUNDS: Final = 3
EXIT_NOT_SIGNED_IN: Final = 4
EXIT_UNAVAILABLE: Final = 5
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as shells report it
EXIT_BROKEN_PIPE: Final = 141  # 128 + SIGPIPE: what `cat` reports when `head` stops reading

EXIT_CODES: Final[Mapping[int, str]] = {
    EXIT_OK: "resolved",
    EXIT_UNEXPECTED: "unexpected error (a bug: please report it)",
    EXIT_USAGE: "bad usage: arguments, settings, project directory, or a team that cannot pay",
    EXIT_NO_FUNDS: (
        "status --require-funds: credits exhausted, the pin is invalid, or the pin cannot be read"
    ),
    EXIT_NOT_SIGNED_IN: "not signed in: no session key, or the session was refused",
    EXIT_UNAVAILABLE: "upstream unavailable: billing could not be resolved",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_BROKEN_PIPE: "stdout was closed by its reader (e.g. `| head -1`); nothing is printed",
}


class _CliError(Exception):
    """An expected failure: one line on stderr and an exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
