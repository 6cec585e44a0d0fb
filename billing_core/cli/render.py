"""What the commands print: the billing line, the team table and the ``--json`` documents.

Text goes through a :class:`~billing_core.cli.terminal.Console`, which keeps
it inert; the documents are plain JSON values, printed by the console too.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from attrs import frozen

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


def _credits_cell(choice: TeamChoice, *, compact: bool = False) -> str:
    usage = choice.usage
    if usage is None:
        return "-"
    separator = "/" if compact else " / "
    cell = f"{format_credits(usage.remaining)}{separator}{format_credits(usage.total_limit)}"
    word = _TONE_WORDS.get(usage_tone(usage))
    return cell if word is None else f"{cell} ({word})"


_REASONS: Final[Mapping[str, str]] = {
    "free-tier": "FREE tier",
    "no-usage": "no usage reported",
}
_SHORT_REASONS: Final[Mapping[str, str]] = {
    "free-tier": "FREE",
    "no-usage": "no usage",
}


def _state_cell(choice: TeamChoice) -> str:
    marks = ["pinned"] if choice.is_pinned else []
    if choice.selectable:
        marks.append("selectable")
    else:
        marks.append(f"not selectable: {_REASONS.get(choice.reason or '', choice.reason or '')}")
    return ", ".join(marks)


def _short_state_cell(choice: TeamChoice) -> str:
    """The state under a PINNABLE header: ``yes``, ``pinned``, ``no: FREE``, ``no: no usage``.

    The answer comes first, so that a cell cut short still says whether the
    team can be pinned; a pinned team that can be billed is just ``pinned``.
    """
    if choice.selectable:
        return "pinned" if choice.is_pinned else "yes"
    reason = choice.reason or ""
    state = f"no: {_SHORT_REASONS.get(reason, reason)}"
    return f"{state}, pinned" if choice.is_pinned else state


@frozen
class _Layout:
    """One way to lay the table out: its header, its cells, the gap between columns."""

    header: tuple[str, ...]
    compact: bool  # the short CREDITS and state cells (they say the same in fewer columns)
    tier: bool  # whether the TIER column is shown
    gap: str

    def row(self, choice: TeamChoice, *, preselected: str | None) -> tuple[str, ...]:
        cells = [
            ">" if choice.team.id == preselected else "",
            team_label(choice.team),
            choice.team.slug,
            _credits_cell(choice, compact=self.compact),
        ]
        if self.tier:
            cells.append(choice.tier or "-")
        cells.append(_short_state_cell(choice) if self.compact else _state_cell(choice))
        return tuple(cells)


# The layouts, widest first: each says the same as the one before it in fewer
# columns. The compact one only rewords (`12.4k/20k`, `no: FREE`); the narrow
# one also drops the TIER column (the state still names the tier that stops a
# team from being billed; the paid tier of the others is in the wide layout and
# in --json) and narrows the gaps.
_WIDE: Final = _Layout(
    header=("", "TEAM", "SLUG", "CREDITS", "TIER", "STATE"), compact=False, tier=True, gap="  "
)
_COMPACT: Final = _Layout(
    header=("", "TEAM", "SLUG", "CREDITS", "TIER", "PINNABLE"), compact=True, tier=True, gap="  "
)
_NARROW: Final = _Layout(
    header=("", "TEAM", "SLUG", "CREDITS", "PINNABLE"), compact=True, tier=False, gap=" "
)
_TEAM: Final = 1
_CREDITS: Final = 3
_STATE: Final = -1  # the last column, in every layout
# How narrow the TEAM column may get before the next layout is tried: in the
# compact layout, as long as a name such as "Side Project" stays whole (it is
# worth more than the TIER column); in the narrow one, a few characters.
_ROOMY_TEAM: Final = 12
_MIN_TEAM: Final = 5  # "Acme…": enough to tell most teams apart
_MIN_STATE: Final = 8  # "no: FRE…": still says no


def _line_width(widths: Sequence[int], gap: str) -> int:
    return sum(widths) + len(gap) * (len(widths) - 1)


def _fit(
    widths: Sequence[int], limit: int, gap: str, floors: Sequence[tuple[int, int]]
) -> list[int]:
    """Column widths that fit ``limit`` columns if they can: each column in
    ``floors`` gives way in turn, down to its floor; the others stay whole (the
    slug is what `pin` takes). When even that is too wide, as narrow as it gets."""
    fitted = list(widths)
    excess = _line_width(fitted, gap) - limit
    for column, floor in floors:
        if excess <= 0:
            break
        give = min(excess, max(fitted[column] - floor, 0))
        fitted[column] -= give
        excess -= give
    return fitted


def _natural_widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    return [max(display_width(row[i]) for row in (header, *rows)) for i in range(len(header))]


def _rows(
    layout: _Layout, choices: Sequence[TeamChoice], *, preselected: str | None
) -> list[tuple[str, ...]]:
    # Cells made printable before they are measured: a newline in a team name
    # must not start a row, and the columns line up with what is shown.
    return [
        tuple(printable(cell) for cell in layout.row(choice, preselected=preselected))
        for choice in choices
    ]


def _lay_out(
    choices: Sequence[TeamChoice], *, preselected: str | None, limit: int | None
) -> tuple[_Layout, list[tuple[str, ...]], list[int]]:
    """The layout, its rows and its column widths: the wide layout if it fits
    ``limit`` whole, else the compact one if it fits cutting at most a long
    team name, else the narrow one, cut as it must be (TEAM, then the state)."""
    if limit is None:
        rows = _rows(_WIDE, choices, preselected=preselected)
        return _WIDE, rows, _natural_widths(_WIDE.header, rows)
    steps: tuple[tuple[_Layout, tuple[tuple[int, int], ...]], ...] = (
        (_WIDE, ()),
        (_COMPACT, ((_TEAM, _ROOMY_TEAM),)),
        (_NARROW, ((_TEAM, _MIN_TEAM), (_STATE, _MIN_STATE))),
    )
    for layout, floors in steps:
        rows = _rows(layout, choices, preselected=preselected)
        widths = _fit(_natural_widths(layout.header, rows), limit, layout.gap, floors)
        if _line_width(widths, layout.gap) <= limit:
            break
    # Out of the loop without a break: the narrow layout, as narrow as it gets.
    return layout, rows, widths


def _print_team_table(
    console: Console, choices: Sequence[TeamChoice], *, preselected: str | None
) -> None:
    if not choices:
        console.print("No teams.")
        return
    layout, rows, widths = _lay_out(choices, preselected=preselected, limit=console.width)
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
                pieces.append(layout.gap)
        return pieces

    console.print(*line(layout.header, [None] * len(layout.header)))
    for choice, row in zip(choices, rows, strict=True):
        tones: list[BillingTone | None] = [None] * len(row)
        tones[_CREDITS] = usage_tone(choice.usage) if choice.usage is not None else None
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
