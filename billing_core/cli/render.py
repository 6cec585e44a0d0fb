"""What the commands print: the billing line, the team table and the ``--json`` documents.

Text goes through a :class:`~billing_core.cli.terminal.Console`, which keeps
it inert; the documents are plain JSON values, printed by the console too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from billing_core.cli.exits import PROG, _CliError
from billing_core.cli.terminal import Console, Piece, printable, tint
from billing_core.models import Problem, StatusBilling
from billing_core.presentation import (
    BillingTone,
    billing_tone,
    format_billing_line,
    format_credits,
    usage_tone,
)
from billing_core.resolution import TeamChoice
from billing_core.teams import team_label

# --- JSON documents -------------------------------------------------------------


def _problem_wire(problem: Problem) -> dict[str, str]:
    return {"part": problem.part, "message": problem.message}


def _error_wire(*, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _failure_wire(command: str, *, code: int, message: str) -> Any:
    """The ``--json`` document of a run that failed before its command printed one.

    ``status`` keeps its shape (no status, no problem) and adds the error;
    ``teams``, whose success is a bare list of rows, prints only the error.
    """
    error = _error_wire(code=code, message=message)
    if command == "status":
        return {"status": None, "problems": [], "error": error}
    return {"error": error}


def _status_document(
    status: StatusBilling | None, problems: Sequence[Problem], *, failure: _CliError | None
) -> dict[str, Any]:
    """``status --json``: the status on the wire, the problems, and the error if it fails."""
    from billing_core.wire import to_wire

    document: dict[str, Any] = {
        "status": None if status is None else to_wire(status),
        "problems": [_problem_wire(p) for p in problems],
    }
    if failure is not None:
        document["error"] = _error_wire(code=failure.code, message=failure.message)
    return document


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


# --- the billing line -----------------------------------------------------------


def _print_billing_line(console: Console, status: StatusBilling) -> None:
    # One line, whatever the names in it hold: a newline in an org name must
    # not print a second, forged billing line.
    line = printable(format_billing_line(status))
    console.print(tint(line, billing_tone(status)))


# --- the team table -------------------------------------------------------------


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


def _print_team_table(
    console: Console, choices: Sequence[TeamChoice], *, preselected: str | None
) -> None:
    if not choices:
        console.print("No teams.")
        return
    header = ("", "TEAM", "SLUG", "CREDITS", "TIER", "STATE")
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
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str], tones: Sequence[BillingTone | None]) -> list[Piece]:
        pieces: list[Piece] = []
        last = len(cells) - 1
        for index, (cell, width, tone) in enumerate(zip(cells, widths, tones, strict=True)):
            # The last column is not padded: no trailing blanks.
            text = cell.rstrip() if index == last else cell.ljust(width)
            pieces.append(tint(text, tone) if tone is not None else text)
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
