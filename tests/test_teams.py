"""Team matching: id, then slug, then name, then display name."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import attrs
import pytest
from _billing_samples import team, usage
from hypothesis import example, given
from hypothesis import strategies as st

from billing_core import (
    AmbiguousTeamError,
    BillingUsage,
    InvalidPinError,
    Team,
    TeamNotFoundError,
)
from billing_core._labels import shown
from billing_core.teams import match_team, team_label, team_to_pin
from billing_core.testing.strategies import billing_usages, organization_names, paid_tiers
from billing_core.testing.strategies import teams as team_strategy

ACME = team("org-1", name="acme", display="Acme Corp", slug="acme-corp")
BETA = team("org-2", name="beta", display="Beta", slug="b")
CLASH = team("acme-corp", name="clash", display="Clash", slug="clash")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("org-1", ACME),
        (" org-1 ", ACME),
        ("acme-corp", CLASH),  # an id beats another team's slug
        ("ACME-CORP", ACME),  # ids are exact, so this is the slug level
        ("  acme  ", ACME),
        ("acme corp", ACME),
        ("b", BETA),
        ("BETA", BETA),
        ("\uff42", None),  # fullwidth b: casefold does not make it ascii
    ],
)
def test_match_examples(query: str, expected: Team | None) -> None:
    teams = [ACME, BETA, CLASH]
    if expected is None:
        with pytest.raises(TeamNotFoundError):
            match_team(teams, query)
    else:
        assert match_team(teams, query) == expected


def test_slug_beats_name_and_name_beats_display_name() -> None:
    by_slug = team("t1", name="x", display="x", slug="shared")
    by_name = team("t2", name="shared", display="y", slug="t2")
    by_display = team("t3", name="z", display="Shared", slug="t3")
    assert match_team([by_display, by_name, by_slug], "shared") == by_slug
    assert match_team([by_display, by_name], "SHARED") == by_name
    assert match_team([by_display], "shared") == by_display


def test_the_same_team_twice_is_not_ambiguous() -> None:
    assert match_team([ACME, ACME], "acme") == ACME


def test_one_id_listed_twice_with_other_details_is_one_team() -> None:
    # Before: "Acme (id org-1), Acme (id org-1); use the team id" for the id itself.
    renewed = attrs.evolve(ACME, avatar_url="https://example.com/new.png", is_default=True)
    assert match_team([ACME, renewed], "org-1") is ACME
    assert match_team([renewed, ACME], "org-1") is renewed
    assert match_team([ACME, renewed, BETA], "acme-corp") is ACME
    with pytest.raises(TeamNotFoundError) as caught:
        match_team([ACME, renewed], "globex")
    assert caught.value.available == ("Acme Corp (slug acme-corp)",)


def test_two_teams_at_one_level_are_ambiguous() -> None:
    first = team("t1", name="dup", display="Dup One", slug="dup-one")
    second = team("t2", name="DUP", display="Dup Two", slug="dup-two")
    with pytest.raises(AmbiguousTeamError) as caught:
        match_team([first, second], "dup")
    assert caught.value.matches == ("Dup One (slug dup-one)", "Dup Two (slug dup-two)")
    assert str(caught.value) == (
        "'dup' matches several teams: Dup One (slug dup-one), Dup Two (slug dup-two); "
        "use the slug or id to pick one"
    )
    assert match_team([first, second], "dup-two") == second


def test_the_same_display_name_twice_is_told_apart_by_slug() -> None:
    # Before: "available teams: Research, Research, Design, Design".
    research = [
        team("r1", name="research", display="Research", slug="research-eu"),
        team("r2", name="research", display="Research", slug="research-us"),
    ]
    design = [
        team("d1", name="design", display="Design", slug="design"),
        team("d2", name="design", display="Design", slug="design-2"),
    ]
    with pytest.raises(TeamNotFoundError) as caught:
        match_team([*research, *design, research[0]], "globex")
    assert str(caught.value) == (
        "no team matches 'globex'; available teams: Research (slug research-eu), "
        "Research (slug research-us), Design (slug design), Design (slug design-2)"
    )
    with pytest.raises(AmbiguousTeamError) as ambiguous:
        match_team([*research, *design], "Research")
    assert ambiguous.value.matches == ("Research (slug research-eu)", "Research (slug research-us)")


@pytest.mark.parametrize(
    ("teams", "entries"),
    [
        # No slug: the id.
        ([team("t1", name="dup", display="Dup", slug=" ")], ["Dup (id t1)"]),
        # One slug for two teams picks neither: their ids.
        (
            [team("t1", display="One", slug="same"), team("t2", display="Two", slug="SAME ")],
            ["One (id t1)", "Two (id t2)"],
        ),
        # A slug that is another team's id finds that team first: the id.
        (
            [team("t1", display="One", slug="t2"), team("t2", display="Two", slug="two")],
            ["One (id t1)", "Two (slug two)"],
        ),
        # A slug equal to its own team's id is fine.
        ([team("t1", display="One", slug="t1")], ["One (slug t1)"]),
        # A slug that cannot be shown as it is cannot be typed back: the id.
        ([team("t1", display="One", slug="on\u200be")], ["One (id t1)"]),
        # Surrounding whitespace is not suggested.
        ([team("t1", display="One", slug=" one ")], ["One (slug one)"]),
        # The label alone when it is what to type.
        ([Team(id="t1", name="", display_name="", slug="")], ["t1"]),
        ([Team(id="t1", name="", display_name="acme", slug="acme")], ["acme"]),
    ],
)
def test_what_the_errors_suggest(teams: list[Team], entries: list[str]) -> None:
    with pytest.raises(TeamNotFoundError) as caught:
        match_team(teams, "globex")
    assert list(caught.value.available) == entries


def test_no_match_lists_what_to_type() -> None:
    with pytest.raises(TeamNotFoundError) as caught:
        match_team([ACME, BETA], "globex")
    assert caught.value.available == ("Acme Corp (slug acme-corp)", "Beta (slug b)")
    assert str(caught.value) == (
        "no team matches 'globex'; available teams: Acme Corp (slug acme-corp), Beta (slug b)"
    )


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_a_blank_query_matches_nothing(query: str) -> None:
    blank = Team(id="t1", name="", display_name="", slug="")
    with pytest.raises(TeamNotFoundError) as caught:
        match_team([blank, ACME], query)
    assert caught.value.available == ("t1", "Acme Corp (slug acme-corp)")


def test_no_teams_at_all() -> None:
    with pytest.raises(TeamNotFoundError, match="available teams: none"):
        match_team([], "acme")


def test_a_non_string_query_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        match_team([ACME], None)  # type: ignore[arg-type]


# --- the law: the first level with a match decides ----------------------------------------

_FIELDS: tuple[Callable[[Team], str], ...] = (
    lambda t: t.slug,
    lambda t: t.name,
    lambda t: t.display_name,
)


def expected_level(teams: list[Team], query: str) -> list[Team] | None:
    """The distinct teams (one per id, the first listed) at the first matching level."""
    wanted = query.strip().casefold()
    if not wanted:
        return None
    levels = [[t for t in teams if t.id == query], [t for t in teams if t.id == query.strip()]]
    levels += [[t for t in teams if get(t).strip().casefold() == wanted] for get in _FIELDS]
    for level in levels:
        if level:
            first_per_id: dict[str, Team] = {}
            for t in level:
                first_per_id.setdefault(t.id, t)
            return list(first_per_id.values())
    return None


@given(st.lists(team_strategy(), max_size=6), st.data())
def test_the_first_matching_level_wins(teams: list[Team], data: st.DataObject) -> None:
    pool = [t.id for t in teams] + [t.slug for t in teams] + [t.name for t in teams]
    pool += [t.display_name.upper() for t in teams] + ["nobody"]
    query = data.draw(st.one_of(st.sampled_from(pool), st.text(max_size=6)))
    query = data.draw(st.sampled_from([query, f" {query} ", query.swapcase()]))
    expected = expected_level(teams, query)
    if expected is None:
        with pytest.raises(TeamNotFoundError):
            match_team(teams, query)
    elif len(expected) > 1:
        with pytest.raises(AmbiguousTeamError):
            match_team(teams, query)
    else:
        assert match_team(teams, query) == expected[0]


@given(st.lists(team_strategy(), max_size=6, unique_by=lambda t: t.id))
def test_a_team_is_always_found_by_its_id(teams: list[Team]) -> None:
    for wanted in teams:
        assert match_team(teams, wanted.id) == wanted


@given(st.lists(team_strategy(), min_size=1, max_size=6, unique_by=lambda t: t.id), st.data())
def test_listing_a_team_again_with_other_details_changes_no_answer_by_id(
    teams: list[Team], data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(teams) - 1))
    twin = data.draw(team_strategy(team_id=st.just(teams[index].id)))  # any other details
    later = data.draw(st.integers(min_value=index + 1, max_value=len(teams)))
    with_twin = [*teams[:later], twin, *teams[later:]]
    for wanted in teams:
        assert match_team(with_twin, wanted.id) is wanted  # the first listed stands
        assert match_team(with_twin, f" {wanted.id} ") is wanted
    anywhere = data.draw(st.integers(min_value=0, max_value=len(teams)))
    twin_anywhere = [*teams[:anywhere], twin, *teams[anywhere:]]
    for wanted in teams:
        assert match_team(twin_anywhere, wanted.id).id == wanted.id


# --- the law: what the errors suggest, typed back, finds its team ------------------------


def typed_back(entry: str, team: Team) -> tuple[str, str]:
    """What ``entry`` (a suggestion for ``team``) tells the user to type, and what that is."""
    label = team_label(team)
    if entry == label:
        return "label", label
    for kind in ("slug", "id"):
        if entry.startswith(f"{label} ({kind} ") and entry.endswith(")"):
            return kind, entry[len(f"{label} ({kind} ") : -1]
    raise AssertionError(f"{entry!r} names neither a slug nor an id of {team!r}")


def finds(teams: list[Team], query: str) -> Team | None:
    try:
        return match_team(teams, query)
    except (TeamNotFoundError, AmbiguousTeamError):
        return None


def typeable(text: str) -> bool:
    """Whether typing ``text`` back can find anything: shown as it is, not blank."""
    return bool(text.strip()) and shown(text) == text


def first_per_id(teams: list[Team]) -> list[Team]:
    """Each team once, as the first entry with its id, in order."""
    firsts: dict[str, Team] = {}
    for t in teams:
        firsts.setdefault(t.id, t)
    return list(firsts.values())


def listing(teams: list[Team]) -> tuple[str, ...]:
    """Every team as the errors suggest it."""
    with pytest.raises(TeamNotFoundError) as caught:
        match_team(teams, "\n")  # blank: matches nothing
    return caught.value.available


@given(st.lists(team_strategy(), max_size=6))
@example([team("t1", slug="same"), team("t2", slug="SAME")])
@example([team("t1", slug="t2"), team("t2", slug="two"), team("t1", slug="one")])
def test_every_suggestion_typed_back_finds_its_team(teams: list[Team]) -> None:
    distinct = first_per_id(teams)
    entries = listing(teams)
    assert len(entries) == len(distinct)  # each team once, in the order given
    for entry, wanted in zip(entries, distinct, strict=True):
        kind, text = typed_back(entry, wanted)
        slug = wanted.slug.strip()
        if kind == "slug" or (kind == "label" and text == slug):
            found = finds(teams, text)
            assert found is not None
            assert found.id == wanted.id
        else:
            assert text == shown(wanted.id)
            if typeable(wanted.id):
                assert finds(teams, wanted.id) is wanted
        by_slug = finds(teams, slug) if typeable(slug) else None
        if by_slug is not None and by_slug.id == wanted.id:  # the slug works: it is offered
            assert text == slug


@st.composite
def teams_sharing_a_name(draw: st.DrawFn) -> list[Team]:
    """Distinct teams, several of them named alike (case and spaces aside)."""
    found = draw(st.lists(team_strategy(), min_size=2, max_size=6, unique_by=lambda t: t.id))
    names = st.sampled_from(["Research", "research", " RESEARCH ", "Design"])
    return [attrs.evolve(t, name=draw(names)) for t in found]


@given(teams_sharing_a_name())
def test_an_ambiguity_suggests_the_matches_as_the_full_listing_does(teams: list[Team]) -> None:
    matched = expected_level(teams, "research")
    if matched is None or len(matched) < 2:
        assert finds(teams, "research") == (matched[0] if matched else None)
        return
    with pytest.raises(AmbiguousTeamError) as ambiguous:
        match_team(teams, "research")
    by_id = dict(zip([t.id for t in first_per_id(teams)], listing(teams), strict=True))
    assert ambiguous.value.matches == tuple(by_id[t.id] for t in matched)


# --- names are shown safely -------------------------------------------------------------

_UNSHOWABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def shows_safely(text: str) -> bool:
    """One line, with no control or format character a terminal would act on."""
    return not any(unicodedata.category(c) in _UNSHOWABLE for c in text)


hostile_teams = st.builds(
    Team,
    id=st.text(min_size=1, max_size=8),
    name=organization_names(),
    display_name=st.one_of(organization_names(), st.text(max_size=8)),
    slug=st.text(max_size=8),
)


@given(st.lists(hostile_teams, max_size=5), st.data())
def test_match_errors_show_names_safely(teams: list[Team], data: st.DataObject) -> None:
    pool = [t.display_name for t in teams] + [t.name for t in teams] + ["\n\x1b[2J"]
    query = data.draw(st.one_of(st.sampled_from(pool), st.text(max_size=8)))
    error: TeamNotFoundError | AmbiguousTeamError | None = None
    try:
        match_team(teams, query)
    except (TeamNotFoundError, AmbiguousTeamError) as raised:
        error = raised
    if error is not None:
        assert shows_safely(str(error))
        labels = error.available if isinstance(error, TeamNotFoundError) else error.matches
        assert all(shows_safely(label) for label in labels)


def test_a_forged_name_is_not_printed_as_such() -> None:
    forged = Team(id="t1", name="x", display_name="Evil\nBilling: \x1b[31m\u202eok", slug="x")
    with pytest.raises(TeamNotFoundError) as caught:
        match_team([forged], "globex")
    assert caught.value.available == ("Evil\ufffdBilling: \ufffd[31m\ufffdok (slug x)",)
    hostile_id = Team(id="t\x1b[2J", name="", display_name="Acme", slug="\x1b[2J")
    with pytest.raises(TeamNotFoundError) as caught:
        match_team([hostile_id], "globex")
    assert caught.value.available == ("Acme (id t\ufffd[2J)",)


# --- team_to_pin ------------------------------------------------------------------------

PAID_ACME = usage("org-1", "Acme Inc", tier="PRO")
PAID_BETA = usage("org-2", "beta", tier="ENTERPRISE", remaining=0)
FREE_HOME = usage("org-3", "Home")
HOME = team("org-3", name="home", display="Home")


def test_a_paid_team_can_be_pinned_by_any_name() -> None:
    usages = [FREE_HOME, PAID_ACME]
    for query in ("org-1", "acme-corp", "ACME", " acme corp "):
        assert team_to_pin(teams=[ACME, HOME], usages=usages, query=query) is ACME
    # Out of credits is still a paid team: the funds guard, not the pin, refuses it.
    assert team_to_pin(teams=[ACME, BETA], usages=[PAID_BETA], query="beta") is BETA


def test_a_free_tier_team_is_refused_naming_the_paid_teams_alphabetically() -> None:
    usages = [PAID_BETA, FREE_HOME, PAID_ACME, PAID_ACME]
    with pytest.raises(InvalidPinError) as caught:
        team_to_pin(teams=[ACME, BETA, HOME], usages=usages, query="home")
    assert str(caught.value) == (
        "team Home is on the FREE tier and cannot be billed;"
        " paid teams: Acme Corp (slug acme-corp), Beta (slug b)"
    )


def test_the_refusal_lists_what_to_type_for_each_paid_team() -> None:
    # Two paid teams named alike are two entries, told apart by their slugs; a
    # slug a free team shares would not pick the paid one alone: its id.
    acme = team("org-1", name="acme", display="Acme Corp", slug="acme")
    acme_eu = team("org-4", name="acme-eu", display="Acme Corp", slug="acme-eu")
    beta = team("org-2", name="beta", display="Beta", slug="shared")
    home = team("org-3", name="home", display="Home", slug="SHARED")
    usages = [
        usage("org-4", "Acme Corp", tier="PRO"),
        usage("org-2", "Beta", tier="TEAM"),
        usage("org-1", "Acme Corp", tier="PRO"),
        usage("org-3", "Home"),
    ]
    with pytest.raises(InvalidPinError) as caught:
        team_to_pin(teams=[acme, acme_eu, beta, home], usages=usages, query="home")
    assert str(caught.value).endswith(
        "; paid teams: Acme Corp (slug acme), Acme Corp (slug acme-eu), Beta (id org-2)"
    )
    # Each typed back picks its team.
    teams = [acme, acme_eu, beta, home]
    assert [match_team(teams, q) for q in ("acme", "acme-eu", "org-2")] == [acme, acme_eu, beta]


def test_a_paid_team_missing_from_the_teams_is_named_by_its_usage() -> None:
    stranger = usage("org-9", "zed", tier="TEAM")
    nameless = usage("org-8", "", tier="TEAM")
    with pytest.raises(InvalidPinError) as caught:
        team_to_pin(teams=[HOME], usages=[FREE_HOME, stranger, nameless], query="home")
    assert str(caught.value).endswith("; paid teams: org-8, zed")


def test_a_team_without_usage_is_refused() -> None:
    with pytest.raises(InvalidPinError) as caught:
        team_to_pin(teams=[ACME, BETA], usages=[PAID_BETA], query="acme")
    assert str(caught.value) == (
        "team Acme Corp has no billing usage and cannot be billed; paid teams: Beta (slug b)"
    )


def test_the_refusal_says_so_when_there_is_no_paid_team() -> None:
    with pytest.raises(InvalidPinError) as caught:
        team_to_pin(teams=[HOME], usages=[FREE_HOME], query="home")
    assert str(caught.value) == (
        "team Home is on the FREE tier and cannot be billed; you have no paid team"
    )


def test_match_errors_pass_through() -> None:
    with pytest.raises(TeamNotFoundError):
        team_to_pin(teams=[ACME], usages=[PAID_ACME], query="globex")
    twins = [team("t1", name="dup", display="One"), team("t2", name="DUP", display="Two")]
    with pytest.raises(AmbiguousTeamError):
        team_to_pin(teams=twins, usages=[], query="dup")


def organization_label(u: BillingUsage) -> str:
    return shown(u.organization_name if u.organization_name.strip() else u.organization_id)


@st.composite
def teams_and_usages(draw: st.DrawFn) -> tuple[list[Team], list[BillingUsage]]:
    """Distinct teams, and usages for some of them (and for strangers)."""
    teams = draw(st.lists(team_strategy(), min_size=1, max_size=5, unique_by=lambda t: t.id))
    ids = st.sampled_from([t.id for t in teams])
    usages = draw(
        st.lists(
            st.one_of(
                billing_usages(organization_id=ids),
                billing_usages(organization_id=ids, tier=paid_tiers()),
                billing_usages(),
            ),
            max_size=6,
        )
    )
    return teams, usages


@given(teams_and_usages(), st.data())
def test_a_team_is_pinned_iff_billing_reports_it_on_a_paid_tier(
    case: tuple[list[Team], list[BillingUsage]], data: st.DataObject
) -> None:
    teams, usages = case
    wanted = data.draw(st.sampled_from(teams))
    paid = [u for u in usages if u.is_paid]
    try:
        pinned = team_to_pin(teams=iter(teams), usages=iter(usages), query=wanted.id)
    except InvalidPinError as error:
        assert not any(u.organization_id == wanted.id for u in paid)
        message = str(error)
        assert shows_safely(message)
        assert message.startswith(f"team {team_label(wanted)} ")
        # Each paid team once (by id): a listed team as the match errors suggest
        # it, a team the team service does not list by its usage's name, else its id.
        suggested = dict(zip([t.id for t in teams], listing(teams), strict=True))
        labels = {t.id: team_label(t) for t in teams}
        entries = {
            u.organization_id: (labels[u.organization_id], suggested[u.organization_id])
            if u.organization_id in suggested
            else (named := organization_label(u), named)
            for u in reversed(paid)  # reversed: an id's first usage is written last, and stays
        }
        ordered = sorted(entries.values(), key=lambda e: (e[0].casefold(), e[0], e[1]))
        expected = ", ".join(entry for _, entry in ordered)
        assert message.endswith(f"; paid teams: {expected}" if paid else "; you have no paid team")
    else:
        assert pinned == wanted
        assert any(u.organization_id == wanted.id for u in paid)
