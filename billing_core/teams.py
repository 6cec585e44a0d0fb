"""Team matching: the team a person means, and whether it can be pinned.

A query is matched by id, then slug, then name, then display name. Errors
suggest what the user can type instead: each team's slug, or its id when the
slug would not pick that team alone.

>>> acme = Team(id="org-1", name="acme", display_name="Acme Corp", slug="acme-corp")
>>> beta = Team(id="org-2", name="beta", display_name="Beta", slug="beta")
>>> match_team([acme, beta], "  ACME-corp ").id
'org-1'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from billing_core._labels import organization_label, shown, team_listing
from billing_core.errors import AmbiguousTeamError, InvalidPinError, TeamNotFoundError
from billing_core.models import BillingUsage, Team

__all__ = ["match_team", "team_label", "team_to_pin"]


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


def _typed(team: Team, *, ids: set[str], ids_by_slug: dict[str, set[str]]) -> tuple[str, str]:
    """What to type to pick ``team`` alone, and what that is: ``("slug", ...)`` when
    :func:`match_team` finds exactly this team by it, else ``("id", ...)``.

    The slug is offered stripped, and only when it shows as it is (typing a
    U+FFFD back finds nothing) and no id (the first level) nor another team's
    slug is the same query.
    """
    slug = team.slug.strip()
    if slug and shown(slug) == slug:
        picks_it = slug == team.id if slug in ids else ids_by_slug[_folded(slug)] == {team.id}
        if picks_it:
            return "slug", slug
    return "id", shown(team.id)


def _suggestions(teams: Sequence[Team]) -> dict[str, str]:
    """Each team by id, first entry first, as people are shown it in an error: its
    label and what to type to pick it (``Acme Corp (slug acme)``), or that text
    alone when it is the label."""
    ids = {team.id for team in teams}
    ids_by_slug: dict[str, set[str]] = {}
    for team in teams:
        ids_by_slug.setdefault(_folded(team.slug), set()).add(team.id)
    entries: dict[str, str] = {}
    for team in _distinct(list(teams)):
        kind, text = _typed(team, ids=ids, ids_by_slug=ids_by_slug)
        label = team_label(team)
        entries[team.id] = text if label == text else f"{label} ({kind} {text})"
    return entries


def _one(query: str, matches: list[Team], *, among: Sequence[Team]) -> Team | None:
    matches = _distinct(matches)
    if not matches:
        return None
    if len(matches) > 1:
        entries = _suggestions(among)
        raise AmbiguousTeamError(query, matches=[entries[t.id] for t in matches])
    return matches[0]


def match_team(teams: Iterable[Team], query: str) -> Team:
    """The team ``query`` names. The first level that matches wins: the id
    (exact), then the slug, then the name, then the display name (these three
    ignore case and surrounding whitespace).

    Raises :class:`~billing_core.errors.TeamNotFoundError` when nothing
    matches, including for an empty or blank query, and
    :class:`~billing_core.errors.AmbiguousTeamError` when different teams (ids)
    match at the same level. Entries sharing an id are one team: the first of
    them is the answer.

    Both errors suggest what to type instead: each team (once, in the order
    given) by its label and its slug, or its id when the slug is empty, does
    not show as it is, or would not find that team alone. Every suggestion,
    typed back, finds its team.

    >>> acme = Team(id="org-1", name="acme", display_name="Acme Corp", slug="acme-corp")
    >>> match_team([acme], "org-1").display_name
    'Acme Corp'
    >>> match_team([acme], "acme corp").id
    'org-1'
    >>> match_team([acme], "globex")
    Traceback (most recent call last):
      ...
    billing_core.errors.TeamNotFoundError: no team matches 'globex'; \
available teams: Acme Corp (slug acme-corp)
    >>> eu = Team(id="org-2", name="research", display_name="Research", slug="research-eu")
    >>> us = Team(id="org-3", name="research", display_name="Research", slug="research-us")
    >>> match_team([eu, us], "research")
    Traceback (most recent call last):
      ...
    billing_core.errors.AmbiguousTeamError: 'research' matches several teams: \
