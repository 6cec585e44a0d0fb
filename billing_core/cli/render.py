"""What the commands print: the billing line, the team table and the ``--json`` documents.

Text goes through a :class:`~billing_core.cli.terminal.Console`, which keeps
it inert; the documents are plain JSON values, printed by the console too.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from billing_core.cli.exits import _CliError
from billing_core.cli.terminal import Console, Piece, display_width, printable, tint, truncate
from billing_core.models import InvalidPinBilling, Problem, StatusBilling
from billing_core.presentation import (
    DEFAULT_COMMAND_HINTS,
    BillingTone,
    billing_tone,
    format_billing_line,
    format_credits,
    usage_tone,
)
from billing_core.resolution import TeamChoice
from billing_core.teams import team_label

if TYPE_CHECKING:
    from billing_core.cli.settings import _Settings

# --- JSON documents -------------------------------------------------------------


def _problem_wire(problem: Problem) -> dict[str, str]:
    return {"part": problem.part, "message": problem.message}


def _error_wire(failure: _CliError) -> dict[str, Any]:
    return {"code": failure.code, "kind": failure.kind, "message": failure.message}


def _project_wire(settings: _Settings | None) -> dict[str, Any] | None:
    """The project a command used (``None`` when it failed before finding one)."""
    if settings is None:
        return None
    project = settings.project
    return {
        "root": str(project.root),
        "worktreeRoot": str(project.worktree_root),
        "source": project.source,
        "fromOption": settings.project_given,
    }


# What each --json command's own key holds when it has nothing to show.
_EMPTY: Final[Mapping[str, Any]] = {"status": None, "teams": [], "pin": None}


def _document(
    command: str,
    value: Any,
    *,
    problems: Sequence[Problem] = (),
    settings: _Settings | None,
    failure: _CliError | None,
) -> dict[str, Any]:
    """One ``--json`` document, the same shape whatever the outcome.

    ``{<command>: value, "problems": [...], "project": {...} | null}``, plus
    ``"error": {"code", "kind", "message"}`` when the command fails
    (``docs/cli-json.schema.json`` describes every document).
    """
    document: dict[str, Any] = {
        command: value,
        "problems": [_problem_wire(p) for p in problems],
        "project": _project_wire(settings),
    }
    if failure is not None:
        document["error"] = _error_wire(failure)
    return document


def _failure_wire(command: str, failure: _CliError, *, settings: _Settings | None) -> Any:
    """The ``--json`` document of a run that failed before its command printed one."""
    return _document(command, _EMPTY[command], settings=settings, failure=failure)


def _status_document(
    status: StatusBilling | None,
    problems: Sequence[Problem],
    *,
    settings: _Settings,
    failure: _CliError | None,
) -> dict[str, Any]:
    """``status --json``: the status on the wire (or ``null``), the problems, the error."""
    from billing_core.wire import to_wire

    value = None if status is None else to_wire(status)
    return _document("status", value, problems=problems, settings=settings, failure=failure)


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


# --- tone, in words -------------------------------------------------------------

# Colour is a bonus: piped, with NO_COLOR or for a colour-blind reader, the
# words say what the yellow and the red would. Nothing for "ok" and
# "inactive": the numbers say it.
_TONE_WORDS: Final[Mapping[BillingTone, str]] = {"warn": "low", "danger": "exhausted"}


def _billing_line(status: StatusBilling) -> str:
    """The billing line, with ``— credits low`` / ``— credits exhausted`` when it is so."""
    line = format_billing_line(status)
    word = _TONE_WORDS.get(billing_tone(status))
    # An invalid pin is "danger" too, but its line already says what is wrong.
    if word is None or isinstance(status, InvalidPinBilling):
        return line
    return f"{line} \u2014 credits {word}"


# --- the billing line -----------------------------------------------------------


def _print_billing_line(console: Console, status: StatusBilling) -> None:
    # One line, whatever the names in it hold: a newline in an org name must
    # not print a second, forged billing line.
    line = printable(_billing_line(status))
    console.print(tint(line, billing_tone(status)))


# --- the team table -------------------------------------------------------------


def _credits_cell(choice: TeamChoice) -> str:
    usage = choice.usage
    if usage is None:
        return "-"
    cell = f"{format_credits(usage.remaining)} / {format_credits(usage.total_limit)}"
    word = _TONE_WORDS.get(usage_tone(usage))
    return cell if word is None else f"{cell} ({word})"


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


# Columns of the table, and how narrow the ones that give way may get.
_HEADER: Final = ("", "TEAM", "SLUG", "CREDITS", "TIER", "STATE")
_TEAM, _STATE = 1, 5
_GAP: Final = "  "
_MIN_TEAM: Final = 5  # "Acme…": enough to tell most teams apart
_MIN_STATE: Final = 8  # "pinned, …"


def _fit(widths: list[int], limit: int | None) -> list[int]:
    """Column widths that fit ``limit`` columns: the TEAM column gives way first
    (down to a few characters), then STATE; the others stay whole (the slug is
    what `pin` takes). When even that is too wide, as narrow as it gets."""
    if limit is None:
        return widths
    fitted = list(widths)
    excess = sum(fitted) + len(_GAP) * (len(fitted) - 1) - limit
    for column, floor in ((_TEAM, _MIN_TEAM), (_STATE, _MIN_STATE)):
        if excess <= 0:
            break
        give = min(excess, max(fitted[column] - floor, 0))
        fitted[column] -= give
        excess -= give
    return fitted


def _print_team_table(
    console: Console, choices: Sequence[TeamChoice], *, preselected: str | None
) -> None:
    if not choices:
        console.print("No teams.")
        return
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
    natural = [max(display_width(row[i]) for row in (_HEADER, *rows)) for i in range(len(_HEADER))]
    widths = _fit(natural, console.width)
    ellipsis = console.ellipsis

    def line(cells: Sequence[str], tones: Sequence[BillingTone | None]) -> list[Piece]:
        pieces: list[Piece] = []
        last = len(cells) - 1
        for index, (cell, width, tone) in enumerate(zip(cells, widths, tones, strict=True)):
            shown = truncate(cell, width, ellipsis=ellipsis)
            # The last column is not padded: no trailing blanks.
            text = shown.rstrip() if index == last else _pad(shown, width)
            pieces.append(tint(text, tone) if tone is not None else text)
            if index != last:
                pieces.append(_GAP)
        return pieces

    console.print(*line(_HEADER, [None] * len(_HEADER)))
    for choice, row in zip(choices, rows, strict=True):
        tones: list[BillingTone | None] = [None] * len(_HEADER)
        tones[3] = usage_tone(choice.usage) if choice.usage is not None else None
        console.print(*line(row, tones))
    hint = f"pin a selectable team with `{DEFAULT_COMMAND_HINTS.pin_team}`"
    console.print()
    if preselected is not None:
        console.print(_wrap(f"> suggested billing team; {hint}", console.width))
    else:
        console.print(_wrap(hint[0].upper() + hint[1:], console.width))


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def _wrap(text: str, width: int | None) -> str:
    """``text`` in lines of at most ``width`` columns, a `command` never split."""
    if width is None or display_width(text) <= width:
        return text
    # Inside backticks, spaces join: `billing-core pin TEAM` stays on one line.
    parts = text.split("`")
    joined = "`".join(p.replace(" ", _NBSP) if i % 2 else p for i, p in enumerate(parts))
    wrapped = textwrap.fill(joined, width=width, break_long_words=False, break_on_hyphens=False)
    return wrapped.replace(_NBSP, " ")


_NBSP: Final = "\x00"  # a stand-in textwrap does not break at (never in the hint itself)
