"""What the command line writes: inert text, optional colour, never the session key.

Names, messages and paths from upstream, files or the user reach a terminal
only through :func:`printable` (or :func:`json_text`): a control or invisible
formatting character is shown as its escape (``\\x1b``, ``\\u202e``), never
obeyed, so it can neither drive the terminal nor forge a line. The only escape
sequences written are the console's own colours.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO, TypeAlias

from attrs import frozen

if TYPE_CHECKING:
    # Types only: the presentation and the labels load the models, which this
    # module (imported before `--help` is answered) must not.
    from billing_core.presentation import BillingTone

__all__ = [
    "PROGRESS_DELAY",
    "Console",
    "Piece",
    "Styled",
    "bold",
    "display_width",
    "json_text",
    "printable",
    "terminal_width",
    "tint",
    "truncate",
    "wants_colour",
    "wants_progress",
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
    from billing_core._labels import is_unshowable

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
    from billing_core._labels import is_unshowable

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


def _can_encode(stream: TextIO, text: str) -> bool:
    """Whether ``stream``'s encoding carries ``text`` as is (else :func:`_write` escapes it)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


# --- width ---------------------------------------------------------------------------


def display_width(text: str) -> int:
    """The columns ``text`` takes on a terminal: wide (CJK, emoji) characters take two,
    combining marks none. For printable text (see :func:`printable`).

    >>> display_width("Acme"), display_width("株式会社"), display_width("e\u0301")
    (4, 8, 1)
    """
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1
        for char in text
    )


def truncate(text: str, width: int, *, ellipsis: str = "\u2026") -> str:
    """``text`` cut to ``width`` columns, ending in ``ellipsis`` when it was cut.

    >>> truncate("Acme Corporation", 8), truncate("Acme", 8)
    ('Acme Co…', 'Acme')
    """
    if display_width(text) <= width:
        return text
    room = width - display_width(ellipsis)
    if room < 0:
        return ellipsis[: max(width, 0)]
    kept: list[str] = []
    used = 0
    for char in text:
        used += display_width(char)
        if used > room:
            break
        kept.append(char)
    return "".join(kept).rstrip() + ellipsis  # "The…", not "The …"


def terminal_width(stream: TextIO, environ: Mapping[str, str]) -> int | None:
    """How many columns a line on ``stream`` may take; ``None``: no limit.

    ``COLUMNS`` when set (as :func:`shutil.get_terminal_size` honours it), else
    the terminal's width, else 80 for a terminal whose size is unknown. A
    stream that is not a terminal (a pipe, a file) has no limit unless
    ``COLUMNS`` sets one: a reader of ``billing-core teams | grep`` wants
    every name whole.
    """
    columns = environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if not _isatty(stream):
        return None
    try:
        size = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return _DEFAULT_COLUMNS
    return size if size > 0 else _DEFAULT_COLUMNS


_DEFAULT_COLUMNS: Final = 80


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except (ValueError, OSError):  # closed
        return False


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
    return _isatty(stream)


# --- progress ---------------------------------------------------------------------------

PROGRESS_DELAY: Final = 0.3
"""Seconds a blocking call runs before its progress indicator shows: quicker
answers print nothing but themselves."""

_FRAME_SECONDS: Final = 0.1
_FRAMES: Final = "\u280b\u2819\u2839\u2838\u283c\u2834\u2826\u2827\u2807\u280f"  # braille dots
_ASCII_FRAMES: Final = "|/-\\"
_ERASE_LINE: Final = "\r\x1b[K"  # back to the start of the line, then clear it


def wants_progress(out: TextIO, err: TextIO, environ: Mapping[str, str]) -> bool:
    """Progress indicators only when a person watches: ``out`` and ``err`` both
    terminals that obey ``\\r`` and erase-line (not ``TERM=dumb``).

    A piped ``out`` (``billing-core teams | less``, ``line=$(billing-core
    status)``) means a program reads the answer: a spinner on the terminal's
    stderr would only draw over a pager or litter a script's run. The caller
    adds its own conditions (never with ``--json``): see :class:`Console`.
    """
    return environ.get("TERM") != "dumb" and _isatty(out) and _isatty(err)


