"""Find the team a person means from what they typed (an id, slug, name or display name).

>>> acme = Team(id="org-1", name="acme", display_name="Acme Corp", slug="acme-corp")
>>> beta = Team(id="org-2", name="beta", display_name="Beta", slug="beta")
>>> match_team([acme, beta], "  ACME-corp ").id
'org-1'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from billing_core._labels import shown
from billing_core.errors import AmbiguousTeamError, TeamNotFoundError
from billing_core.models import Team

__all__ = ["match_team", "team_label"]


def _folded(text: str) -> str:
    return text.strip().casefold()


# The levels, strongest first. The id is compared exactly (case-sensitive); the
# others ignore case and surrounding whitespace on both sides.
_LEVELS: tuple[Callable[[Team], str], ...] = (
    lambda team: team.slug,
    lambda team: team.name,
    lambda team: team.display_name,
)


def team_label(team: Team) -> str:
    """How a team is named to people: display name, else name, else id.

    Control and format characters (newlines, escapes, bidi overrides) are shown
    as U+FFFD: the label is safe to print.

    >>> team_label(Team(id="org-1", name="acme", display_name="Acme Corp", slug="acme"))
    'Acme Corp'
    >>> team_label(Team(id="o", name="", display_name="Acme\\nCorp", slug="")) == "Acme\\ufffdCorp"
    True
    """
    return shown(team.display_name.strip() or team.name.strip() or team.id)


def _distinct(teams: list[Team]) -> list[Team]:
    # One id is one team, even listed twice with other details (say, a new
    # avatar): an ambiguity the user could only answer with that same id would
    # be no answer. The first entry stands for the team.
    by_id: dict[str, Team] = {}
    for team in teams:
        by_id.setdefault(team.id, team)
    return list(by_id.values())


def _one(query: str, matches: list[Team]) -> Team | None:
    matches = _distinct(matches)
    if not matches:
        return None
    if len(matches) > 1:
        raise AmbiguousTeamError(
            query, matches=[f"{team_label(t)} (id {shown(t.id)})" for t in matches]
        )
    return matches[0]


def match_team(teams: Iterable[Team], query: str) -> Team:
    """The team ``query`` names. The first level that matches wins: the id
    (exact), then the slug, then the name, then the display name (these three
    ignore case and surrounding whitespace).

    Raises :class:`~billing_core.errors.TeamNotFoundError` (listing the display
    names) when nothing matches, including for an empty or blank query, and
    :class:`~billing_core.errors.AmbiguousTeamError` when different teams (ids)
    match at the same level. Entries sharing an id are one team: the first of
    them is the answer.

    >>> acme = Team(id="org-1", name="acme", display_name="Acme Corp", slug="acme-corp")
    >>> match_team([acme], "org-1").display_name
    'Acme Corp'
    >>> match_team([acme], "acme corp").id
    'org-1'
    >>> match_team([acme], "globex")
    Traceback (most recent call last):
      ...
    billing_core.errors.TeamNotFoundError: no team matches 'globex'; available teams: Acme Corp
    """
    if not isinstance(query, str):
        raise TypeError(f"query must be a string, not {type(query).__name__}")
    candidates = list(teams)
    wanted = _folded(query)
    if wanted:
        # Ids are exact; a pasted id with stray spaces around it still finds its team.
        for key in dict.fromkeys((query, query.strip())):
            found = _one(query, [t for t in candidates if t.id == key])
            if found is not None:
                return found
        for level in _LEVELS:
            found = _one(query, [t for t in candidates if _folded(level(t)) == wanted])
            if found is not None:
                return found
    raise TeamNotFoundError(query, available=[team_label(t) for t in _distinct(candidates)])
