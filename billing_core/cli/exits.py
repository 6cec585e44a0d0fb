"""The program's name, its exit codes, and the expected failure that ends a run with one.

A leaf: every other module of the command line (the demo included) takes
these from here, so none of them needs to import another to exit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "ERROR_KINDS",
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


ERROR_KINDS: Final[Mapping[str, tuple[int, str]]] = {
    # kind: (exit code, when). A kind never changes meaning once released;
    # new failures get new kinds.
    "bad-arguments": (EXIT_USAGE, "the command line: an unknown command or flag, a bad value"),
    "bad-endpoint": (
        EXIT_USAGE,
        "an endpoint variable is not a usable root domain (a path, a query, plain http to a"
        " remote host)",
    ),
    "wrong-base-url": (
        EXIT_USAGE,
        "an API path answered 404: the endpoint variable names the wrong host",
    ),
    "bad-session-key": (EXIT_USAGE, "BRV_SESSION_KEY could not be sent in a header"),
    "bad-provider": (EXIT_USAGE, "the provider given is byterover misspelt"),
    "bad-project": (
        EXIT_USAGE,
        "the project cannot be used: a missing directory, a broken worktree pointer, an odd .brv",
    ),
    "pin-file-unusable": (EXIT_USAGE, "the pin file cannot be read or written"),
    "team-not-found": (EXIT_USAGE, "pin: no team matches the query"),
    "team-ambiguous": (EXIT_USAGE, "pin: several teams match the query"),
    "team-not-billable": (EXIT_USAGE, "pin: the team cannot be billed (FREE tier, no usage)"),
    "no-funds": (EXIT_NO_FUNDS, "status --require-funds: the payer's credits are exhausted"),
    "invalid-pin": (EXIT_NO_FUNDS, "status --require-funds: the pinned team cannot be billed"),
    "pin-unreadable": (
        EXIT_NO_FUNDS,
        "status --require-funds: the pin file cannot be read, so the payer may not be the team"
        " pinned",
    ),
    "not-signed-in": (EXIT_NOT_SIGNED_IN, "no session key and no brv login"),
    "session-expired": (EXIT_NOT_SIGNED_IN, "the brv login has expired"),
    "login-unreadable": (EXIT_NOT_SIGNED_IN, "the brv login is there but cannot be read"),
    "session-refused": (EXIT_NOT_SIGNED_IN, "the upstream refused the session (401/403)"),
    "upstream-unavailable": (
        EXIT_UNAVAILABLE,
        "the upstream could not be reached or answered badly",
    ),
    "interrupted": (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
    "unexpected": (EXIT_UNEXPECTED, "a bug: please report it"),
}
"""Every ``error.kind`` a ``--json`` document may carry: its exit code and when it happens."""

# The kind of a failure raised without one: the broad kind of its exit code.
_KIND_OF_CODE: Final[Mapping[int, str]] = {
    EXIT_USAGE: "bad-arguments",
    EXIT_NO_FUNDS: "no-funds",
    EXIT_NOT_SIGNED_IN: "not-signed-in",
    EXIT_UNAVAILABLE: "upstream-unavailable",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_UNEXPECTED: "unexpected",
}


class _CliError(Exception):
    """An expected failure: one line on stderr, an exit code and a stable kind.

    ``kind`` is one of :data:`ERROR_KINDS` and must agree with ``code``.
    """

    def __init__(self, code: int, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.kind = _KIND_OF_CODE[code] if kind is None else kind
        if ERROR_KINDS[self.kind][0] != code:
            raise ValueError(f"error kind {self.kind!r} does not go with exit {code}")