class _Indicator:
    """A spinner and a label on one line of ``stream``, from ``delay`` seconds on, until stopped.

    It runs on a daemon thread (never holding the exit); :meth:`stop` erases
    it. The lock orders the thread's writes and the erase: once :meth:`stop`
    returns, the thread writes nothing more.
    """

    def __init__(self, stream: TextIO, label: str, *, delay: float) -> None:
        self._stream = stream
        self._label = label
        self._delay = delay
        self._frames = _FRAMES if _can_encode(stream, _FRAMES) else _ASCII_FRAMES
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._shown = False
        self._thread = threading.Thread(
            target=self._spin, name="billing-core-progress", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _spin(self) -> None:
        if self._done.wait(self._delay):
            return  # answered in time: nothing to show
        for frame in itertools.cycle(self._frames):
            with self._lock:
                if self._done.is_set():
                    return
                self._shown = self._put(f"\r{frame} {self._label}") or self._shown
            if self._done.wait(_FRAME_SECONDS):
                return

    def stop(self) -> None:
        self._done.set()
        with self._lock:
            if self._shown:
                self._put(_ERASE_LINE)
                self._shown = False

    def _put(self, text: str) -> bool:
        # A progress line is worth no failure: a closed or broken stderr only
        # loses the indicator.
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            return False
        return True


# --- the console -----------------------------------------------------------------------


class Console:
    """stdout/stderr with optional colour, and progress indicators on a terminal.

    Everything written is scrubbed of the session key and made printable: an
    escape sequence or a forged line in a team name is shown, never obeyed.
    :meth:`print` keeps the line breaks of its text (the CLI's own); warnings
    and errors are one line, prefixed with ``prog``.

    ``progress`` allows :meth:`progress` indicators on ``err`` (the caller
    says no for ``--json``; see :func:`wants_progress`); they show only when
    ``err`` is a terminal and a call outlasts ``progress_delay`` seconds.
    ``width`` is how many columns a line of ``out`` may take (``None``: no
    limit; see :func:`terminal_width`).
    """

    def __init__(
        self,
        *,
        out: TextIO,
        err: TextIO,
        colour: bool,
        secret: str | None,
        prog: str,
        progress: bool = False,
        progress_delay: float = PROGRESS_DELAY,
        width: int | None = None,
    ) -> None:
        self.out = out
        self.err = err
        self.colour = colour
        self.prog = prog
        self.shows_progress = progress
        """Whether :meth:`progress` may show an indicator at all."""
        self.progress_delay = progress_delay
        self.width = width
        self.printed_json = False
        """Whether :meth:`print_json` has written a document (a run prints at most one)."""
        self._secrets = [secret] if secret else []
        self._indicator: _Indicator | None = None

    @contextlib.contextmanager
    def progress(self, label: str) -> Iterator[None]:
        """Show ``label`` with a spinner on stderr while the block runs, if it runs long.

        Only when :attr:`shows_progress` and stderr is a terminal, and only
        once ``progress_delay`` seconds have passed: a quick call shows
        nothing. The indicator is erased when the block ends (however it
        ends) and before anything else is printed. Never when piped, nor
        with ``--json``: a reader of stderr sees only warnings and errors.
        """
        if not self.shows_progress or self._indicator is not None or not _isatty(self.err):
            yield  # not wanted, not a terminal, or one already spins
            return
        indicator = _Indicator(self.err, label, delay=self.progress_delay)
        self._indicator = indicator
        indicator.start()
        try:
            yield
        finally:
            self._end_progress()

    def _end_progress(self) -> None:
        indicator, self._indicator = self._indicator, None
        if indicator is not None:
            indicator.stop()

    @property
    def ellipsis(self) -> str:
        """What marks text cut short on stdout: ``…``, or ``...`` where it cannot be shown."""
        return "\u2026" if _can_encode(self.out, "\u2026") else "..."

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
        self._end_progress()
        _write(self.out, self.scrub("".join(self._render(piece) for piece in pieces)) + "\n")

    def print_json(self, value: Any) -> None:
        """``value`` as one JSON document on stdout (see :func:`json_text`)."""
        self._end_progress()
        self.printed_json = True
        _write(self.out, self.scrub(json_text(value)) + "\n")

    def warn(self, text: str) -> None:
        """``prog: warning: text`` on stderr, as one inert line."""
        self._end_progress()
        _write(self.err, printable(self.scrub(f"{self.prog}: warning: {text}")) + "\n")

    def error(self, text: str) -> None:
        """``prog: error: text`` on stderr, as one inert line."""
        self._end_progress()
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