Research (slug research-eu), Research (slug research-us); use the slug or id to pick one
    """
    if not isinstance(query, str):
        raise TypeError(f"query must be a string, not {type(query).__name__}")
    candidates = list(teams)
    wanted = _folded(query)
    if wanted:
        # Ids are exact; a pasted id with stray spaces around it still finds its team.
        for key in dict.fromkeys((query, query.strip())):
            found = _one(query, [t for t in candidates if t.id == key], among=candidates)
            if found is not None:
                return found
        for level in _LEVELS:
            matches = [t for t in candidates if _folded(level(t)) == wanted]
            found = _one(query, matches, among=candidates)
            if found is not None:
                return found
    raise TeamNotFoundError(query, available=list(_suggestions(candidates).values()))


def team_to_pin(*, teams: Iterable[Team], usages: Iterable[BillingUsage], query: str) -> Team:
    """The team ``query`` names (see :func:`match_team`), if it can be billed.

    A team can be pinned when billing reports a usage on a paid tier for it.
    Otherwise :class:`~billing_core.errors.InvalidPinError` says why (its
    tier, or no usage at all) and lists the user's paid teams alphabetically,
    each once and as :func:`match_team`'s errors suggest it (its label and
    what to type to pick it), or says there is none. A paid team missing from
    ``teams`` cannot be picked: it is only named, by its usage.
    :func:`match_team`'s errors (and their suggestions) pass through.

    >>> acme = Team(id="org-1", name="acme", display_name="Acme", slug="acme")
    >>> home = Team(id="org-2", name="home", display_name="Home", slug="home")
    >>> def usage(org_id, tier):
    ...     return BillingUsage(
    ...         organization_id=org_id, organization_name="", organization_status="active",
    ...         limit=1, add_on_remaining=0, total_limit=1, used=0, remaining=1,
    ...         percent_used=0, limit_exceeded=False, tier=tier)
    >>> usages = [usage("org-1", "PRO"), usage("org-2", "FREE")]
    >>> team_to_pin(teams=[acme, home], usages=usages, query="acme").id
    'org-1'
    >>> team_to_pin(teams=[acme, home], usages=usages, query="home")
    Traceback (most recent call last):
      ...
    billing_core.errors.InvalidPinError: team Home is on the FREE tier and cannot be billed; \
paid teams: Acme (slug acme)
    """
    teams, usages = tuple(teams), tuple(usages)
    team = match_team(teams, query)
    own = [u for u in usages if u.organization_id == team.id]
    if any(u.is_paid for u in own):
        return team
    why = f"is on the {shown(own[0].tier)} tier" if own else "has no billing usage"
    raise InvalidPinError(
        f"team {team_label(team)} {why} and cannot be billed; {_paid_teams(teams, usages)}"
    )


def _paid_teams(teams: tuple[Team, ...], usages: tuple[BillingUsage, ...]) -> str:
    """The user's paid teams, each once, alphabetically, as the match errors
    suggest them: ``Acme Corp (slug acme)``, else by id (see :func:`_suggestions`)."""
    # What to type is worked out among every team, not only the paid ones: a
    # paid team whose slug a free team shares is picked by its id.
    suggestions = _suggestions(teams)
    labels = {team.id: team_label(team) for team in _distinct(list(teams))}
    entries: dict[str, tuple[str, str]] = {}  # by id: two teams named alike are two entries
    for u in usages:
        if not u.is_paid or u.organization_id in entries:
            continue
        if u.organization_id in suggestions:
            entry = (labels[u.organization_id], suggestions[u.organization_id])
        else:
            # Billing knows the team, the team service does not: nothing typed
            # would find it, so it is only named (by its usage).
            label = organization_label(
                organization_id=u.organization_id, organization_name=u.organization_name
            )
            entry = (label, label)
        entries[u.organization_id] = entry
    if not entries:
        return "you have no paid team"
    ordered = sorted(entries.values(), key=lambda e: (e[0].casefold(), e[0], e[1]))
    return "paid teams: " + team_listing((text, None) for _, text in ordered)
