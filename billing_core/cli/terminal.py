"""What the command line writes: inert text, optional colour, never the session key.

Names, messages and paths from upstream, files or the user reach a terminal
only through :func:`printable` (or :func:`json_text`): a control or invisible
formatting character is shown as its escape (``\\x1b``, ``\\u202e``), never
obeyed, so it can neither drive the terminal nor forge a line. The only escape
sequences written are the console's own colours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal, TextIO, TypeAlias

from attrs import frozen

from billing_core._labels import is_unshowable
from billing_core.presentation import BillingTone

__all__ = [
    "Console",
    "Piece",
    "Styled",
    "bold",
    "json_text",
    "printable",
    "tint",
    "wants_colour",
]

# A toy key of a few characters is not scrubbed: replacing it would mangle
# every line (and the JSON) for a secret that guards nothing.
_MIN_SCRUBBED_SECRET: Final = 8

_ANSI: Final[Mapping[BillingTone, str]] = {
    "ok": "\x1b[32m",  # green
    "warn": "\x1b[33m",  # yellow
    "danger": "\x1b[31m",  # red
    "inactive": "\x1b[2m",  # dim
}
_ANSI_BOLD: Final = "\x1b[1m"
_ANSI_RESET: Final = "\x1b[0m"


# --- inert text -------------------------------------------------------------------

# What a terminal may act on rather than show is what the labels replace
# (is_unshowable): C0/C1 controls (ESC starts the sequences that clear the
# screen or set the title; \n and \r forge lines), invisible formatting (bidi
# overrides reorder the text around them), line and paragraph separators, and
# lone surrogates (which no encoder accepts). One rule; only the treatment
# differs: the labels put U+FFFD in its place, the terminal shows its escape.

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


def printable(text: str) -> str:
    """``text`` as one inert line: every unprintable character shown as its escape.

    For anything that came from upstream, a file or the user (names, messages,
    paths, arguments) before it is put into a line.

    >>> printable("Acme\\x1b[2J\\nBilling: forged \\u202e")
    'Acme\\\\x1b[2J\\\\nBilling: forged \\\\u202e'
    """
    if text.isprintable():  # the common case; stricter than is_unshowable
        return text
    return "".join(_escape(char) if is_unshowable(char) else char for char in text)


def _printable_lines(text: str) -> str:
    """:func:`printable` line by line: the CLI's own newlines stay, nothing else does."""
    return "\n".join(printable(line) for line in text.split("\n"))


def json_text(value: Any) -> str:
    """JSON for the terminal: non-ASCII stays readable, nothing unprintable stays raw.

    :func:`json.dumps` escapes C0 controls, but with ``ensure_ascii=False`` it
    leaves DEL, the C1 controls (``\\x9b`` is a one-byte CSI), bidi overrides
    and lone surrogates raw. They only occur inside strings, where a ``\\uXXXX``
    escape is the same JSON value: lossless for a reader, inert on a terminal.

    >>> print(json_text({"name": "Société\\u202e"}))
    {
      "name": "Société\\u202e"
    }
    """
    text = json.dumps(value, indent=2, ensure_ascii=False)

    def escape(char: str) -> str:
        if char == "\n" or not is_unshowable(char):  # newlines: the indentation's own
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


# --- colour -------------------------------------------------------------------------


@frozen
class Styled:
    """Text the console paints (after making it printable): a tone, or bold."""

    text: str
    style: BillingTone | Literal["bold"]


Piece: TypeAlias = "str | Styled"


def tint(text: str, tone: BillingTone) -> Styled:
    """``text`` in the colour of ``tone`` (when the console colours at all)."""
    return Styled(text, tone)


def bold(text: str) -> Styled:
    """``text`` in bold (when the console colours at all)."""
    return Styled(text, "bold")


def wants_colour(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if environ.get("NO_COLOR"):
        return False
    if environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


# --- the console -----------------------------------------------------------------------


class Console:
    """stdout/stderr with optional colour.

    Everything written is scrubbed of the session key and made printable: an
    escape sequence or a forged line in a team name is shown, never obeyed.
    :meth:`print` keeps the line breaks of its text (the CLI's own); warnings
    and errors are one line, prefixed with ``prog``.
    """

    def __init__(
        self, *, out: TextIO, err: TextIO, colour: bool, secret: str | None, prog: str
    ) -> None:
        self.out = out
        self.err = err
        self.colour = colour
        self.prog = prog
        self.printed_json = False
        """Whether :meth:`print_json` has written a document (a run prints at most one)."""
        self._secrets = [secret] if secret else []

    def hide(self, secret: str) -> None:
        """Scrub ``secret`` too from everything printed from now on."""
        if secret:
            self._secrets.append(secret)

    def scrub(self, text: str) -> str:
        """``text`` without the secrets. Defence in depth: the library never puts
        the key in a message, and whatever the CLI prints cannot hold it either."""
        for secret in self._secrets:
            if len(secret) >= _MIN_SCRUBBED_SECRET:
                text = text.replace(secret, "***")
        return text

    def print(self, *pieces: Piece) -> None:
        """One line (or several, split by the CLI's own newlines) of plain and painted pieces."""
        _write(self.out, self.scrub("".join(self._render(piece) for piece in pieces)) + "\n")

    def print_json(self, value: Any) -> None:
        """``value`` as one JSON document on stdout (see :func:`json_text`)."""
        self.printed_json = True
        _write(self.out, self.scrub(json_text(value)) + "\n")

    def warn(self, text: str) -> None:
        """``prog: warning: text`` on stderr, as one inert line."""
        _write(self.err, printable(self.scrub(f"{self.prog}: warning: {text}")) + "\n")

    def error(self, text: str) -> None:
        """``prog: error: text`` on stderr, as one inert line."""
        _write(self.err, printable(self.scrub(f"{self.prog}: error: {text}")) + "\n")

    def _render(self, piece: Piece) -> str:
        if isinstance(piece, str):
            return _printable_lines(self.scrub(piece))
        text = _printable_lines(self.scrub(piece.text))
        if not self.colour:
            return text
        code = _ANSI_BOLD if piece.style == "bold" else _ANSI[piece.style]
        # Line by line, so every line of a multi-line text is coloured on its own.
        return "\n".join(f"{code}{line}{_ANSI_RESET}" for line in text.split("\n"))
